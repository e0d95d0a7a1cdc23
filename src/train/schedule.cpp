#include "shrink/train/schedule.hpp"

#include "shrink/core/error.hpp"

#include <cmath>
#include <numbers>
#include <set>

namespace shrink {
namespace {

void require_rate(float lr, const std::string& what) {
  require(std::isfinite(lr) && lr >= 0.0f,
          what + " must be a finite non-negative number, got " + std::to_string(lr));
}

}  // namespace

LearningRateSchedule LearningRateSchedule::constant(float base_lr) {
  require_rate(base_lr, "the learning rate");
  return {Kind::Constant, base_lr};
}

LearningRateSchedule LearningRateSchedule::step(float base_lr, int step_size, float gamma) {
  require_rate(base_lr, "the learning rate");
  require(step_size > 0, "the step schedule's step_size must be a positive number of epochs, got " +
                             std::to_string(step_size));
  require(std::isfinite(gamma) && gamma > 0.0f,
          "the step schedule's gamma must be positive, got " + std::to_string(gamma));
  LearningRateSchedule s(Kind::Step, base_lr);
  s.step_size_ = step_size;
  s.gamma_ = gamma;
  return s;
}

LearningRateSchedule LearningRateSchedule::cosine(float base_lr, int total_epochs, float min_lr) {
  require_rate(base_lr, "the learning rate");
  require_rate(min_lr, "the cosine schedule's min_lr");
  require(total_epochs > 0, "the cosine schedule needs a positive number of epochs, got " +
                                std::to_string(total_epochs));
  LearningRateSchedule s(Kind::Cosine, base_lr);
  s.total_epochs_ = total_epochs;
  s.min_lr_ = min_lr;
  return s;
}

float LearningRateSchedule::learning_rate(int epoch) const {
  require(epoch >= 0, "a schedule's epoch must be non-negative, got " + std::to_string(epoch));
  switch (kind_) {
    case Kind::Constant:
      return base_lr_;
    case Kind::Step:
      return static_cast<float>(base_lr_ * std::pow(double{gamma_}, epoch / step_size_));
    case Kind::Cosine: {
      const double phase = std::numbers::pi * epoch / total_epochs_;
      return static_cast<float>(min_lr_ + (double{base_lr_} - min_lr_) * (1.0 + std::cos(phase)) / 2.0);
    }
  }
  throw Error::internal("unknown schedule kind");
}

std::string LearningRateSchedule::name() const {
  switch (kind_) {
    case Kind::Constant: return "constant";
    case Kind::Step: return "step";
    case Kind::Cosine: return "cosine";
  }
  return "unknown";
}

nlohmann::json LearningRateSchedule::to_json() const {
  nlohmann::json j = {{"name", name()}, {"lr", base_lr_}};
  if (kind_ == Kind::Step) {
    j["step_size"] = step_size_;
    j["gamma"] = gamma_;
  } else if (kind_ == Kind::Cosine) {
    j["total_epochs"] = total_epochs_;
    j["min_lr"] = min_lr_;
  }
  return j;
}

LearningRateSchedule make_schedule(const std::string& name, float base_lr, int total_epochs,
                                   const nlohmann::json& options) {
  const nlohmann::json opts = options.is_null() ? nlohmann::json::object() : options;
  require(opts.is_object(), "schedule options must be a JSON object, got " + opts.dump());
  auto only = [&](const std::set<std::string>& known) {
    for (const auto& item : opts.items()) {
      if (known.count(item.key())) continue;
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error::bad_input("schedule " + name + " has no option \"" + item.key() + "\"" +
                             (list.empty() ? " (it takes none)" : "; it takes: " + list));
    }
  };
  try {
    if (name.empty() || name == "constant") {
      only({});
      return LearningRateSchedule::constant(base_lr);
    }
    if (name == "step") {
      only({"step_size", "gamma"});
      return LearningRateSchedule::step(base_lr, opts.value("step_size", 10), opts.value("gamma", 0.1f));
    }
    if (name == "cosine") {
      only({"min_lr"});
      return LearningRateSchedule::cosine(base_lr, total_epochs, opts.value("min_lr", 0.0f));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error::bad_input("schedule " + name + ": bad options " + opts.dump() + " (" + e.what() + ")");
  }
  throw Error::bad_input("unknown schedule '" + name + "'; known: constant, step, cosine");
}

std::vector<std::string> schedule_names() { return {"constant", "step", "cosine"}; }

}  // namespace shrink
