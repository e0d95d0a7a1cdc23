// The structured-pruning criteria. Weight criteria score a producer's output channels from its
// filters (l1, l2: Li et al. 2017; fpgm: He et al. 2019); bn reads the |γ| of the BatchNorms the
// channels pass (Liu et al. 2017); apoz and taylor measure activations on calibration batches
// (Hu et al. 2016; Molchanov et al. 2017). Every score is summed over a unit's channels.
#include "compress/prune/channel_importance.hpp"

#include "shrink/core/error.hpp"
#include "shrink/nn/loss.hpp"

#include <cmath>
#include <functional>
#include <map>

namespace shrink {
namespace {

// The filters of a producer as rows: row c holds every weight that makes output channel c.
RowMatrix filters(const Tensor& weight, int output_axis) {
  const int64_t outer = output_axis == 0 ? 1 : weight.dim(0);
  const int64_t channels = weight.dim(static_cast<size_t>(output_axis));
  const int64_t inner = weight.numel() / (outer * channels);
  RowMatrix rows(channels, outer * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < inner; ++k)
        rows(c, o * inner + k) = weight[(o * channels + c) * inner + k];
  return rows;
}

// Per output channel of one producer's filters.
using FilterScore = std::function<std::vector<double>(const RowMatrix&)>;

std::vector<double> l1_norms(const RowMatrix& f) {
  std::vector<double> s;
  for (int64_t c = 0; c < f.rows(); ++c) s.push_back(f.row(c).cwiseAbs().cast<double>().sum());
  return s;
}

// Squared, so a unit's channels add up to the squared L2 norm of all its filters.
std::vector<double> squared_l2_norms(const RowMatrix& f) {
  std::vector<double> s;
  for (int64_t c = 0; c < f.rows(); ++c) s.push_back(f.row(c).cast<double>().squaredNorm());
  return s;
}

// FPGM: a filter close to the geometric median of its layer is one the others can stand in for.
// Its sum of distances to all filters (what the median minimises) is its score.
std::vector<double> distances_to_others(const RowMatrix& f) {
  std::vector<double> s(static_cast<size_t>(f.rows()), 0.0);
  for (int64_t i = 0; i < f.rows(); ++i)
    for (int64_t j = i + 1; j < f.rows(); ++j) {
      const double d = (f.row(i) - f.row(j)).cast<double>().norm();
      s[static_cast<size_t>(i)] += d;
      s[static_cast<size_t>(j)] += d;
    }
  return s;
}

// Adds each producer channel's score into its unit.
void add_sources(const ChannelDependencies& deps,
                 const std::map<std::string, std::vector<double>>& per_producer, UnitScores& out) {
  for (size_t u = 0; u < deps.units().size(); ++u)
    for (const ChannelSource& source : deps.units()[u].sources) {
      auto it = per_producer.find(source.node);
      if (it == per_producer.end()) continue;
      out.score[u] += it->second[static_cast<size_t>(source.channel)];
      out.scored[u] = 1;
    }
}

std::vector<std::string> producers(const ChannelDependencies& deps) {
  std::vector<std::string> names;
  for (const ChannelGroup& g : deps.groups())
    names.insert(names.end(), g.producers.begin(), g.producers.end());
  return names;
}

void score_filters(const Model& model, const ChannelDependencies& deps, const FilterScore& score,
                   UnitScores& out) {
  std::map<std::string, std::vector<double>> per_producer;
  for (const std::string& node : producers(deps))
    per_producer[node] = score(filters(model.parameter(node + ".weight").value, deps.output_axis(node)));
  add_sources(deps, per_producer, out);
}

// Adds value(c) for every channel c of every node `use` selects into the channel's unit.
void score_nodes(const Model& model, const ChannelDependencies& deps,
                 const std::function<bool(const Node&)>& use,
                 const std::function<double(const Node&, int64_t)>& value, UnitScores& out) {
  for (const Node& node : model.nodes()) {
    if (!use(node)) continue;
    const std::vector<int>& units = deps.channel_units(node.name);
    for (size_t c = 0; c < units.size(); ++c) {
      out.score[static_cast<size_t>(units[c])] += value(node, static_cast<int64_t>(c));
      out.scored[static_cast<size_t>(units[c])] = 1;
    }
  }
}

// The nodes a forward pass computes: those up to the model's output.
std::vector<const Node*> computed_nodes(const Model& model) {
  std::vector<const Node*> list;
  for (const Node& node : model.nodes()) {
    list.push_back(&node);
    if (node.name == model.output_name()) break;
  }
  return list;
}

// Per channel c of a batch-first value: f(sample n, channel c, its elements) summed over samples.
template <class F>
void per_channel(const Tensor& value, F f) {
  const int64_t n = value.dim(0), channels = value.rank() > 1 ? value.dim(1) : 1;
  const int64_t inner = value.numel() / (n * channels);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t c = 0; c < channels; ++c) f(s, c, (s * channels + c) * inner, inner);
}

// APoZ: the share of zeros after each ReLU; a unit's score is one minus its mean share.
void score_apoz(Model& model, const ChannelDependencies& deps, const CalibrationData& calibration,
                UnitScores& out) {
  std::map<std::string, std::pair<std::vector<double>, double>> zeros;  // per ReLU: per channel, count
  const auto nodes = computed_nodes(model);
  for_each_calibration_batch(calibration, [&](const Tensor& x, const std::vector<int32_t>&) {
    model.forward(x, false);
    for (const Node* node : nodes) {
      if (node->op->type() != "ReLU") continue;
      const Tensor& v = model.value(node->name);
      // Named references, not a structured binding: lambdas may capture those only from C++20
      // compilers newer than clang 14.
      auto& entry = zeros[node->name];
      std::vector<double>& counts = entry.first;
      double& total = entry.second;
      counts.resize(static_cast<size_t>(channel_count(node->output_shape)), 0.0);
      per_channel(v, [&](int64_t, int64_t c, int64_t begin, int64_t size) {
        int64_t z = 0;
        for (int64_t i = begin; i < begin + size; ++i) z += v[i] == 0.0f;
        counts[static_cast<size_t>(c)] += static_cast<double>(z);
      });
      total += static_cast<double>(v.numel() / channel_count(node->output_shape));
    }
  });
  std::vector<double> occurrences(out.score.size(), 0.0);
  score_nodes(model, deps, [&](const Node& n) { return zeros.count(n.name) > 0; },
              [&](const Node& n, int64_t c) {
                const auto& [counts, total] = zeros.at(n.name);
                occurrences[static_cast<size_t>(deps.channel_units(n.name)[static_cast<size_t>(c)])] += 1;
                return 1.0 - counts[static_cast<size_t>(c)] / total;
              },
              out);
  for (size_t u = 0; u < out.score.size(); ++u)
    if (occurrences[u] > 0) out.score[u] /= occurrences[u];
}

// Taylor: |Σ over a channel's elements of activation × d loss / d activation| per sample,
// averaged over the calibration samples, at each producer's output.
void score_taylor(Model& model, const ChannelDependencies& deps, const CalibrationData& calibration,
                  UnitScores& out) {
  require(model.output_shape().size() == 1,
          "criterion taylor needs a model that outputs one logit per class, got outputs of shape " +
              to_string(model.output_shape()));
  std::map<std::string, std::vector<double>> per_producer;
  for (const std::string& node : producers(deps))
    per_producer[node].assign(static_cast<size_t>(channel_count(model.node(node).output_shape)), 0.0);
  int64_t samples = 0;
  for_each_calibration_batch(calibration, [&](const Tensor& x, const std::vector<int32_t>& labels) {
    const Tensor& logits = model.forward(x, false);
    Tensor grad;
    cross_entropy(logits, labels, 0.0f, &grad);
    // The mean loss's gradient times the batch size: each sample's own loss gradient.
    grad.flat() *= static_cast<float>(x.dim(0));
    model.backward(grad, false);
    samples += x.dim(0);
    for (auto& producer : per_producer) {
      const auto& node = producer.first;
      auto& sums = producer.second;
      const Tensor* g = nullptr;
      try {
        g = &model.gradient(node);
      } catch (const Error&) {
        continue;  // its channels do not reach the loss
      }
      const Tensor& a = model.value(node);
      per_channel(a, [&](int64_t, int64_t c, int64_t begin, int64_t size) {
        double dot = 0.0;
        for (int64_t i = begin; i < begin + size; ++i) dot += static_cast<double>(a[i]) * (*g)[i];
        sums[static_cast<size_t>(c)] += std::abs(dot);
      });
    }
  });
  for (auto& [node, sums] : per_producer)
    for (double& s : sums) s /= static_cast<double>(std::max<int64_t>(1, samples));
  add_sources(deps, per_producer, out);
}

}  // namespace

