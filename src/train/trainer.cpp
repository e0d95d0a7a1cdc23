#include "shrink/train/trainer.hpp"

#include "shrink/core/error.hpp"
#include "shrink/nn/loss.hpp"
#include "shrink/train/evaluator.hpp"
#include "shrink/train/optimizer.hpp"
#include "shrink/train/schedule.hpp"

#include <chrono>
#include <cmath>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Whether sample i's first largest logit is its label (the evaluator's top-1 rule).
int64_t count_correct(const Tensor& logits, const std::vector<int32_t>& labels) {
  const int64_t classes = logits.dim(1);
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = logits.data() + static_cast<int64_t>(i) * classes;
    int64_t best = 0;
    for (int64_t j = 1; j < classes; ++j)
      if (row[j] > row[best]) best = j;
    correct += best == labels[i] && !std::isnan(row[best]);
  }
  return correct;
}

Json schedule_options(const TrainConfig& c) {
  if (c.schedule == "step") return {{"step_size", c.step_size}, {"gamma", c.gamma}};
  if (c.schedule == "cosine") return {{"min_lr", c.min_lr}};
  return Json::object();
}

// Stops training whose loss blows up, not only when it becomes infinite: a loss that jumps far
// above where training stands means the weights took a step too large, and the run that follows
// rarely recovers. Seen on a distilled conv student at lr 0.01 (docs/distillation.md): its loss
// went from a level of about 20 to 8,378 in one batch and 2 × 10^7 in the next, that step killed
// every ReLU of its hidden layer, and the epoch ended finite at 10% accuracy with no error.
// The level is a slow running mean of the batch losses (about the last 100 batches, so a few
// noisy batches barely move it), floored at ln(classes), the loss of a uniform guess, so that a
// loss near 0 does not make an ordinary batch look like a jump. Jumps of 100 times that level are
// far beyond what noise, a pruning step or a newly added term cause.
class DivergenceCheck {
 public:
  static constexpr double kJump = 100.0;

  // classes: the width of the logits.
  void check(double loss, int64_t classes, int epoch, int64_t batch, float lr) {
    const auto where = [&] {
      return " in epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch) +
             "; lower the learning rate (" + message_number(lr) + ")";
    };
    if (!std::isfinite(loss))
      throw Error::bad_input("training diverged: the loss became " + message_number(loss) +
                             where());
    if (!started_) level_ = loss;
    started_ = true;
    const double uniform_guess = std::log(static_cast<double>(std::max<int64_t>(classes, 2)));
    const double reference = std::max(level_, uniform_guess);
    if (loss > kJump * reference)
      throw Error::bad_input("training diverged: the loss jumped to " + message_number(loss) +
                             ", over " + message_number(kJump) + " times its running level (" +
                             message_number(reference) + ")," + where());
    level_ += 0.01 * (loss - level_);
  }

 private:
  bool started_ = false;
  double level_ = 0.0;
};

}  // namespace

// --- TrainConfig ----------------------------------------------------------------------------

void TrainConfig::validate() const {
  require(epochs >= 0, "epochs must be non-negative, got " + std::to_string(epochs));
  require(batch_size > 0, "the batch size must be positive, got " + std::to_string(batch_size));
  require(eval_batch_size > 0,
          "the evaluation batch size must be positive, got " + std::to_string(eval_batch_size));
  require(std::isfinite(lr) && lr >= 0.0f, "the learning rate must be a finite non-negative number, got " +
                                               message_number(lr));
  require(label_smoothing >= 0.0f && label_smoothing <= 1.0f,
          "label smoothing must lie in [0, 1], got " + message_number(label_smoothing));
  require(validation_fraction >= 0.0 && validation_fraction < 1.0,
          "the validation fraction must lie in [0, 1), got " + message_number(validation_fraction));
  // Building them checks the optimizer's and the schedule's own options.
  make_optimizer(optimizer, optimizer_options());
  make_schedule(schedule, lr, std::max(epochs, 1), schedule_options(*this));
}

Json TrainConfig::optimizer_options() const {
  if (optimizer == "sgd")
    return {{"lr", lr}, {"momentum", momentum}, {"weight_decay", weight_decay}, {"nesterov", nesterov}};
  return {{"lr", lr}, {"betas", {beta1, beta2}}, {"eps", eps}, {"weight_decay", weight_decay}};
}

Json TrainConfig::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"drop_last", drop_last},
          {"optimizer", optimizer},
          {"lr", lr},
          {"momentum", momentum},
          {"weight_decay", weight_decay},
          {"nesterov", nesterov},
          {"beta1", beta1},
          {"beta2", beta2},
          {"eps", eps},
          {"schedule", schedule},
          {"step_size", step_size},
          {"gamma", gamma},
          {"min_lr", min_lr},
          {"label_smoothing", label_smoothing},
          {"validation_fraction", validation_fraction},
          {"eval_batch_size", eval_batch_size},
          {"seed", seed}};
}

