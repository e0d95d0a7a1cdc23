// prune.channels: removes whole channels — Conv2d filters, Linear rows, and everything that
// reads or follows them — so the model gets physically smaller and faster. The channel
// dependency analysis (nn/channel_dependencies.hpp) says which channels go together; a criterion
// scores each unit; the lowest go, per group (scope "layer") or over all groups at once with each
// group's scores divided by their mean (scope "global"), so layers of different sizes and weight
// scales compete fairly. The removed channels' mean contribution to the layers that read them is
// folded into those layers' biases, and every BatchNorm's running statistics are re-estimated
// for the smaller network (both measured on calibration batches of the training data).
#include "compress/pass_options.hpp"
#include "compress/passes.hpp"
#include "compress/prune/bn_recalibration.hpp"
#include "compress/prune/channel_importance.hpp"
#include "shrink/nn/channel_dependencies.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

// The kept-channel count a group should end with: `target`, at least min_channels, rounded to
// the nearest multiple of round_to (never below round_to), and never more than it has.
int64_t kept_channels(int64_t target, int64_t channels, int64_t min_channels, int64_t round_to) {
  int64_t kept = std::max(target, std::min(channels, min_channels));
  if (round_to > 1) kept = std::max(round_to, (kept + round_to / 2) / round_to * round_to);
  return std::clamp<int64_t>(kept, 1, channels);
}

struct Candidate {
  double score;  // normalised for global ranking
  int group;     // index into the prunable list
  int unit;
};

bool lower(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score < b.score;
  if (a.group != b.group) return a.group < b.group;
  return a.unit < b.unit;
}

class ChannelPruner final : public Pass {
 public:
  explicit ChannelPruner(const Json& json) {
    PassOptions options(name(), json);
    ratio_ = options.get<double>("ratio", 0.5);
    criterion_ = options.get<std::string>("criterion", "l1");
    scope_ = options.get<std::string>("scope", "global");
    min_channels_ = options.get<int64_t>("min_channels", 1);
    round_to_ = options.get<int64_t>("round_to", 1);
    calibration_batches_ = options.get<int64_t>("calibration_batches", 8);
    batch_ = options.get<int64_t>("batch", 128);
    exclude_ = options.get<std::vector<std::string>>("exclude", {});
    compensate_ = options.get<bool>("compensate", true);
    recalibrate_bn_ = options.get<bool>("recalibrate_bn", true);
    options.finish();
    const std::string where = "pass prune.channels: ";
    require(ratio_ >= 0.0 && ratio_ < 1.0,
            where + "ratio must be in [0, 1), the fraction of channels to remove; got " +
                std::to_string(ratio_));
    const auto criteria = channel_criteria();
    require(std::find(criteria.begin(), criteria.end(), criterion_) != criteria.end(),
            where + "unknown criterion '" + criterion_ + "'; known: " + join(criteria));
    require(scope_ == "layer" || scope_ == "global",
            where + "scope must be 'layer' or 'global', got '" + scope_ + "'");
    require(min_channels_ >= 1, where + "min_channels must be at least 1");
    require(round_to_ >= 1, where + "round_to must be at least 1");
    require(calibration_batches_ >= 1 && batch_ >= 1,
            where + "calibration_batches and batch must be at least 1");
  }

  std::string name() const override { return "prune.channels"; }
  Json options() const override {
    return {{"ratio", ratio_},         {"criterion", criterion_}, {"scope", scope_},
            {"min_channels", min_channels_}, {"round_to", round_to_},
            {"calibration_batches", calibration_batches_}, {"batch", batch_},
            {"exclude", exclude_}, {"compensate", compensate_},
            {"recalibrate_bn", recalibrate_bn_}};
  }

