#pragma once
// The int8 ops an int8 lowering (nn/int8_execution.hpp) puts in place of a quantized layer and
// the QDQ nodes around it. They exist only in a lowered model, for inference: they are not in
// the op registry, so no file or graph description names them, and their backward is an error
// (training runs the QDQ graph). Each keeps the layer it replaces for its shapes, parameters
// and MACs, so the parameters carry over by name.
#include "nn/kernels/int8_layers.hpp"
#include "shrink/nn/op.hpp"

#include <memory>

namespace shrink::ops {

// `layer` is the Linear, MatMul (with a weight, 2-D input) or Conv2d the op computes; `pool`, a
// MaxPool2d (dilation 1) behind a Conv2d that requantizes, run on its codes, or null.
std::unique_ptr<Op> make_int8_layer(std::unique_ptr<Op> layer, const kernels::Int8Epilogue& epilogue,
                                    std::unique_ptr<Op> pool = nullptr);

}  // namespace shrink::ops
