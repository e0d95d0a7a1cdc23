#pragma once
// What the ONNX importer's two halves share: typed attribute access that rejects the
// attributes an operator's translation does not understand, and constant folding of the nodes
// whose inputs are all known at import time (fold.cpp).
#include "io/onnx_tensor.hpp"

#include <onnx/onnx_pb.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace shrink::onnx_io {

class Attributes {
 public:
  explicit Attributes(const onnx::NodeProto& node) : node_(node) {}

  // Throws for any attribute outside `known`: an attribute the translation ignores could
  // change the result, and a silent wrong answer is worse than an error.
  void allow_only(std::initializer_list<const char*> known) const;

  bool has(const std::string& name) const { return find(name) != nullptr; }
  int64_t get_int(const std::string& name, int64_t fallback) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> get_floats(const std::string& name) const;
  const onnx::TensorProto* get_tensor(const std::string& name) const;

 private:
  const onnx::AttributeProto* find(const std::string& name) const;
  const onnx::AttributeProto& expect(const std::string& name,
                                     onnx::AttributeProto_AttributeType type) const;
  const onnx::NodeProto& node_;
};

// Evaluates a node whose inputs are all constants (absent optional inputs are nullptr). Returns
// false when `op_type` is not an operator the folder evaluates; throws when it is but the node
// is malformed. Elements marked as the batch size move with data-movement operators and make
// arithmetic on them an error, since the batch size is only known when the model runs.
bool fold_constant_node(const onnx::NodeProto& node, int opset,
                        const std::vector<const Constant*>& inputs, std::vector<Constant>& outputs);

// Numpy broadcasting of two shapes; throws naming both.
Shape broadcast_shape(const Shape& a, const Shape& b);
// Normalizes a possibly negative axis into [0, rank).
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what);

}  // namespace shrink::onnx_io
