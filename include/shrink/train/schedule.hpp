#pragma once
// Learning-rate schedules, evaluated once per epoch (the lr is constant within an epoch), in
// PyTorch's closed forms so the same settings give the same rates.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink {

class LearningRateSchedule {
 public:
  enum class Kind { Constant, Step, Cosine };

  // lr in every epoch.
  static LearningRateSchedule constant(float base_lr);
  // torch.optim.lr_scheduler.StepLR: base_lr * gamma^floor(epoch / step_size).
  static LearningRateSchedule step(float base_lr, int step_size, float gamma);
  // torch.optim.lr_scheduler.CosineAnnealingLR with T_max = total_epochs, stepped per epoch:
  // min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2. Epoch 0 runs at
  // base_lr; the last epoch runs just above min_lr (min_lr itself would be epoch total_epochs).
  static LearningRateSchedule cosine(float base_lr, int total_epochs, float min_lr = 0.0f);

  // The rate for 0-based `epoch`.
  float learning_rate(int epoch) const;
  Kind kind() const { return kind_; }
  std::string name() const;  // "constant", "step", "cosine"
  nlohmann::json to_json() const;

 private:
  LearningRateSchedule(Kind kind, float base_lr) : kind_(kind), base_lr_(base_lr) {}

  Kind kind_;
  float base_lr_;
  int step_size_ = 1;
  float gamma_ = 1.0f;
  int total_epochs_ = 1;
  float min_lr_ = 0.0f;
};

// Builds a schedule by name ("constant", "step", "cosine"; "" means constant) with options
// {"step_size": epochs, "gamma": g} for step (defaults 10 and 0.1, as StepLR's gamma) and
// {"min_lr": lr} for cosine (default 0), over a run of `total_epochs`. Unknown names and
// options are errors listing the known ones.
LearningRateSchedule make_schedule(const std::string& name, float base_lr, int total_epochs,
                                   const nlohmann::json& options = nlohmann::json::object());
std::vector<std::string> schedule_names();

}  // namespace shrink
