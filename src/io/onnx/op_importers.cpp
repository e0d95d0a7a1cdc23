#include "io/onnx/op_importers.hpp"

namespace shrink::onnx_io {

// One line per family of operators; each family file lists its operators.
const OpImporterTable& op_importers() {
  static const OpImporterTable table = [] {
    OpImporterTable t;
    add_linear_importers(t);
    add_elementwise_importers(t);
    add_conv_importers(t);
    add_pool_importers(t);
    add_normalization_importers(t);
    add_shape_importers(t);
    add_quantization_importers(t);
    return t;
  }();
  return table;
}

}  // namespace shrink::onnx_io
