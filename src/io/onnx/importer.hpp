#pragma once
// The ONNX importer's core, shared by the operator importers (src/io/onnx/*_importer.cpp).
//
// Every ONNX tensor is either a constant (initializers, Constant nodes, folded subgraphs; see
// fold.cpp) or a batch-first activation produced by a shrink node. The Importer walks the graph
// in order, folds what is constant and hands every other node to the operator importer that
// op_importers.cpp lists for its op_type. An operator importer validates every attribute it
// reads, rejects the ones it does not (Attributes::allow_only) and emits shrink nodes through
// the Importer, so an unsupported form fails with the node, operator and opset in the message
// instead of computing something else.
#include "io/onnx/import_support.hpp"
#include "io/onnx/quantized_weights.hpp"
#include "shrink/nn/model.hpp"

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace shrink::onnx_io {

using Json = nlohmann::json;

// An activation: the batch-first value of a shrink node (or of the model input).
struct Dynamic {
  std::string source;  // shrink node name or the model input's name
  Shape sample;        // per-sample shape of `source`
  // Non-empty: this ONNX value is Transpose(perm) of `source` with the batch moved off axis 0.
  // Nothing can hold such a value, but Gemm(transA=1) and a second Transpose can consume it.
  std::vector<int64_t> perm;
  // Non-zero: this ONNX value is `source` zero-padded by [ph, pw] on both sides of H and W
  // (PyTorch writes AvgPool2d(count_include_pad=True) as Pad + AveragePool). A Conv or an
  // AveragePool absorbs it into its own padding.
  std::array<int64_t, 2> zero_pad{0, 0};
  // True: an operator across the batch axis made this value (a Concat, Softmax or Transpose
  // along axis 0, a Flatten that merges it), so its axis 0 is no longer the batch. Only the
  // graph output may be such a value; the model then runs for inference only.
  bool mixed_batch = false;
};

// A node waiting to become part of the Model once the whole graph has been read, so a later
// ONNX node can still change it (MatMul + Add -> Linear with bias).
struct PendingNode {
  std::string name;
  std::string type;
  Json attributes;
  std::vector<std::string> inputs;
  std::vector<std::pair<std::string, Tensor>> parameters;  // suffix -> value
  Shape sample_output;
  bool bias_free_matmul = false;
  // The ONNX value the "weight" parameter came from, and which of its axes became the weight's
  // axis 0, the output channels (-1: none), so int8 codes behind a DequantizeLinear are kept.
  std::string weight_source;
  int64_t weight_output_axis = -1;
};

class Importer {
 public:
  Importer(const onnx::ModelProto& proto, std::string what, std::string base_dir,
           const std::map<std::string, Tensor>& input_values)
      : proto_(proto), what_(std::move(what)), base_dir_(std::move(base_dir)),
        input_values_(input_values) {}

  Model run();

  // --- what an operator importer reads -----------------------------------------------------
  int opset() const { return opset_; }
  // The batch size when a graph input fixes it.
  std::optional<int64_t> fixed_batch() const { return fixed_batch_; }
  // The i-th input when it is a constant (nullptr when absent or computed at run time).
  const Constant* constant(const onnx::NodeProto& node, int i) const;
  const Constant& required_constant(const onnx::NodeProto& node, int i, const char* what) const;
  bool is_dynamic(const onnx::NodeProto& node, int i) const;
  // The activation an ONNX value names, as stored (possibly transposed or padded); throws for
  // a value across the batch axis, which no operator may read.
  const Dynamic& dynamic(const std::string& onnx_name) const;
  bool is_graph_output(const std::string& onnx_name) const;
  // The i-th input as a batch-first activation; throws if it is a constant or not batch-first.
  const Dynamic& batch_first(const onnx::NodeProto& node, int i) const;
  // Like batch_first, but also accepts a pending zero padding and returns it in `pad`.
  const Dynamic& padded_input(const onnx::NodeProto& node, int i, std::array<int64_t, 2>& pad) const;
  // The per-sample shape of a shrink value (a node or a model input).
  const Shape& value_shape(const std::string& shrink_name) const { return value_shapes_.at(shrink_name); }
  void check_extra_outputs_unused(const onnx::NodeProto& node) const;

  // --- what an operator importer writes ----------------------------------------------------
  // Adds a shrink node whose output is the ONNX node's first output.
  PendingNode& emit(const onnx::NodeProto& node, const std::string& type, Json attributes,
                    std::vector<std::string> inputs,
                    std::vector<std::pair<std::string, Tensor>> parameters = {},
                    const std::string& weight_name = "");
  // Makes the node's first output name an existing (or pending-transposed/padded) activation.
  void alias(const onnx::NodeProto& node, const Dynamic& value);
  void emit_reshape(const onnx::NodeProto& node, const Dynamic& x, const Shape& sample);
  // Emits an op that acts across the batch axis 0 (its "across_batch" attribute set): allowed
  // only when the node's output is the graph output, which then is no batch-first value. The
  // op refuses training (src/nn/ops/across_batch.hpp).
  void emit_across_batch(const onnx::NodeProto& node, const std::string& type, Json attributes,
                         const std::vector<std::string>& inputs, const std::string& why);
  // Makes an ONNX value a constant computed from the graph's shapes (Shape of an activation).
  void define_constant(const std::string& onnx_name, Constant value);
  // Adds constant `c` as the bias of the bias-free MatMul that produced `x` when the Add is its
  // only use; false when it does not fit (the Add then becomes a node of its own).
  bool try_fuse_bias(const onnx::NodeProto& node, const std::string& x_name, const Dynamic& x,
                     const Constant& c);

 private:
  void read_opset();
  void read_inputs();
  // The value given for a graph input as a constant, checked against its declared shape.
  Constant given_value(const std::string& name) const;
  void count_uses();
  void import_node(const onnx::NodeProto& node);
  std::string unique_name(const onnx::NodeProto& node, const std::string& weight_name);
  Model build();
  // Makes `weight` of node `p` hold the int8 codes of the DequantizeLinear it came from; returns
  // "" then (or when it came from none), else a line saying why it keeps the fp32 values.
  std::string keep_int8_codes(const PendingNode& p, Parameter& weight) const;

  const onnx::ModelProto& proto_;
  std::string what_;
  std::string base_dir_;
  const std::map<std::string, Tensor>& input_values_;
  // The declared shape (-1: symbolic) of each graph input with a value given when loading; the
  // values read as constants so far (weights given as inputs) and the names of all of those.
  std::map<std::string, std::vector<int64_t>> declared_dims_;
  mutable std::map<std::string, Constant> read_at_load_;
  mutable std::set<std::string> read_as_constant_;
  int opset_ = 0;
  std::vector<ModelInput> inputs_;      // the graph inputs that are not initializers
  std::optional<int64_t> fixed_batch_;  // the batch size when an input fixes it
  std::map<std::string, Constant> constants_;
  std::map<std::string, DequantizedConstant> dequantized_;  // DequantizeLinear outputs folded
  std::map<std::string, Dynamic> dynamics_;
  std::map<std::string, int> uses_;
  std::vector<PendingNode> nodes_;
  std::map<std::string, size_t> node_index_;
  std::map<std::string, Shape> value_shapes_;  // shrink value name -> per-sample shape
  std::set<std::string> names_;
};

}  // namespace shrink::onnx_io
