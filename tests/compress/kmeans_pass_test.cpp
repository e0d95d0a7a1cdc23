// quant.kmeans on a trained network: pruned, then its kept weights shared by k-means, then the
// centroids fine-tuned with the assignment fixed; the .shrk file stores codes at their width
// plus the codebook and loads back exactly.
#include "shrink/compress/pass.hpp"
#include "shrink/io/container.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/evaluator.hpp"
#include "support/errors.hpp"
#include "support/trained_mlp.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace shrink {
namespace {

using testing::bad_input_message;

using Trained = testing::TrainedMlp;

TEST(QuantKMeans, PrunedWeightsShareCentroidsThatFineTuneWithAFixedAssignment) {
  Trained t;
  const double dense = t.accuracy();
  t.run("prune.magnitude", {{"sparsity", 0.7}});
  const nlohmann::json section = t.run("quant.kmeans", {{"layer_bits", {{"fc3", 3}}}});
  EXPECT_EQ(section["layers"]["fc1.weight"]["bits"], 5) << "fully connected: 5 bits";
  EXPECT_EQ(section["layers"]["fc3.weight"]["bits"], 3);
  EXPECT_LT(section["layers"]["fc2.weight"]["relative_mse"].get<double>(), 0.01);

  Parameter& fc2 = t.model.parameter("fc2.weight");
  const Tensor shared = fc2.effective();
  std::set<float> levels;
  for (int64_t i = 0; i < shared.numel(); ++i) {
    if (fc2.mask[i] == 0.0f) EXPECT_EQ(shared[i], 0.0f);
    else levels.insert(shared[i]);
  }
  EXPECT_LE(levels.size(), 32u);
  EXPECT_GT(levels.size(), 16u);

  t.run("train.finetune", {{"epochs", 2}});
  EXPECT_GT(t.accuracy(), dense - 0.03);
  // The centroids moved; every cluster moved as one and pruned weights stayed zero.
  const Tensor& tuned = fc2.effective();
  EXPECT_NE(tuned, shared);
  std::map<float, float> moved_to;
  for (int64_t i = 0; i < tuned.numel(); ++i) {
    if (fc2.mask[i] == 0.0f) {
      EXPECT_EQ(tuned[i], 0.0f);
      continue;
    }
    const auto [it, fresh] = moved_to.emplace(shared[i], tuned[i]);
    EXPECT_EQ(it->second, tuned[i]) << "element " << i << " left its cluster";
  }

  // The file: 5-bit codes of the kept weights and a 32-entry codebook per layer, loaded exactly.
  const std::string bytes = serialize_model(t.model);
  Model back = deserialize_model(bytes, "kmeans.shrk");
  for (const Parameter* p : compressible_weights(t.model)) {
    const Parameter& q = back.parameter(p->name);
    ASSERT_TRUE(q.quantized()) << p->name;
    EXPECT_STREQ(q.quantizer()->format().name, "kmeans");
    EXPECT_EQ(q.effective(), p->effective()) << p->name;
    EXPECT_EQ(q.mask, p->mask) << p->name;
  }
  EXPECT_EQ(evaluate(back, t.data).accuracy, t.accuracy());
  EXPECT_EQ(serialize_model(back), bytes) << "saving the loaded model gives the same bytes";
  // fc2 keeps 30% of 4096 weights at 5 bits: far below its 16 KiB in fp32.
  const int64_t fp32 = 4 * (8 * 64 + 64 * 64 + 64 * 4);
  EXPECT_LT(static_cast<int64_t>(bytes.size()), fp32 / 4);

  // A loaded model fine-tunes again: its assignment is found from the stored values.
  PassContext context;
  context.train = &t.data;
  context.finetune.lr = 0.01f;
  make_pass("train.finetune", {{"epochs", 1}})->run(back, context);
  std::set<float> after;
  for (float v : back.parameter("fc2.weight").effective()) after.insert(v);
  EXPECT_LE(after.size(), 33u) << "32 centroids and the pruned zero";
}

TEST(QuantKMeans, TheSameSeedGivesTheSameFileAndBadOptionsAreClearErrors) {
  std::string files[2];
  for (std::string& file : files) {
    Trained t;
    t.run("quant.kmeans", {{"init", "kmeans++"}, {"seed", 7}, {"bits", 4}});
    file = serialize_model(t.model);
  }
  EXPECT_EQ(files[0], files[1]);
  EXPECT_NE(bad_input_message([] { make_pass("quant.kmeans", {{"iterations", -1}}); })
                .find("iterations must be in 0..100000"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("quant.kmeans", {{"clusters", 4}}); })
                .find("unknown option 'clusters'"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