 private:
  Json apply(Model& model, PassContext& context) override {
    const ChannelDependencies deps(model);
    check_exclude(deps);
    CalibrationData calibration{context.train, calibration_batches_, batch_, context.finetune.seed};
    const UnitScores scores = channel_importance(model, deps, criterion_, calibration);

    // Which groups can lose channels, and why the others cannot.
    Json untouched = Json::array();
    std::vector<int> prunable;
    for (size_t g = 0; g < deps.groups().size(); ++g) {
      const ChannelGroup& group = deps.groups()[g];
      std::vector<std::string> reasons;
      if (group.removable_units == 0) reasons = group.reasons;
      for (const auto& p : group.producers)
        if (excluded(p)) reasons.push_back("excluded by the 'exclude' option (" + p + ")");
      for (int u : group.units)
        if (deps.units()[static_cast<size_t>(u)].removable() && !scores.scored[static_cast<size_t>(u)]) {
          reasons.push_back(scores.unscored_reason);
          break;
        }
      if (reasons.empty()) {
        prunable.push_back(static_cast<int>(g));
        continue;
      }
      untouched.push_back({{"producers", group.producers},
                           {"channels", group.units.size()},
                           {"reasons", reasons}});
    }
    if (prunable.empty()) {
      std::string why;
      for (const auto& u : untouched)
        why += (why.empty() ? "" : "; ") + u["producers"][0].get<std::string>() + ": " +
               u["reasons"][0].get<std::string>();
      throw Error::bad_input("the model has no channels prune.channels can remove (" + why + ")");
    }

    std::vector<char> removed = choose(deps, scores, prunable);
    Json groups = Json::array();
    int64_t channels_before = 0, channels_after = 0;
    for (int g : prunable) {
      const ChannelGroup& group = deps.groups()[static_cast<size_t>(g)];
      int64_t kept = 0;
      for (int u : group.units) kept += removed[static_cast<size_t>(u)] ? 0 : 1;
      channels_before += static_cast<int64_t>(group.units.size());
      channels_after += kept;
      groups.push_back({{"producers", group.producers},
                        {"consumers", group.consumers},
                        {"followers", group.followers},
                        {"channels_before", group.units.size()},
                        {"channels_after", kept}});
      if (!group.reasons.empty()) groups.back()["kept_because"] = group.reasons;
    }

    // A removed channel's mean (a BatchNorm shift through a ReLU is rarely zero) still reached
    // its consumers; measured on the calibration batches, it goes into their biases.
    ChannelDependencies::InputMeans means;
    Json compensation, recalibration;
    const bool have_data = calibration.data != nullptr && calibration.data->size() > 0;
    if (!have_data && (compensate_ || recalibrate_bn_))
      spdlog::warn("prune.channels: no training data, so the removed channels' mean contribution "
                   "is dropped instead of folded into the next layers' biases, and BatchNorm "
                   "statistics are not re-estimated: expect a large drop before fine-tuning");
    if (!compensate_) {
      compensation = "off (option compensate)";
    } else if (!have_data) {
      compensation = "none: no training data to measure the removed channels' means on";
    } else {
      const std::vector<std::string> consumers = deps.compensable_consumers(model, removed);
      means = mean_inputs(model, consumers, calibration);
      compensation = consumers;
    }

    const int64_t parameters_before = model.parameter_count(), macs_before = model.macs();
    model = deps.remove(model, removed, means);
    // The layers after the cut see inputs of another mean and variance than their BatchNorms
    // were trained on: re-estimate those statistics (EagleEye's adaptive BN).
    if (!recalibrate_bn_)
      recalibration = "off (option recalibrate_bn)";
    else if (!have_data)
      recalibration = "none: no training data to re-estimate BatchNorm statistics on";
    else
      recalibration = recalibrate_batch_norms(model, calibration);
    spdlog::info("prune.channels ({}, {}): {} of {} channels removed in {} groups; MACs {} -> {}",
                 criterion_, scope_, channels_before - channels_after, channels_before,
                 prunable.size(), macs_before, model.macs());
    return {{"channels_before", channels_before},
            {"channels_after", channels_after},
            {"parameters_before", parameters_before},
            {"parameters_after", model.parameter_count()},
            {"macs_before", macs_before},
            {"macs_after", model.macs()},
            {"groups", groups},
            {"untouched", untouched},
            {"compensated", compensation},
            {"recalibrated_bn", recalibration}};
  }

