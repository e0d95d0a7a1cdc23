#pragma once
// The shared-weight training rule of weight-sharing quantizers (k-means, product quantization),
// checked on one small model: a Linear layer 6 -> 5 whose weight is partly pruned and carries
// the quantizer, then Tanh and a Linear 5 -> 3. With "centroid_grad": "sum" the gradient of the
// quantizer's state (centroids, codebook) from backward must match central differences of the
// loss; with "mean" it is that derivative divided by how many kept weights each state entry
// stands for. The latent weight gets no gradient (the assignment is fixed), and the pruned
// weights stay zero whatever the state does.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace shrink::testing {

// The state entry a kept weight (flat index i of the 5x6 weight, with code `code`) stands for.
using StateEntryOf = std::function<int64_t(int64_t i, uint32_t code)>;

// Runs the check for rule "sum" and "mean" (the default when options name none) with gtest
// expectations; `state_name` is the state parameter's expected name.
void check_shared_weight_gradients(const std::string& format, const nlohmann::json& options,
                                   const std::string& state_name, const StateEntryOf& entry_of);

}  // namespace shrink::testing
