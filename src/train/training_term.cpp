#include "shrink/train/training_term.hpp"

#include "shrink/core/error.hpp"

namespace shrink {

void add_activation_gradient(ActivationGradients& grads, const std::string& node,
                             const Tensor& gradient) {
  auto [it, inserted] = grads.try_emplace(node, gradient);
  if (inserted) return;
  require(it->second.shape() == gradient.shape(),
          "two gradients for node " + node + " have different shapes, " +
              to_string(it->second.shape()) + " and " + to_string(gradient.shape()));
  it->second.flat() += gradient.flat();
}

}  // namespace shrink
