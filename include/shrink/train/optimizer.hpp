#pragma once
// First-order optimizers with PyTorch's update rules (torch.optim.SGD, Adam, AdamW; defaults
// foreach=False, maximize=False, amsgrad=False), so a schedule tuned there carries over.
#include "shrink/nn/model.hpp"
#include "shrink/nn/parameter.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace shrink {

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  virtual std::string name() const = 0;  // "sgd"
  // The options that rebuild this optimizer through make_optimizer(name(), options()).
  virtual nlohmann::json options() const = 0;

  // One update of every trainable parameter from its accumulated grad (zeroing the grads is the
  // caller's job: Model::zero_grad). Parameters without a grad are skipped, like PyTorch's
  // grad=None. A masked parameter's grad is multiplied by its mask first and its value re-masked
  // afterwards, so pruned weights stay exactly zero whatever the momentum or weight decay, and
  // their optimizer state is zeroed (a weight that sparse training regrows starts afresh). A
  // quantized parameter's latent weight is updated (its grad is already d loss / d latent), and
  // so is its quantizer's trainable state. Weight decay applies to every trainable parameter
  // but learned quantization steps (LSQ: a parameter or quantizer state named "step"), which
  // decay would pull towards zero, i.e. towards clipping everything.
  static bool decays(const std::string& key);
  void step(Model& model);
  void step(const std::vector<Parameter*>& parameters);

  float learning_rate() const { return lr_; }
  void set_learning_rate(float lr);
  // Forgets momentum and moment estimates (e.g. before fine-tuning a pruned model afresh).
  void reset_state() { state_.clear(); }

 protected:
  explicit Optimizer(float lr);

  // Per-parameter state, keyed by the parameter's name so it follows the parameter across
  // model clones. `steps` counts this parameter's updates (PyTorch's state["step"]).
  struct State {
    int64_t steps = 0;
    Tensor first;   // SGD momentum buffer / Adam exp_avg
    Tensor second;  // Adam exp_avg_sq
  };

 private:
  // Updates parameter.value from parameter.grad (already masked), with weight decay unless
  // `decay` is false; state.steps was incremented.
  virtual void update(Parameter& parameter, State& state, bool decay) = 0;
  // Steps one parameter with the state under `key`; false when it has nothing to step.
  bool step_one(Parameter& parameter, const std::string& key);

  float lr_;
  std::map<std::string, State> state_;
};

// torch.optim.SGD: g = grad + weight_decay * w; with momentum, buf = g on the first step and
// buf = momentum * buf + (1 - dampening) * g after; g = g + momentum * buf (nesterov) or buf;
// w -= lr * g.
class Sgd final : public Optimizer {
 public:
  struct Options {
    float lr = 1e-3f;
    float momentum = 0.0f;
    float dampening = 0.0f;
    float weight_decay = 0.0f;
    bool nesterov = false;
  };
  explicit Sgd(const Options& options);
  std::string name() const override { return "sgd"; }
  nlohmann::json options() const override;

 private:
  void update(Parameter& parameter, State& state, bool decay) override;
  Options options_;
};

// torch.optim.Adam (L2 weight decay added to the gradient) and, with decoupled = true,
// torch.optim.AdamW (w *= 1 - lr * weight_decay before the Adam step). With t the step count,
// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
class Adam final : public Optimizer {
 public:
  struct Options {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;
    bool decoupled = false;  // true = AdamW
  };
  explicit Adam(const Options& options);
  std::string name() const override { return options_.decoupled ? "adamw" : "adam"; }
  nlohmann::json options() const override;

 private:
  void update(Parameter& parameter, State& state, bool decay) override;
  Options options_;
};

// Builds "sgd", "adam" or "adamw" from JSON options: lr, weight_decay, and momentum, dampening,
// nesterov (sgd) or betas [b1, b2], eps (adam, adamw). Defaults are PyTorch's (lr 1e-3;
// AdamW weight_decay 1e-2). Unknown names and options are errors that list the known ones.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                          const nlohmann::json& options = nlohmann::json::object());
std::vector<std::string> optimizer_names();

}  // namespace shrink
