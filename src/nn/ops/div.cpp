// Div: elementwise with numpy/ONNX broadcasting; see broadcast.hpp for its two forms.
#include "nn/ops/broadcast.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {

std::unique_ptr<Op> make_div(const Json& attributes) {
  return make_broadcast_binary(BinaryKind::Div, attributes);
}

}  // namespace shrink::ops
