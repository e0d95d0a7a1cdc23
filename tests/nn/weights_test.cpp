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

}  // namespace
}  // namespace shrink
