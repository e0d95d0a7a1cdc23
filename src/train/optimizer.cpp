#include "shrink/train/optimizer.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"

#include <cmath>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

void require_finite_non_negative(float value, const std::string& what) {
  require(std::isfinite(value) && value >= 0.0f,
          what + " must be a finite non-negative number, got " + std::to_string(value));
}

void require_beta(float value, const std::string& what) {
  require(value >= 0.0f && value < 1.0f, what + " must lie in [0, 1), got " + std::to_string(value));
}

void reject_unknown(const std::string& optimizer, const Json& options,
                    const std::set<std::string>& known) {
  for (const auto& item : options.items()) {
    if (known.count(item.key())) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw Error::bad_input("optimizer " + optimizer + " has no option \"" + item.key() +
                           "\"; it takes: " + list);
  }
}

// Updates are elementwise, so splitting them across threads leaves every bit unchanged; on a
// small model the serial loop would keep the other threads idle once per step.
template <typename Body>
void for_each_element(int64_t n, Body body) {
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (n >= (1 << 14))
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace

Optimizer::Optimizer(float lr) : lr_(lr) { require_finite_non_negative(lr, "the learning rate"); }

void Optimizer::set_learning_rate(float lr) {
  require_finite_non_negative(lr, "the learning rate");
  lr_ = lr;
}

void Optimizer::step(Model& model) { step(model.parameters()); }

void Optimizer::step(const std::vector<Parameter*>& parameters) {
  for (Parameter* p : parameters) {
    bool changed = false;
    // A quantizer's trainable state (TTQ's scales) steps beside its weight, keyed under it.
    if (p->quantized())
      for (Parameter* state : p->quantizer()->state_parameters())
        changed |= step_one(*state, p->name + ":" + state->name);
    changed |= step_one(*p, p->name);
    if (changed) p->mark_changed();
  }
}

bool Optimizer::decays(const std::string& key) {
  for (const std::string suffix : {".step", ":step"})
    if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)
      return false;
  return true;
}

bool Optimizer::step_one(Parameter& p, const std::string& key) {
  if (!p.trainable || p.grad.empty()) return false;
  if (p.grad.shape() != p.value.shape())
    throw Error::internal("parameter " + key + " has a grad of shape " + to_string(p.grad.shape()) +
                          " but a value of shape " + to_string(p.value.shape()));
  if (p.has_mask()) {
    require(p.mask.shape() == p.value.shape(),
            "parameter " + key + " has a mask of shape " + to_string(p.mask.shape()) +
                " but a value of shape " + to_string(p.value.shape()));
    p.grad.flat().array() *= p.mask.flat().array();
  }
  State& state = state_[key];
  if (state.steps > 0 && ((!state.first.empty() && state.first.shape() != p.value.shape()) ||
                          (!state.second.empty() && state.second.shape() != p.value.shape())))
    throw Error::bad_input("parameter " + key + " changed shape since the optimizer's last "
                           "step; call reset_state() after reshaping the model");
  ++state.steps;
  update(p, state, decays(key));
  p.apply_mask();
  // A pruned weight keeps no momentum or moment estimate, so one that sparse training regrows
  // (SET, RigL) starts from a fresh optimizer state as it starts from zero.
  if (p.has_mask())
    for (Tensor* buffer : {&state.first, &state.second})
      if (buffer->numel() == p.value.numel()) buffer->flat().array() *= p.mask.flat().array();
  return true;
}

// --- SGD ----------------------------------------------------------------------------------

Sgd::Sgd(const Options& options) : Optimizer(options.lr), options_(options) {
  require_finite_non_negative(options.momentum, "sgd momentum");
  require_finite_non_negative(options.dampening, "sgd dampening");
  require_finite_non_negative(options.weight_decay, "sgd weight_decay");
  require(!options.nesterov || (options.momentum > 0.0f && options.dampening == 0.0f),
          "sgd nesterov needs a positive momentum and zero dampening");
}

Json Sgd::options() const {
  return {{"lr", learning_rate()},
          {"momentum", options_.momentum},
          {"dampening", options_.dampening},
          {"weight_decay", options_.weight_decay},
          {"nesterov", options_.nesterov}};
}

