// Which weights compression acts on, and the "exclude" option every pass shares.
#include "shrink/nn/weights.hpp"

#include "shrink/core/error.hpp"
#include "shrink/nn/architectures.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

std::vector<std::string> names(const std::vector<Parameter*>& weights) {
  std::vector<std::string> out;
  for (const Parameter* p : weights) out.push_back(p->name);
  return out;
}

TEST(CompressibleWeights, LinearAndConvWeightsOnly) {
  Model model = build_architecture("lenet5", {1, 28, 28}, 10);
  const auto all = names(compressible_weights(model));
  ASSERT_FALSE(all.empty());
  for (const std::string& name : all) EXPECT_EQ(name.substr(name.size() - 7), ".weight") << name;
}

TEST(CompressibleWeights, ExcludeByNodeOrParameterName) {
  Model model = build_architecture("lenet-300-100", {1, 28, 28}, 10);
  const auto all = names(compressible_weights(model));
  ASSERT_EQ(all.size(), 3u);
  const std::string first_node = all.front().substr(0, all.front().size() - 7);
  const auto kept = names(compressible_weights(model, {first_node, all.back()}));
  EXPECT_EQ(kept, std::vector<std::string>{all[1]});
  EXPECT_EQ(names(compressible_weights(model, {})), all);
}

TEST(CompressibleWeights, UnknownExcludeIsAClearError) {
  Model model = build_architecture("lenet-300-100", {1, 28, 28}, 10);
  try {
    compressible_weights(model, {"fc9"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("fc9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(".weight"), std::string::npos) << e.what();
  }
}

// A pruned model read back from ONNX has its zeros but no masks. The mostly-zero weights are
// found, and masks rebuilt from their exact zeros keep them at zero through training steps
// that would otherwise regrow them.
TEST(MasksFromZeros, FindsMostlyZeroWeightsAndKeepsThemPruned) {
  Model model = build_architecture("lenet-300-100", {1, 28, 28}, 10);
  model.initialize(3);
  std::vector<Parameter*> weights = compressible_weights(model);
  Parameter& sparse = *weights[0];
  for (int64_t i = 0; i < sparse.value.numel(); ++i)
    if (i % 10 != 0) sparse.value[i] = 0.0f;  // 90% zeros, as magnitude pruning leaves them
  Parameter& half = *weights[1];
  for (int64_t i = 0; i < half.value.numel() / 2 - 1; ++i) half.value[i] = 0.0f;  // under half
  const auto found = unmasked_sparse_weights(model);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->name, sparse.name);

  EXPECT_EQ(masks_from_zeros(model), std::vector<std::string>{sparse.name});
  ASSERT_TRUE(sparse.has_mask());
  EXPECT_FALSE(half.has_mask());
  EXPECT_TRUE(unmasked_sparse_weights(model).empty());  // a masked weight is not reported again
  EXPECT_TRUE(masks_from_zeros(model).empty());
  for (int64_t i = 0; i < sparse.value.numel(); ++i)
    ASSERT_EQ(sparse.mask[i], sparse.value[i] != 0.0f ? 1.0f : 0.0f) << i;

  // What an optimizer step does to a masked weight: the update lands, the mask re-applies.
  const int64_t nonzeros = sparse.nonzeros();
  for (float& w : sparse.value) w += 0.5f;
  sparse.apply_mask();
  EXPECT_EQ(sparse.nonzeros(), nonzeros);
}

}  // namespace
}  // namespace shrink
