#include "shrink/nn/curvature.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace shrink {
namespace {

enum class Rule { Product, Elementwise, Routing, Averaging };

// One line per op type the second-order pass goes through (see curvature.hpp for the rules).
const std::pair<const char*, Rule> kRules[] = {
    {"Linear", Rule::Product},         {"Conv2d", Rule::Product},
    {"ConvTranspose2d", Rule::Product}, {"MatMul", Rule::Product},
    {"Mul", Rule::Product},            {"Div", Rule::Product},
    {"Add", Rule::Product},            {"Sub", Rule::Product},
    {"BroadcastAdd", Rule::Product},   {"ReLU", Rule::Elementwise},
    {"LeakyReLU", Rule::Elementwise},  {"Sigmoid", Rule::Elementwise},
    {"Tanh", Rule::Elementwise},       {"Hardsigmoid", Rule::Elementwise},
    {"Hardswish", Rule::Elementwise},  {"Clip", Rule::Elementwise},
    {"Identity", Rule::Elementwise},   {"Dropout", Rule::Elementwise},
    {"BatchNorm1d", Rule::Elementwise}, {"BatchNorm2d", Rule::Elementwise},
    {"MaxPool2d", Rule::Routing},      {"GlobalMaxPool", Rule::Routing},
    {"Flatten", Rule::Routing},        {"Reshape", Rule::Routing},
    {"Transpose", Rule::Routing},      {"Squeeze", Rule::Routing},
    {"Unsqueeze", Rule::Routing},      {"Concat", Rule::Routing},
    {"AvgPool2d", Rule::Averaging},    {"GlobalAvgPool", Rule::Averaging},
};

const Rule* find_rule(const std::string& type) {
  for (const auto& [name, rule] : kRules)
    if (type == name) return &rule;
  return nullptr;
}

// The ops whose parameters get a curvature: the products with weights.
bool has_weight_curvature(const std::string& type) {
  return type == "Linear" || type == "Conv2d" || type == "ConvTranspose2d" || type == "MatMul";
}

Tensor squared(const Tensor& t) {
  Tensor s = t;
  s.flat() = s.flat().cwiseAbs2();
  return s;
}

// The factor 1/K of an averaging op: the window's area, or the plane's for a global pool.
float averaging_coefficient(const Op& op, const Tensor& input, const Tensor& output) {
  if (op.type() == "GlobalAvgPool")
    return static_cast<float>(output.numel()) / static_cast<float>(input.numel());
  const nlohmann::json kernel = op.attributes().at("kernel_size");
  const double area = kernel.is_array() ? kernel[0].get<double>() * kernel[1].get<double>()
                                        : kernel.get<double>() * kernel.get<double>();
  return static_cast<float>(1.0 / area);
}

}  // namespace

bool has_curvature_rule(const std::string& op_type) { return find_rule(op_type) != nullptr; }

void curvature_backward(Op& op, const OpArgs& args, const Tensor& output, const Tensor& d2y,
                        const std::vector<Tensor*>& d2x,
                        const std::vector<Tensor*>& param_curvature) {
  const Rule* rule = find_rule(op.type());
  if (rule == nullptr) {
    std::string known;
    for (const auto& entry : kRules) known += (known.empty() ? "" : ", ") + std::string(entry.first);
    throw Error::bad_input(op.type() + " has no second-order rule (its Jacobian is not diagonal "
                           "or not supported); ops with one: " + known);
  }
  // The op runs on copies of its parameters, so the model's weights and grads stay untouched;
  // a product op sees its weights squared, and its parameter "gradients" are the curvature.
  const bool product = *rule == Rule::Product;
  std::vector<Parameter> copies(args.params.size());
  OpArgs call = args;
  call.training = false;
  call.overwrite_grads = false;
  for (size_t j = 0; j < args.params.size(); ++j) {
    const Parameter& p = *args.params[j];
    copies[j].name = p.name;
    copies[j].value = product ? squared(p.value) : p.value;
    copies[j].grad = Tensor(p.value.shape());
    copies[j].trainable = p.trainable && product && j < param_curvature.size() &&
                          param_curvature[j] != nullptr;
    call.params[j] = &copies[j];
  }
  std::vector<Tensor> squared_inputs;
  if (product) {
    squared_inputs.reserve(args.inputs.size());
    for (const Tensor* x : args.inputs) squared_inputs.push_back(squared(*x));
    for (size_t i = 0; i < args.inputs.size(); ++i) call.inputs[i] = &squared_inputs[i];
  }

  switch (*rule) {
    case Rule::Product:
    case Rule::Routing:
      op.backward(call, output, d2y, d2x);
      break;
    case Rule::Elementwise: {
      // f'(x)² d2y: the first pass gives f'(x) d2y, which the second multiplies by f'(x) again.
      Tensor once;
      op.backward(call, output, d2y, {&once});
      for (Tensor* target : d2x)
        if (target != nullptr) op.backward(call, output, once, {target});
      break;
    }
    case Rule::Averaging: {
      Tensor scaled = d2y;
      scaled.flat() *= averaging_coefficient(op, *args.inputs.at(0), output);
      op.backward(call, output, scaled, d2x);
      break;
    }
  }
  // Products of an input with a negative coefficient (Sub, Div) come back negated.
  if (product)
    for (Tensor* target : d2x)
      if (target != nullptr) target->flat() = target->flat().cwiseAbs();
  for (size_t j = 0; j < copies.size() && j < param_curvature.size(); ++j)
    if (param_curvature[j] != nullptr && copies[j].trainable)
      param_curvature[j]->flat() += copies[j].grad.flat().cwiseAbs();
}

