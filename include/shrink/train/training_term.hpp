#pragma once
// A term of the training objective beyond the hard-label cross-entropy — a distillation loss, a
// regulariser — or a rule that acts on the model at fixed points of the loop (a pruning
// schedule, sparse training's drop-and-regrow). train() calls every term at each hook in list
// order; a term overrides only the hooks it needs.
//
// One step of the loop, with the hooks in order:
//   before_forward → forward → add_loss (each term) → backward → after_backward → optimizer step
//   → after_step; and end_epoch after each epoch's last step.
#include "shrink/core/tensor.hpp"
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace shrink {

struct TrainConfig;

// Where the loop is, for the hooks.
struct TrainStep {
  int epoch = 0;                 // 0-based
  int epochs = 0;                // of the run
  int64_t step = 0;              // 0-based optimizer step over the whole run
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  float lr = 0.0f;               // this epoch's learning rate
  const Tensor* input = nullptr;                 // the batch, as the model saw it
  const std::vector<int32_t>* labels = nullptr;  // its labels
};

// Adds `gradient` (the node's activation shape, batch included) into grads[node].
void add_activation_gradient(ActivationGradients& grads, const std::string& node,
                             const Tensor& gradient);

class TrainingTerm {
 public:
  virtual ~TrainingTerm() = default;

  // Short name for reports and logs: "kd", "bn_l1", "agp".
  virtual std::string name() const = 0;
  // The options that rebuild this term (for reports and recipes).
  virtual nlohmann::json options() const { return nlohmann::json::object(); }

  // Before the first step: check the model (named nodes exist, shapes agree) and set up state.
  // Throws a bad-input Error when the term cannot apply to this model.
  virtual void begin(Model& model, const TrainConfig& config, int64_t steps_per_epoch) {
    (void)model, (void)config, (void)steps_per_epoch;
  }
  // Before the batch's forward pass (masks that a schedule changes, teachers' outputs).
  virtual void before_forward(Model& model, const TrainStep& step) { (void)model, (void)step; }
  // After the forward pass (activations readable through model.value(node)): returns this
  // term's contribution to the batch's mean loss, already weighted, and adds its gradient into
  // grad_logits (the logits' shape) and/or into activation_grads. Terms that are not losses
  // return 0 and add nothing.
  virtual double add_loss(Model& model, const TrainStep& step, const Tensor& logits,
                          Tensor& grad_logits, ActivationGradients& activation_grads) {
    (void)model, (void)step, (void)logits, (void)grad_logits, (void)activation_grads;
    return 0.0;
  }
  // The weight of the hard-label cross-entropy this term asks for (KD mixes it by 1 - alpha).
  // The loop multiplies the weights of all its terms.
  virtual double hard_label_weight() const { return 1.0; }
  // After backward, before the optimizer step: regularisers add into parameter grads, and the
  // grads of masked weights are still dense here (RigL reads them).
  virtual void after_backward(Model& model, const TrainStep& step) { (void)model, (void)step; }
  // After the optimizer step.
  virtual void after_step(Model& model, const TrainStep& step) { (void)model, (void)step; }
  // After the epoch's last step; `report` is the epoch's JSON entry, to add fields to.
  virtual void end_epoch(Model& model, int epoch, nlohmann::json& report) {
    (void)model, (void)epoch, (void)report;
  }
};

using TrainingTerms = std::vector<std::shared_ptr<TrainingTerm>>;

}  // namespace shrink