void Sgd::update(Parameter& parameter, State& state, bool with_decay) {
  const int64_t n = parameter.value.numel();
  float* w = parameter.value.data();
  const float* grad = parameter.grad.data();
  const float lr = learning_rate();
  const float decay = with_decay ? options_.weight_decay : 0.0f;
  const float momentum = options_.momentum;
  if (momentum == 0.0f) {
    for_each_element(n, [=](int64_t i) { w[i] -= lr * (grad[i] + decay * w[i]); });
    return;
  }
  // PyTorch starts the buffer at the first gradient itself, not at momentum * 0 + g * (1 - d).
  const bool first = state.steps == 1;
  if (first) state.first.resize(parameter.value.shape());
  float* buf = state.first.data();
  const float keep = 1.0f - options_.dampening;
  const bool nesterov = options_.nesterov;
  for_each_element(n, [=](int64_t i) {
    const float g = grad[i] + decay * w[i];
    const float b = first ? g : momentum * buf[i] + keep * g;
    buf[i] = b;
    w[i] -= lr * (nesterov ? g + momentum * b : b);
  });
}

// --- Adam / AdamW -------------------------------------------------------------------------

Adam::Adam(const Options& options) : Optimizer(options.lr), options_(options) {
  const std::string who = options.decoupled ? "adamw" : "adam";
  require_beta(options.beta1, who + " beta1");
  require_beta(options.beta2, who + " beta2");
  require_finite_non_negative(options.eps, who + " eps");
  require_finite_non_negative(options.weight_decay, who + " weight_decay");
}

Json Adam::options() const {
  return {{"lr", learning_rate()},
          {"betas", {options_.beta1, options_.beta2}},
          {"eps", options_.eps},
          {"weight_decay", options_.weight_decay}};
}

void Adam::update(Parameter& parameter, State& state, bool with_decay) {
  const int64_t n = parameter.value.numel();
  if (state.steps == 1) {
    state.first = Tensor(parameter.value.shape());
    state.second = Tensor(parameter.value.shape());
  }
  float* w = parameter.value.data();
  const float* grad = parameter.grad.data();
  float* m = state.first.data();
  float* v = state.second.data();
  const float lr = learning_rate();
  const float b1 = options_.beta1;
  const float b2 = options_.beta2;
  const float eps = options_.eps;
  // Bias corrections in double, as PyTorch computes them in Python floats.
  const double t = static_cast<double>(state.steps);
  const float step_size = static_cast<float>(lr / (1.0 - std::pow(double{b1}, t)));
  const float correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(double{b2}, t)));
  const float weight_decay = with_decay ? options_.weight_decay : 0.0f;
  const float l2 = options_.decoupled ? 0.0f : weight_decay;
  const float decay_factor = options_.decoupled ? 1.0f - lr * weight_decay : 1.0f;
  for_each_element(n, [=](int64_t i) {
    const float wi = w[i] * decay_factor;
    const float g = grad[i] + l2 * wi;
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    w[i] = wi - step_size * m[i] / (std::sqrt(v[i]) / correction2_sqrt + eps);
  });
}

// --- registry -------------------------------------------------------------------------------

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, const nlohmann::json& options) {
  const Json opts = options.is_null() ? Json::object() : options;
  require(opts.is_object(), "optimizer " + name + ": options must be a JSON object, got " + opts.dump());
  try {
    if (name == "sgd") {
      reject_unknown(name, opts, {"lr", "momentum", "dampening", "weight_decay", "nesterov"});
      Sgd::Options o;
      o.lr = opts.value("lr", o.lr);
      o.momentum = opts.value("momentum", o.momentum);
      o.dampening = opts.value("dampening", o.dampening);
      o.weight_decay = opts.value("weight_decay", o.weight_decay);
      o.nesterov = opts.value("nesterov", o.nesterov);
      return std::make_unique<Sgd>(o);
    }
    if (name == "adam" || name == "adamw") {
      reject_unknown(name, opts, {"lr", "betas", "eps", "weight_decay"});
      Adam::Options o;
      o.decoupled = name == "adamw";
      if (o.decoupled) o.weight_decay = 1e-2f;
      o.lr = opts.value("lr", o.lr);
      if (opts.contains("betas")) {
        const auto betas = opts["betas"].get<std::vector<float>>();
        require(betas.size() == 2, "optimizer " + name + ": betas must be [beta1, beta2], got " +
                                       opts["betas"].dump());
        o.beta1 = betas[0];
        o.beta2 = betas[1];
      }
      o.eps = opts.value("eps", o.eps);
      o.weight_decay = opts.value("weight_decay", o.weight_decay);
      return std::make_unique<Adam>(o);
    }
  } catch (const Json::exception& e) {
    throw Error::bad_input("optimizer " + name + ": bad options " + opts.dump() + " (" + e.what() + ")");
  }
  throw Error::bad_input("unknown optimizer '" + name + "'; known: sgd, adam, adamw");
}

std::vector<std::string> optimizer_names() { return {"sgd", "adam", "adamw"}; }

}  // namespace shrink