void for_each_calibration_batch(const CalibrationData& calibration,
                                const std::function<void(const Tensor&, const std::vector<int32_t>&)>& body) {
  BatchSampler sampler(calibration.data->size(), calibration.batch_size, true, calibration.seed);
  std::vector<int64_t> indices;
  std::vector<int32_t> labels;
  Tensor x;
  for (int64_t b = 0; b < calibration.batches && sampler.next(indices); ++b) {
    calibration.data->gather(indices, x, labels);
    body(x, labels);
  }
}

std::vector<std::string> channel_criteria() { return {"l1", "l2", "fpgm", "bn", "apoz", "taylor"}; }

bool criterion_needs_data(const std::string& criterion) {
  return criterion == "apoz" || criterion == "taylor";
}

UnitScores channel_importance(Model& model, const ChannelDependencies& deps,
                              const std::string& criterion, const CalibrationData& calibration) {
  UnitScores out;
  out.score.assign(deps.units().size(), 0.0);
  out.scored.assign(deps.units().size(), 0);
  if (criterion_needs_data(criterion))
    require(calibration.data != nullptr && calibration.data->size() > 0,
            "criterion " + criterion + " measures activations and needs calibration data (--data)");
  if (criterion == "l1") {
    score_filters(model, deps, l1_norms, out);
  } else if (criterion == "l2") {
    score_filters(model, deps, squared_l2_norms, out);
    for (double& s : out.score) s = std::sqrt(s);
  } else if (criterion == "fpgm") {
    score_filters(model, deps, distances_to_others, out);
  } else if (criterion == "bn") {
    out.unscored_reason = "criterion bn: no BatchNorm follows them";
    score_nodes(model, deps,
                [](const Node& n) { return n.op->type() == "BatchNorm2d" || n.op->type() == "BatchNorm1d"; },
                [&](const Node& n, int64_t c) { return std::abs(model.parameter(n.name + ".weight").value[c]); },
                out);
  } else if (criterion == "apoz") {
    out.unscored_reason = "criterion apoz: no ReLU follows them";
    score_apoz(model, deps, calibration, out);
  } else if (criterion == "taylor") {
    out.unscored_reason = "criterion taylor: they do not reach the loss";
    score_taylor(model, deps, calibration, out);
  } else {
    std::string known;
    for (const auto& c : channel_criteria()) known += (known.empty() ? "" : ", ") + c;
    throw Error::bad_input("unknown criterion '" + criterion + "'; known: " + known);
  }
  return out;
}

}  // namespace shrink