void accumulate_curvature(Model& model, const Tensor& input, const Tensor& d2_output,
                          std::map<std::string, Tensor>& curvature) {
  const std::vector<Node>& nodes = model.nodes();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i].name] = i;
  const size_t out = index.at(model.output_name());
  require(d2_output.shape() == model.value(model.output_name()).shape(),
          "the output curvature has shape " + to_string(d2_output.shape()) +
              " but the output has shape " +
              to_string(model.value(model.output_name()).shape()));

  std::vector<Tensor> d2(out + 1);
  std::vector<char> has(out + 1, 0);
  d2[out] = d2_output;
  has[out] = 1;
  for (size_t i = out + 1; i-- > 0;) {
    if (!has[i]) continue;
    const Node& node = nodes[i];
    OpArgs args;
    for (const auto& name : node.inputs)
      args.inputs.push_back(name == model.input_name() ? &input : &model.value(name));
    std::vector<Tensor*> param_curvature;
    for (const auto& name : node.parameters) {
      Parameter& p = model.parameter(name);
      args.params.push_back(&p);
      Tensor* target = nullptr;
      if (has_weight_curvature(node.op->type()) && p.trainable && name == node.name + ".weight") {
        auto [it, inserted] = curvature.try_emplace(name, p.value.shape());
        require(it->second.shape() == p.value.shape(),
                "the curvature of " + name + " has the wrong shape");
        target = &it->second;
      }
      param_curvature.push_back(target);
    }
    // Values computed from the model input alone need no curvature, nor does the input.
    std::vector<Tensor> incoming(node.inputs.size());
    std::vector<Tensor*> d2x(node.inputs.size(), nullptr);
    for (size_t j = 0; j < node.inputs.size(); ++j)
      if (node.inputs[j] != model.input_name()) d2x[j] = &incoming[j];
    try {
      curvature_backward(*node.op, args, model.value(node.name), d2[i], d2x, param_curvature);
    } catch (Error& e) {
      throw e.add_context("second-order pass: node " + node.name + " (" + node.op->type() + ")");
    }
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      if (d2x[j] == nullptr) continue;
      const size_t producer = index.at(node.inputs[j]);
      if (has[producer]) {
        d2[producer].flat() += incoming[j].flat();
      } else {
        d2[producer] = std::move(incoming[j]);
        has[producer] = 1;
      }
    }
  }
}

Tensor cross_entropy_curvature(const Tensor& logits) {
  require(logits.rank() == 2 && logits.dim(0) > 0,
          "cross-entropy curvature needs logits [N, K], got " + to_string(logits.shape()));
  const int64_t n = logits.dim(0), k = logits.dim(1);
  Tensor h(logits.shape());
  for (int64_t r = 0; r < n; ++r) {
    const float* z = logits.data() + r * k;
    const double top = *std::max_element(z, z + k);
    double sum = 0.0;
    for (int64_t c = 0; c < k; ++c) sum += std::exp(z[c] - top);
    for (int64_t c = 0; c < k; ++c) {
      const double p = std::exp(z[c] - top) / sum;
      h[r * k + c] = static_cast<float>(p * (1.0 - p) / static_cast<double>(n));
    }
  }
  return h;
}

CurvatureCheckResult check_op_curvature(Op& op, std::vector<Tensor> inputs,
                                        std::vector<Parameter> params, double epsilon,
                                        uint64_t seed) {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  const Shape out_shape = op.output_shape(shapes);
  Rng rng(seed);
  Tensor weights(out_shape);  // c_k > 0
  for (float& v : weights) v = rng.uniform(0.1f, 1.0f);

  OpArgs args;
  for (const auto& t : inputs) args.inputs.push_back(&t);
  for (auto& p : params) {
    p.grad = Tensor(p.value.shape());
    args.params.push_back(&p);
  }
  auto run = [&]() {
    Tensor out(out_shape);
    op.forward(args, out);
    return out;
  };
  const Tensor output = run();
  std::vector<Tensor> d2x(inputs.size());
  std::vector<Tensor*> d2x_pointers;
  for (auto& t : d2x) d2x_pointers.push_back(&t);
  std::vector<Tensor> h;
  for (const auto& p : params) h.emplace_back(p.value.shape());
  std::vector<Tensor*> h_pointers;
  for (auto& t : h) h_pointers.push_back(&t);
  curvature_backward(op, args, output, weights, d2x_pointers, h_pointers);

  CurvatureCheckResult result;
  // Σ_k c_k (∂y_k/∂v_i)² by central differences, against the rule's value.
  auto check = [&](Tensor& v, const Tensor& rule, const std::string& label) {
    for (int64_t i = 0; i < v.numel(); ++i) {
      const float saved = v[i];
      v[i] = static_cast<float>(saved + epsilon);
      const Tensor plus = run();
      v[i] = static_cast<float>(saved - epsilon);
      const Tensor minus = run();
      v[i] = saved;
      double numeric = 0.0;
      for (int64_t k = 0; k < plus.numel(); ++k) {
        const double slope = (static_cast<double>(plus[k]) - minus[k]) / (2.0 * epsilon);
        numeric += weights[k] * slope * slope;
      }
      const double value = rule[i];
      const double error =
          std::abs(value - numeric) / std::max({1e-2, std::abs(value), std::abs(numeric)});
      if (error > result.max_error) {
        result.max_error = error;
        result.worst = label + "[" + std::to_string(i) + "]: rule " + std::to_string(value) +
                       ", numeric " + std::to_string(numeric);
      }
    }
  };
  for (size_t i = 0; i < inputs.size(); ++i)
    check(inputs[i], d2x[i], op.type() + " input " + std::to_string(i));
  for (size_t j = 0; j < params.size(); ++j)
    if (params[j].trainable && has_weight_curvature(op.type()))
      check(params[j].value, h[j], op.type() + " " + params[j].name);
  return result;
}

}  // namespace shrink
