// quant.pq on a trained network: rows product-quantized (layer_bits setting a layer's codebook
// size), the codebooks fine-tuned with the assignment fixed — every sub-vector with the same code
// moves as one — and the same seed giving the same file.
#include "shrink/compress/pass.hpp"
#include "shrink/io/container.hpp"
#include "shrink/nn/weights.hpp"
#include "shrink/train/evaluator.hpp"
#include "support/errors.hpp"
#include "support/trained_mlp.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace shrink {
namespace {

using testing::bad_input_message;

using Trained = testing::TrainedMlp;

// The sub-vectors (d = 4) of fc2's 64 x 64 weight, as tuples of effective values.
std::vector<std::vector<float>> sub_vectors(const Parameter& p) {
  std::vector<std::vector<float>> out;
  const Tensor& e = p.effective();
  for (int64_t g = 0; g < e.numel() / 4; ++g) out.emplace_back(e.data() + 4 * g, e.data() + 4 * g + 4);
  return out;
}

TEST(QuantPq, RowsShareCodewordsThatFineTuneWithAFixedAssignment) {
  Trained t;
  const double dense = t.accuracy();
  const nlohmann::json section = t.run("quant.pq", {{"d", 4}, {"bits", 5}, {"layer_bits", {{"fc3", 2}}}});
  EXPECT_EQ(section["layers"]["fc2.weight"]["bits"], 5);
  EXPECT_EQ(section["layers"]["fc2.weight"]["options"]["k"], 32);
  EXPECT_EQ(section["layers"]["fc3.weight"]["options"]["k"], 4) << "layer_bits sets k = 2^bits";
  EXPECT_LT(section["layers"]["fc2.weight"]["relative_mse"].get<double>(), 0.5);

  const Parameter& fc2 = t.model.parameter("fc2.weight");
  const std::vector<std::vector<float>> shared = sub_vectors(fc2);
  std::map<std::vector<float>, int> distinct;
  for (const auto& v : shared) ++distinct[v];
  EXPECT_LE(distinct.size(), 32u);
  EXPECT_GT(distinct.size(), 16u);

  t.run("train.finetune", {{"epochs", 2}});
  EXPECT_GT(t.accuracy(), dense - 0.05);
  // The codebook moved, and every sub-vector of a codeword moved to the same new values.
  const std::vector<std::vector<float>> tuned = sub_vectors(fc2);
  EXPECT_NE(tuned, shared);
  std::map<std::vector<float>, std::vector<float>> moved_to;
  for (size_t g = 0; g < shared.size(); ++g) {
    const auto [it, fresh] = moved_to.emplace(shared[g], tuned[g]);
    EXPECT_EQ(it->second, tuned[g]) << "sub-vector " << g;
  }
}

TEST(QuantPq, TheSameSeedGivesTheSameFileAndBadOptionsNameThePass) {
  Trained a, b;
  a.run("quant.pq", {{"d", 4}, {"k", 16}, {"seed", 3}});
  b.run("quant.pq", {{"d", 4}, {"k", 16}, {"seed", 3}});
  EXPECT_EQ(serialize_model(a.model), serialize_model(b.model));
  EXPECT_NE(bad_input_message([] { make_pass("quant.pq", {{"k", 16}, {"layer_bits", {{"fc3", 2}}}}); })
                .find("give the codebook size as k or as bits"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { make_pass("quant.pq", {{"d", -1}}); }).find("pass quant.pq"), std::string::npos);
}

}  // namespace
}  // namespace shrink
