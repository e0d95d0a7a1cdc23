// The grid of changed samples: one embedded image and three labels per sample, well-formed SVG.
#include "shrink/report/sample_grid.hpp"

#include "support/errors.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

Dataset tiny_images() {
  std::vector<uint8_t> pixels(3 * 2 * 2);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 20);
  Dataset data = Dataset::from_bytes("tiny", {1, 2, 2}, pixels, {0, 1, 1}, 2);
  data.class_names = {"cat", "dog"};
  return data;
}

TEST(SampleGrid, ImagesWithTrueAndPredictedClasses) {
  const Dataset data = tiny_images();
  const std::vector<ChangedSample> changed = {{1, 1, 1, 0, 0.9f}, {2, 1, 0, 1, 0.6f}};
  const auto root = testing::parse_xml(changed_samples_svg(data, changed, 10, "dense", "pruned"));
  EXPECT_EQ(testing::find_all(root, "image").size(), 2u);
  std::vector<std::string> texts;
  std::vector<std::string> colors;
  for (const auto* t : testing::find_all(root, "text")) {
    texts.push_back(t->text);
    if (t->attributes.count("fill")) colors.push_back(t->attributes.at("fill"));
  }
  ASSERT_EQ(texts.size(), 6u);
  EXPECT_EQ(texts[0], "#1 dog");
  EXPECT_EQ(texts[1], "dense: dog");
  EXPECT_EQ(texts[2], "pruned: cat");
  EXPECT_EQ(colors[1], "#1a7f37");  // right
  EXPECT_EQ(colors[2], "#c62828");  // wrong
  // At most max_samples.
  const auto one = testing::parse_xml(changed_samples_svg(data, changed, 1, "a", "b"));
  EXPECT_EQ(testing::find_all(one, "image").size(), 1u);
}

TEST(SampleGrid, RefusesSamplesThatAreNotImages) {
  const Dataset table = Dataset::from_floats("table", {4}, std::vector<float>(8, 1.0f), {0, 1}, 2);
  EXPECT_FALSE(samples_are_images(table));
  EXPECT_NE(testing::bad_input_message([&] { changed_samples_svg(table, {}, 5, "a", "b"); }).find("[1, H, W]"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
