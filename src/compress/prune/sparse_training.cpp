// set and rigl: sparse training from scratch. The network is sparse from its first step to its
// last, at a fixed sparsity per layer (Erdős–Rényi(-Kernel) or uniform, sparsity_schedules.hpp);
// every `frequency` steps until `end` each layer drops the fraction f_t of its active weights of
// smallest magnitude and grows as many new ones, which start at zero (their optimizer state is
// zero too, as the optimizer keeps none for pruned weights). f_t decays from `alpha` along a
// cosine. The two differ in where weights grow:
//   SET (Mocanu et al., "Scalable training of artificial neural networks with adaptive sparse
//       connectivity inspired by network science", Nature Communications 2018): at random;
//   RigL (Evci et al., "Rigging the Lottery: Making All Tickets Winners", ICML 2020): where the
//       dense gradient of the loss is largest. Training runs dense kernels with masks, so the
//       gradient of every pruned weight is at hand after backward; it is read at update steps
//       only.
#include "compress/prune/scored_pruner.hpp"
#include "compress/prune/sparsity_schedules.hpp"
#include "compress/terms.hpp"
#include "core/json_options.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/trainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace shrink {
namespace {

// The k of `candidates` (indices into `score`) of highest score, ties to the lower index.
std::vector<int64_t> highest(std::vector<int64_t> candidates, const std::vector<float>& score,
                             int64_t k) {
  k = std::clamp<int64_t>(k, 0, static_cast<int64_t>(candidates.size()));
  std::nth_element(candidates.begin(), candidates.begin() + k, candidates.end(),
                   [&](int64_t a, int64_t b) {
                     const float sa = score[static_cast<size_t>(a)], sb = score[static_cast<size_t>(b)];
                     return sa != sb ? sa > sb : a < b;
                   });
  candidates.resize(static_cast<size_t>(k));
  return candidates;
}

std::vector<float> magnitudes(const Tensor& t, float sign = 1.0f) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = sign * std::abs(t[i]);
  return out;
}

class SparseTraining final : public TrainingTerm {
 public:
  enum class Growth { Random, Gradient };

  SparseTraining(std::string name, Growth growth, const nlohmann::json& json)
      : name_(std::move(name)), growth_(growth) {
    const std::string who = "term " + name_;
    JsonOptions options(who, json);
    sparsity_ = options.get<double>("sparsity", 0.9);
    distribution_ = options.get<std::string>("distribution", "erk");
    alpha_ = options.get<double>("alpha", 0.3);
    frequency_ = options.get<int64_t>("frequency", 500);
    if (options.has("end")) end_ = options.get<double>("end", 0.0);
    if (options.has("seed")) seed_ = options.get<uint64_t>("seed", 0);
    init_ = options.get<std::string>("init", "random");
    rescale_ = options.get<bool>("rescale", init_ == "random");
    exclude_ = options.get<std::vector<std::string>>("exclude", {});
    options.finish();
    require(sparsity_ >= 0.0 && sparsity_ < 1.0,
            who + ": sparsity must be in [0, 1), got " + message_number(sparsity_));
    require(distribution_ == "erk" || distribution_ == "er" || distribution_ == "uniform",
            who + ": distribution must be 'erk', 'er' or 'uniform', got '" + distribution_ + "'");
    require(alpha_ > 0.0 && alpha_ <= 1.0,
            who + ": alpha (the first update's fraction) must be in (0, 1], got " +
                message_number(alpha_));
    require(frequency_ >= 1, who + ": frequency (steps between updates) must be >= 1, got " +
                                 std::to_string(frequency_));
    require(!end_ || (std::isfinite(*end_) && *end_ >= 0.0),
            who + ": end (an epoch) must be >= 0, got " + message_number(end_.value_or(0.0)));
    require(init_ == "random" || init_ == "magnitude",
            who + ": init must be 'random' or 'magnitude', got '" + init_ + "'");
  }

  std::string name() const override { return name_; }
  nlohmann::json options() const override {
    nlohmann::json json = {{"sparsity", sparsity_}, {"distribution", distribution_},
                           {"alpha", alpha_},       {"frequency", frequency_},
                           {"init", init_},         {"rescale", rescale_}};
    if (end_) json["end"] = *end_;
    if (seed_) json["seed"] = *seed_;
    if (!exclude_.empty()) json["exclude"] = exclude_;
    return json;
  }

