#pragma once
// Which channels of a model must be removed together, and the model with some of them removed.
//
// A channel here is one slice along axis 1 of an activation (the C of [N, C, H, W], the F of
// [N, F]). Removing an output channel of a Conv2d or Linear (a filter, a weight row) removes
// that channel from every value it flows into — through BatchNorm, activations, pools, Dropout
// and the like — and the matching input channels (weight columns) of every Conv2d or Linear that
// reads it; through Flatten, one channel is the H×W columns it became. A residual Add ties the
// channels of its inputs together, Concat lays its inputs' channels side by side, and a
// depthwise convolution carries its input channels through to its outputs. Such a set of
// channels that can only go together is a unit; the units of producers tied together form a
// group (a plain layer, or a whole residual stream). Every structured pass uses this one
// analysis.
//
// Channels the analysis cannot follow stay: those of the model input and output (the class
// logits), and those reaching an op it does not understand or one that mixes channels
// (Softmax over channels, Transpose, grouped convolutions…). Each group says why.
#include "shrink/nn/model.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace shrink {

// The channels of a per-sample shape: its first dimension (1 for one scalar per sample).
int64_t channel_count(const Shape& sample_shape);

// An output channel of a producer: a Conv2d filter, a Linear row.
struct ChannelSource {
  std::string node;
  int64_t channel = 0;
};

// Channels that are removed together.
struct ChannelUnit {
  int group = -1;                      // -1: no producer's channel is in it (the model input…)
  std::vector<ChannelSource> sources;  // the producers' channels it holds
  std::vector<std::string> reasons;    // why it must stay; empty if it can be removed
  bool removable() const { return group >= 0 && reasons.empty(); }
};

// Producers whose channels are tied together, with everything their channels reach.
struct ChannelGroup {
  std::vector<std::string> producers;  // Conv2d / Linear / ConvTranspose2d making the channels
  std::vector<std::string> followers;  // per-channel nodes resized with them (BatchNorm, depthwise
                                       // Conv2d, per-channel constants)
  std::vector<std::string> consumers;  // nodes whose input channels (weight columns) go with them
  std::vector<int> units;              // indices into ChannelDependencies::units()
  std::vector<std::string> reasons;    // why some or all of its channels must stay
  int64_t removable_units = 0;
  // "layer1.0.conv2 + conv1 + …": the producers, for reports.
  std::string label() const;
};

class ChannelDependencies {
 public:
  explicit ChannelDependencies(const Model& model);

  const std::vector<ChannelGroup>& groups() const { return groups_; }
  const std::vector<ChannelUnit>& units() const { return units_; }
  // The unit of each channel (axis 1) of a node's output or of the model input.
  const std::vector<int>& channel_units(const std::string& value) const;

  // The mean over calibration samples of a consumer's input (its per-sample shape), by the
  // consumer's node name.
  using InputMeans = std::map<std::string, Tensor>;

  // The consumers (Conv2d with groups 1, Linear over one feature axis) that would lose input
  // channels to `removed` and whose loss remove() can fold into a bias: the nodes whose input
  // means compensation needs.
  std::vector<std::string> compensable_consumers(const Model& model, const std::vector<char>& removed) const;

  // The model with the units marked in `removed` (one flag per unit) taken out: smaller weights
  // and attributes, the same graph, metadata and masks (sliced alike). `model` must be the one
  // analysed. Removing a unit that is not removable, or every channel of a value, is an error.
  // A removed channel is not silent in the original: a BatchNorm shift, a bias or a ReLU keeps
  // it near its mean. For every consumer named in `input_means`, the removed channels' mean
  // contribution (weights × that mean) is folded into the consumer's bias — or, when it has
  // none, into the running mean of the BatchNorm that alone reads it, or a new bias — so every
  // output keeps its mean over the calibration samples (exactly, output by output, where the
  // removed channels are constant and no kernel tap reaches zero padding).
  Model remove(const Model& model, const std::vector<char>& removed,
               const InputMeans& input_means = {}) const;

  // How a node's parameters follow the channels (used by remove(); public for tests and passes
  // that want to know which nodes a group resizes).
  enum class Role {
    kOther,            // no parameter depends on the channels it sees
    kProducer,         // makes new channels from its input channels (Conv2d, Linear, ConvTranspose2d)
    kDepthwise,        // Conv2d with one group per input channel
    kPerChannel,       // one parameter entry per channel (BatchNorm)
    kChannelConstant,  // a broadcast op whose constant has one entry per channel
    kReshape,          // Reshape, whose target shape may name the channel count
  };
  Role role(const std::string& node) const;
  // For a kProducer node: the axis of its weight that holds the output channels (0 for Conv2d
  // and Linear, 1 for ConvTranspose2d).
  int output_axis(const std::string& producer) const;

 private:
  struct NodeInfo {
    Role role = Role::kOther;
    int out_axis = 0;  // kProducer: the weight axis of the output channels
    int in_axis = 1;   // kProducer: the weight axis of the input channels
    int constant_axis = 0;  // kChannelConstant: the constant's axis that follows the channels
  };
  class Builder;
  const NodeInfo& info(const std::string& node) const;

  std::string input_name_;
  std::vector<std::string> node_names_;
  std::vector<NodeInfo> info_;                  // per node
  std::vector<std::vector<int>> node_units_;    // per node, per output channel
  std::vector<int> input_units_;                // per channel of the model input
  std::vector<ChannelUnit> units_;
  std::vector<ChannelGroup> groups_;
};

}  // namespace shrink