  // A producer is excluded by its node name ("fc3") or its weight's name ("fc3.weight"), as in
  // the weight-pruning passes.
  bool excluded(const std::string& producer) const {
    return std::any_of(exclude_.begin(), exclude_.end(), [&](const std::string& name) {
      return name == producer || name == producer + ".weight";
    });
  }

  void check_exclude(const ChannelDependencies& deps) const {
    std::set<std::string> producers;
    for (const ChannelGroup& g : deps.groups()) producers.insert(g.producers.begin(), g.producers.end());
    for (const auto& name : exclude_)
      require(producers.count(name) || (name.ends_with(".weight") &&
                                        producers.count(name.substr(0, name.size() - 7))),
              "exclude names '" + name + "', which is not a Conv2d or Linear node of the model; "
              "its channel producers are: " + join({producers.begin(), producers.end()}));
  }

  // The units to remove: the lowest-scored removable ones, per group or globally.
  std::vector<char> choose(const ChannelDependencies& deps, const UnitScores& scores,
                           const std::vector<int>& prunable) const {
    std::vector<char> removed(deps.units().size(), 0);
    std::vector<std::vector<Candidate>> by_group(prunable.size());
    std::vector<int64_t> target_kept(prunable.size());
    for (size_t k = 0; k < prunable.size(); ++k) {
      const ChannelGroup& group = deps.groups()[static_cast<size_t>(prunable[k])];
      double mean = 0.0;
      for (int u : group.units) mean += scores.score[static_cast<size_t>(u)];
      mean /= static_cast<double>(group.units.size());
      for (int u : group.units)
        if (deps.units()[static_cast<size_t>(u)].removable())
          by_group[k].push_back({mean > 0.0 ? scores.score[static_cast<size_t>(u)] / mean : 0.0,
                                 static_cast<int>(k), u});
      std::sort(by_group[k].begin(), by_group[k].end(), lower);
      const auto channels = static_cast<int64_t>(group.units.size());
      target_kept[k] = channels - std::llround(ratio_ * static_cast<double>(channels));
    }
    if (scope_ == "global") {
      // One ranking over every group; a group stops giving channels at min_channels.
      std::vector<Candidate> all;
      int64_t total = 0;
      for (size_t k = 0; k < prunable.size(); ++k) {
        all.insert(all.end(), by_group[k].begin(), by_group[k].end());
        total += static_cast<int64_t>(deps.groups()[static_cast<size_t>(prunable[k])].units.size());
        target_kept[k] = static_cast<int64_t>(deps.groups()[static_cast<size_t>(prunable[k])].units.size());
      }
      std::sort(all.begin(), all.end(), lower);
      int64_t to_remove = std::llround(ratio_ * static_cast<double>(total));
      for (const Candidate& c : all) {
        if (to_remove == 0) break;
        if (target_kept[static_cast<size_t>(c.group)] <= min_channels_) continue;
        --target_kept[static_cast<size_t>(c.group)];
        --to_remove;
      }
    }
    for (size_t k = 0; k < prunable.size(); ++k) {
      const auto channels = static_cast<int64_t>(deps.groups()[static_cast<size_t>(prunable[k])].units.size());
      const int64_t kept = kept_channels(target_kept[k], channels, min_channels_, round_to_);
      const int64_t fixed = channels - static_cast<int64_t>(by_group[k].size());
      const int64_t count = std::clamp<int64_t>(channels - std::max(kept, fixed), 0,
                                                static_cast<int64_t>(by_group[k].size()));
      for (int64_t i = 0; i < count; ++i) removed[static_cast<size_t>(by_group[k][static_cast<size_t>(i)].unit)] = 1;
    }
    return removed;
  }

  double ratio_ = 0.5;
  std::string criterion_ = "l1";
  std::string scope_ = "global";
  int64_t min_channels_ = 1;
  int64_t round_to_ = 1;
  int64_t calibration_batches_ = 8;
  int64_t batch_ = 128;
  std::vector<std::string> exclude_;
  bool compensate_ = true;
  bool recalibrate_bn_ = true;
};

}  // namespace

std::unique_ptr<Pass> make_channel_pruner(const nlohmann::json& options) {
  return std::make_unique<ChannelPruner>(options);
}

}  // namespace shrink