TrainConfig TrainConfig::from_json(const Json& json) {
  require(json.is_object(), "a training config must be a JSON object, got " + json.dump());
  TrainConfig c;
  const Json defaults = c.to_json();
  for (const auto& item : json.items()) {
    if (defaults.contains(item.key())) continue;
    std::string known;
    for (const auto& d : defaults.items()) known += (known.empty() ? "" : ", ") + d.key();
    throw Error::bad_input("unknown training option \"" + item.key() + "\"; known: " + known);
  }
  try {
    c.epochs = json.value("epochs", c.epochs);
    c.batch_size = json.value("batch_size", c.batch_size);
    c.drop_last = json.value("drop_last", c.drop_last);
    c.optimizer = json.value("optimizer", c.optimizer);
    c.lr = json.value("lr", c.lr);
    c.momentum = json.value("momentum", c.momentum);
    c.weight_decay = json.value("weight_decay", c.weight_decay);
    c.nesterov = json.value("nesterov", c.nesterov);
    c.beta1 = json.value("beta1", c.beta1);
    c.beta2 = json.value("beta2", c.beta2);
    c.eps = json.value("eps", c.eps);
    c.schedule = json.value("schedule", c.schedule);
    c.step_size = json.value("step_size", c.step_size);
    c.gamma = json.value("gamma", c.gamma);
    c.min_lr = json.value("min_lr", c.min_lr);
    c.label_smoothing = json.value("label_smoothing", c.label_smoothing);
    c.validation_fraction = json.value("validation_fraction", c.validation_fraction);
    c.eval_batch_size = json.value("eval_batch_size", c.eval_batch_size);
    c.seed = json.value("seed", c.seed);
  } catch (const Json::exception& e) {
    throw Error::bad_input("bad training config " + json.dump() + " (" + e.what() + ")");
  }
  return c;
}

// --- statistics -----------------------------------------------------------------------------

Json EpochStats::to_json() const {
  Json j = {{"epoch", epoch + 1},  // 1-based, as the log counts
            {"epochs", epochs},
            {"lr", lr},
            {"train_loss", train_loss},
            {"train_accuracy", train_accuracy},
            {"samples", samples},
            {"seconds", seconds},
            {"samples_per_s", samples_per_s}};
  if (has_validation) {
    j["validation_loss"] = validation_loss;
    j["validation_accuracy"] = validation_accuracy;
  }
  if (!term_losses.empty()) j["losses"] = term_losses;
  for (const auto& item : term_reports.items()) j[item.key()] = item.value();
  return j;
}

Json TrainResult::to_json() const {
  Json epochs = Json::array();
  for (const EpochStats& e : history) epochs.push_back(e.to_json());
  return {{"train_samples", train_samples},
          {"validation_samples", validation_samples},
          {"seconds", seconds},
          {"samples_per_s", samples_per_s},
          {"epochs", epochs}};
}

// --- the loop -------------------------------------------------------------------------------

