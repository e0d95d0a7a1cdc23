#include "support/shared_weight_gradients.hpp"

#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/parameter.hpp"
#include "shrink/nn/quantizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace shrink::testing {

void check_shared_weight_gradients(const std::string& format, const nlohmann::json& options,
                                   const std::string& state_name, const StateEntryOf& entry_of) {
  for (const std::string rule : {"sum", "mean"}) {
    SCOPED_TRACE(format + ", centroid_grad " + rule);
    Model model = Model::from_graph_json(
        {{"input", {{"name", "x"}, {"shape", {6}}}},
         {"nodes",
          {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 5}}}},
           {{"name", "tanh"}, {"type", "Tanh"}},
           {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 3}}}}}}});
    model.initialize(3);
    Parameter& w = model.parameter("fc1.weight");
    w.mask = Tensor(w.value.shape(), 1.0f);
    w.mask[4] = w.mask[11] = 0.0f;
    w.apply_mask();
    nlohmann::json chosen = options;
    if (rule == "sum") chosen["centroid_grad"] = "sum";  // else the default
    w.set_quantizer(make_quantizer(format, chosen, w.value));
    EXPECT_EQ(w.quantizer()->options()["centroid_grad"], rule);
    Rng rng(5);
    Tensor x({4, 6}), probe({4, 3});
    for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
    for (float& v : probe) v = rng.uniform(-1.0f, 1.0f);
    auto loss = [&] {
      w.mark_changed();
      const Tensor y = model.forward(x, /*training=*/true);
      double sum = 0.0;
      for (int64_t i = 0; i < y.numel(); ++i) sum += double{y[i]} * probe[i];
      return sum;
    };
    loss();
    model.backward(probe, /*accumulate=*/false);
    Parameter& state = *w.quantizer()->state_parameters().at(0);
    EXPECT_EQ(state.name, state_name);
    for (float g : w.grad) EXPECT_EQ(g, 0.0f) << "the assignment is fixed";
    std::vector<uint32_t> codes(static_cast<size_t>(w.value.numel()));
    w.quantizer()->encode(w.effective(), codes);
    std::vector<int> members(static_cast<size_t>(state.value.numel()), 0);
    for (int64_t i = 0; i < w.value.numel(); ++i)
      if (w.mask[i] != 0.0f) ++members[static_cast<size_t>(entry_of(i, codes[static_cast<size_t>(i)]))];
    Tensor derivative = state.grad;  // what central differences should find
    for (int64_t e = 0; e < derivative.numel(); ++e) {
      const int n = members[static_cast<size_t>(e)];
      if (n == 0) EXPECT_EQ(state.grad[e], 0.0f) << "entry " << e << " stands for no kept weight";
      if (rule == "mean") derivative[e] *= static_cast<float>(std::max(n, 1));
    }
    const GradientCheckResult r = check_gradient(loss, state.value, derivative, state_name, 1e-3);
    EXPECT_LT(r.max_error, 1e-3) << r.worst;
    for (float& v : state.value) v += 1.0f;
    w.mark_changed();
    EXPECT_EQ(w.effective()[4], 0.0f);
    EXPECT_EQ(w.effective()[11], 0.0f);
  }
}

}  // namespace shrink::testing
