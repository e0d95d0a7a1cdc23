// Sub: elementwise with numpy/ONNX broadcasting; see broadcast.hpp for its two forms.
#include "nn/ops/broadcast.hpp"
#include "nn/ops/ops.hpp"

namespace shrink::ops {

std::unique_ptr<Op> make_sub(const Json& attributes) {
  return make_broadcast_binary(BinaryKind::Sub, attributes);
}

}  // namespace shrink::ops