TrainResult train(Model& model, const Dataset& train_data, const TrainConfig& config,
                  const std::function<void(const EpochStats&)>& on_epoch,
                  const std::function<void(int64_t, int64_t)>& on_progress,
                  const TrainingTerms& terms) {
  config.validate();
  require_compatible(model, train_data);
  const auto run_start = Clock::now();

  // Only split when asked, so the common case trains on the caller's dataset without a copy.
  std::pair<Dataset, Dataset> split;
  const Dataset* train_set = &train_data;
  const Dataset* validation_set = nullptr;
  if (config.validation_fraction > 0.0) {
    split = split_validation(train_data, config.validation_fraction, config.seed);
    require(split.first.size() > 0 && split.second.size() > 0,
            "a validation fraction of " + message_number(config.validation_fraction) + " leaves " +
                std::to_string(split.first.size()) + " training and " +
                std::to_string(split.second.size()) + " validation samples of dataset " +
                train_data.name + "; both need at least one");
    train_set = &split.first;
    validation_set = &split.second;
  }

  std::unique_ptr<Optimizer> optimizer = make_optimizer(config.optimizer, config.optimizer_options());
  const LearningRateSchedule schedule =
      make_schedule(config.schedule, config.lr, std::max(config.epochs, 1), schedule_options(config));
  model.set_seed(config.seed);

  BatchSampler sampler(train_set->size(), config.batch_size, /*shuffle=*/true, config.seed,
                       config.drop_last);
  const int64_t samples_per_epoch =
      config.drop_last ? sampler.batches_per_epoch() * config.batch_size : train_set->size();
  require(samples_per_epoch > 0, "dataset " + train_set->name + " has " +
                                     std::to_string(train_set->size()) +
                                     " training samples, fewer than one batch of " +
                                     std::to_string(config.batch_size) + " with drop_last");
  const int64_t samples_total = samples_per_epoch * config.epochs;

  TrainResult result;
  result.train_samples = train_set->size();
  result.validation_samples = validation_set ? validation_set->size() : 0;

  // Reused across batches so the loop allocates nothing once the first batch has run.
  std::vector<int64_t> indices, upcoming;
  std::vector<int32_t> labels;
  Tensor x;
  Tensor grad_logits;
  int64_t done = 0;
  double train_seconds_total = 0.0;

  const int64_t steps_per_epoch = sampler.batches_per_epoch();
  for (const auto& term : terms) {
    require(term != nullptr, "a training term is missing");
    try {
      term->begin(model, config, steps_per_epoch);
    } catch (Error& e) {
      throw e.add_context("training term " + term->name());
    }
  }
  double hard_label_weight = 1.0;
  for (const auto& term : terms) hard_label_weight *= term->hard_label_weight();
  TrainStep step;
  step.epochs = config.epochs;
  step.steps_per_epoch = steps_per_epoch;
  step.total_steps = steps_per_epoch * config.epochs;
  step.input = &x;
  step.labels = &labels;
  ActivationGradients activation_grads;
  DivergenceCheck divergence;

  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    EpochStats stats;
    stats.epoch = epoch;
    stats.epochs = config.epochs;
    stats.lr = schedule.learning_rate(epoch);
    optimizer->set_learning_rate(stats.lr);

    sampler.start_epoch(epoch);
    step.epoch = epoch;
    step.lr = stats.lr;
    std::vector<double> term_loss_sums(terms.size(), 0.0);
    double cross_entropy_sum = 0.0;
    double loss_sum = 0.0;
    int64_t correct = 0;
    int64_t batch_index = 0;
    while (sampler.next(indices)) {
      ++batch_index;
      train_set->gather(indices, x, labels);
      // The next batch's samples load into the cache while this one trains.
      if (sampler.peek(upcoming)) train_set->prefetch(upcoming);
      const int64_t n = static_cast<int64_t>(labels.size());
      for (const auto& term : terms) term->before_forward(model, step);
      const Tensor& logits = model.forward(x, /*training=*/true);
      double loss = cross_entropy(logits, labels, config.label_smoothing, &grad_logits);
      if (hard_label_weight != 1.0) {
        loss *= hard_label_weight;
        grad_logits.flat() *= static_cast<float>(hard_label_weight);
      }
      cross_entropy_sum += loss * static_cast<double>(n);
      activation_grads.clear();
      for (size_t t = 0; t < terms.size(); ++t) {
        const double term_loss =
            terms[t]->add_loss(model, step, logits, grad_logits, activation_grads);
        term_loss_sums[t] += term_loss * static_cast<double>(n);
        loss += term_loss;
      }
      divergence.check(loss, logits.dim(1), epoch, batch_index, stats.lr);
      loss_sum += static_cast<double>(loss) * static_cast<double>(n);
      correct += count_correct(logits, labels);
      // accumulate = false: no zero_grad() pass needed.
      model.backward(grad_logits, /*accumulate=*/false,
                     activation_grads.empty() ? nullptr : &activation_grads);
      for (const auto& term : terms) term->after_backward(model, step);
      optimizer->step(model);
      for (const auto& term : terms) term->after_step(model, step);
      ++step.step;
      stats.samples += n;
      done += n;
      if (on_progress) on_progress(done, samples_total);
    }
    const double train_seconds = seconds_since(epoch_start);
    train_seconds_total += train_seconds;
    stats.train_loss = loss_sum / static_cast<double>(stats.samples);
    stats.train_accuracy = static_cast<double>(correct) / static_cast<double>(stats.samples);
    stats.samples_per_s = train_seconds > 0.0 ? static_cast<double>(stats.samples) / train_seconds : 0.0;
    if (validation_set != nullptr) {
      const Evaluation validation = evaluate(model, *validation_set, config.eval_batch_size);
      stats.has_validation = true;
      stats.validation_loss = validation.loss;
      stats.validation_accuracy = validation.accuracy;
    }
    if (!terms.empty()) {
      const auto mean = [&](double sum) { return sum / static_cast<double>(stats.samples); };
      stats.term_losses["cross_entropy"] = mean(cross_entropy_sum);
      for (size_t t = 0; t < terms.size(); ++t)
        stats.term_losses[terms[t]->name()] += mean(term_loss_sums[t]);
      for (const auto& term : terms) term->end_epoch(model, epoch, stats.term_reports);
    }
    stats.seconds = seconds_since(epoch_start);
    result.history.push_back(stats);
    if (on_epoch) on_epoch(stats);
  }
  result.seconds = seconds_since(run_start);
  result.samples_per_s = train_seconds_total > 0.0 ? static_cast<double>(done) / train_seconds_total : 0.0;
  return result;
}

}  // namespace shrink