  void begin(Model& model, const TrainConfig& config, int64_t steps_per_epoch) override {
    const std::string who = "term " + name_;
    // Without an end, updates stop after three quarters of the run (RigL's T_end), so the
    // last quarter trains one topology to convergence.
    const double end = end_.value_or(0.75 * config.epochs);
    require(end <= config.epochs,
            who + ": end = " + message_number(end) + " lies past the run's " +
                std::to_string(config.epochs) + " epochs");
    end_step_ = static_cast<int64_t>(std::llround(end * static_cast<double>(steps_per_epoch)));
    // A stream of its own, apart from the model's initialisation under the same seed.
    rng_ = Rng(seed_.value_or(config.seed) ^ 0x5e7a9b1c3d2f4e60ULL);

    weights_ = compressible_weights(model, exclude_);
    require(!weights_.empty(), exclude_.empty()
                                   ? "the model has no Linear or Conv2d weights to train sparse"
                                   : "every compressible weight is excluded; nothing to train sparse");
    std::vector<Shape> shapes;
    for (Parameter* p : weights_) {
      require_finite(*p);
      require(!p->has_mask() || std::find(p->mask.begin(), p->mask.end(), 0.0f) == p->mask.end(),
              who + ": weight " + p->name + " is already pruned; sparse training chooses its "
              "own masks (drop --prune-at-init, or the pruning pass before it)");
      shapes.push_back(p->value.shape());
    }
    const std::vector<double> densities = layer_densities(shapes, sparsity_, distribution_);
    active_.clear();
    for (size_t l = 0; l < weights_.size(); ++l) {
      Parameter& p = *weights_[l];
      const int64_t n = p.value.numel();
      const int64_t keep = std::clamp<int64_t>(
          std::llround(densities[l] * static_cast<double>(n)), std::min<int64_t>(n, 1), n);
      active_.push_back(keep);
      std::vector<int64_t> all(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
      std::vector<int64_t> kept;
      if (init_ == "magnitude") {
        kept = highest(all, magnitudes(p.value), keep);
      } else {
        rng_.shuffle(all);
        kept.assign(all.begin(), all.begin() + keep);
      }
      p.mask = Tensor(p.value.shape(), 0.0f);
      for (int64_t i : kept) p.mask[i] = 1.0f;
      p.apply_mask();
      // The initialisation's variance assumed every input connected; with a fraction d of them,
      // scaling by 1/√d gives each unit's input the dense network's variance again (the
      // sparsity-aware initialisation of Evci et al., "Gradient Flow in Sparse Neural Networks
      // and How Lottery Tickets Win", AAAI 2022).
      if (rescale_ && keep < n)
        p.value.flat() *= static_cast<float>(std::sqrt(static_cast<double>(n) / static_cast<double>(keep)));
    }
    epoch_updates_ = 0;
    epoch_regrown_ = 0;
  }

  // After backward the grads are still dense (the optimizer masks them next), which is what
  // RigL's growth reads.
  void after_backward(Model&, const TrainStep& step) override {
    const int64_t t = step.step;
    if (t == 0 || t % frequency_ != 0 || t >= end_step_) return;
    last_fraction_ = cosine_update_fraction(alpha_, t, end_step_);
    for (size_t l = 0; l < weights_.size(); ++l) update(*weights_[l], active_[l], last_fraction_);
    ++epoch_updates_;
  }

  void end_epoch(Model&, int, nlohmann::json& report) override {
    int64_t zeros = 0, total = 0;
    for (const Parameter* p : weights_) {
      total += p->value.numel();
      zeros += p->value.numel() - p->nonzeros();
    }
    report[name_] = {
        {"sparsity", total > 0 ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0},
        {"updates", epoch_updates_},
        {"regrown", epoch_regrown_},
        {"update_fraction", epoch_updates_ > 0 ? last_fraction_ : 0.0}};
    epoch_updates_ = 0;
    epoch_regrown_ = 0;
  }

 private:
  // Drops the k = round(fraction · active) active weights of smallest magnitude and grows k
  // among the rest (the dropped ones included), at zero.
  void update(Parameter& p, int64_t active, double fraction) {
    const int64_t n = p.value.numel();
    const int64_t k = std::llround(fraction * static_cast<double>(active));
    if (k == 0 || active == n) return;  // nothing to move, or a layer kept dense
    std::vector<int64_t> alive, dead;
    for (int64_t i = 0; i < n; ++i) (p.mask[i] != 0.0f ? alive : dead).push_back(i);
    for (int64_t i : highest(alive, magnitudes(p.value, -1.0f), k)) {
      p.mask[i] = 0.0f;
      dead.push_back(i);
    }
    std::vector<int64_t> grown;
    if (growth_ == Growth::Gradient) {
      require(p.grad.shape() == p.value.shape(),
              "term " + name_ + ": weight " + p.name + " has no gradient to grow by");
      std::sort(dead.begin(), dead.end());  // ties go by position, whatever the drop order
      grown = highest(dead, magnitudes(p.grad), k);
    } else {
      rng_.shuffle(dead);
      grown.assign(dead.begin(), dead.begin() + k);
    }
    for (int64_t i : grown) {
      p.mask[i] = 1.0f;
      p.value[i] = 0.0f;
    }
    p.apply_mask();
    epoch_regrown_ += k;
  }

  std::string name_;
  Growth growth_;
  double sparsity_ = 0.9;
  std::string distribution_ = "erk";
  double alpha_ = 0.3;
  int64_t frequency_ = 500;
  std::optional<double> end_;
  std::optional<uint64_t> seed_;
  std::string init_ = "random";
  bool rescale_ = true;
  std::vector<std::string> exclude_;

  Rng rng_;
  int64_t end_step_ = 0;
  std::vector<Parameter*> weights_;
  std::vector<int64_t> active_;  // per weight: the count of active weights, fixed for the run
  double last_fraction_ = 0.0;
  int64_t epoch_updates_ = 0;
  int64_t epoch_regrown_ = 0;
};

}  // namespace

std::shared_ptr<TrainingTerm> make_sparse_evolutionary_training(const nlohmann::json& options) {
  return std::make_shared<SparseTraining>("set", SparseTraining::Growth::Random, options);
}

std::shared_ptr<TrainingTerm> make_rigged_lottery(const nlohmann::json& options) {
  return std::make_shared<SparseTraining>("rigl", SparseTraining::Growth::Gradient, options);
}

}  // namespace shrink
