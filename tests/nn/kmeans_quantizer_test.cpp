// Weight sharing by k-means (the kmeans format): clustering on hand-made data, empty clusters,
// determinism, the per-centroid gradient against finite differences, pruned weights, bits by
// layer type and the state bytes.
#include "../../src/nn/quant/kmeans_1d.hpp"
#include "shrink/core/random.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/parameter.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/errors.hpp"
#include "support/shared_weight_gradients.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace shrink {
namespace {

using quant::cluster_1d;
using quant::KMeansInit;
using testing::bad_input_message;

const QuantizerFormat& kmeans_format() { return *find_quantizer_format("kmeans"); }

Tensor effective_of(Quantizer& q, const Tensor& w, const Tensor& mask = Tensor()) {
  q.follow(w, mask);
  Tensor out(w.shape());
  q.fake_quantize(w, out);
  return out;
}

// Three tight blobs around -1, 0.5 and 3.
std::vector<float> three_blobs(uint64_t seed) {
  Rng rng(seed);
  std::vector<float> values;
  for (float centre : {-1.0f, 0.5f, 3.0f})
    for (int i = 0; i < 50; ++i) values.push_back(centre + rng.uniform(-0.05f, 0.05f));
  return values;
}

TEST(KMeans1d, FindsKnownClustersFromBothInitialisations) {
  const std::vector<float> values = three_blobs(3);
  for (KMeansInit init : {KMeansInit::Linear, KMeansInit::PlusPlus}) {
    const quant::KMeans1d r = cluster_1d(values, 3, init, 11, 100);
    ASSERT_EQ(r.centroids.size(), 3u);
    EXPECT_NEAR(r.centroids[0], -1.0f, 0.02f);
    EXPECT_NEAR(r.centroids[1], 0.5f, 0.02f);
    EXPECT_NEAR(r.centroids[2], 3.0f, 0.02f);
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(r.assignment[i], i / 50) << "value " << i << " belongs to blob " << i / 50;
    // Each centroid is the mean of its members.
    for (int j = 0; j < 3; ++j) {
      double sum = 0.0;
      for (int i = 0; i < 50; ++i) sum += values[static_cast<size_t>(50 * j + i)];
      EXPECT_FLOAT_EQ(r.centroids[static_cast<size_t>(j)], static_cast<float>(sum / 50.0));
    }
  }
}

TEST(KMeans1d, LinearInitialisationSpansMinToMax) {
  // Zero Lloyd rounds: the centroids are the evenly spaced start.
  const std::vector<float> values = {0.0f, 1.0f, 4.0f};
  const quant::KMeans1d r = cluster_1d(values, 5, KMeansInit::Linear, 0, 0);
  EXPECT_EQ(r.centroids, (std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f, 4.0f}));
  EXPECT_EQ(r.assignment, (std::vector<uint32_t>{0, 1, 4}));
}

TEST(KMeans1d, EmptyClustersTakeTheFarthestValueOrStayUnused) {
  // Linear start over [0, 10] with 4 centroids: 0, 3.33, 6.67, 10; the values sit near 0 and
  // 10, so the two middle clusters start empty and take the values farthest from their
  // centroids.
  const std::vector<float> values = {0.0f, 0.1f, 0.2f, 0.3f, 9.7f, 9.8f, 9.9f, 10.0f};
  const quant::KMeans1d r = cluster_1d(values, 4, KMeansInit::Linear, 0, 100);
  std::set<uint32_t> used(r.assignment.begin(), r.assignment.end());
  EXPECT_EQ(used.size(), 4u) << "every cluster ends with members";
  double error = 0.0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double d = values[i] - r.centroids[r.assignment[i]];
    error += d * d;
  }
  EXPECT_LT(error, 0.05);
  // Fewer distinct values than clusters: every value lands exactly on a centroid and the spare
  // centroids stay finite and unused.
  const std::vector<float> three = {-2.0f, 5.0f, 5.0f, 1.0f, -2.0f};
  for (KMeansInit init : {KMeansInit::Linear, KMeansInit::PlusPlus}) {
    const quant::KMeans1d s = cluster_1d(three, 8, init, 5, 100);
    for (size_t i = 0; i < three.size(); ++i) EXPECT_EQ(s.centroids[s.assignment[i]], three[i]);
    for (float c : s.centroids) EXPECT_TRUE(std::isfinite(c));
    EXPECT_TRUE(std::is_sorted(s.centroids.begin(), s.centroids.end()));
  }
  // No values at all (a fully pruned layer): zero centroids.
  const quant::KMeans1d none = cluster_1d({}, 4, KMeansInit::Linear, 0, 100);
  EXPECT_EQ(none.centroids, std::vector<float>(4, 0.0f));
}

TEST(KMeans1d, TheSameSeedGivesTheSameClustersAndAnotherSeedMayNot) {
  Rng rng(9);
  std::vector<float> values(2000);
  for (float& v : values) v = rng.normal(0.0f, 0.1f);
  const quant::KMeans1d a = cluster_1d(values, 16, KMeansInit::PlusPlus, 42, 100);
  const quant::KMeans1d b = cluster_1d(values, 16, KMeansInit::PlusPlus, 42, 100);
  EXPECT_EQ(a.centroids, b.centroids);
  EXPECT_EQ(a.assignment, b.assignment);
  const quant::KMeans1d c = cluster_1d(values, 16, KMeansInit::PlusPlus, 43, 100);
  EXPECT_NE(a.centroids, c.centroids) << "k-means++ draws its start from the seed";
}

TEST(KMeansFormat, SharesWeightsLeavesPrunedZerosOutAndStoresExactly) {
  const Tensor w({3, 3}, {-1.0f, -0.9f, 0.0f, 0.5f, 0.55f, 2.0f, 2.1f, 7.0f, 4.0f});
  // The 0 and the 7 are pruned: they must not pull a centroid. Linear start over [-1, 4]:
  // -1, 0.67, 2.33, 4, then each centroid moves to its members' mean.
  const Tensor mask({3, 3}, {1, 1, 0, 1, 1, 1, 1, 0, 1});
  auto q = make_quantizer("kmeans", {{"bits", 2}}, w);
  EXPECT_EQ(q->bits(), 2);
  const Tensor e = effective_of(*q, w, mask);
  const float expected[9] = {-0.95f, -0.95f, 0.0f, 0.525f, 0.525f, 2.05f, 2.05f, 0.0f, 4.0f};
  for (int64_t i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(e[i], expected[i]) << i;
  // Storage: codes index the ascending centroids, and decode through the state bytes.
  std::vector<uint32_t> codes(9);
  q->encode(e, codes);
  EXPECT_EQ(codes, (std::vector<uint32_t>{0, 0, 0, 1, 1, 2, 2, 0, 3}));
  std::string state;
  q->write_state(state);
  EXPECT_EQ(state.size(), 1u + 4u * 4u);
  const auto back = kmeans_format().read_state(state, w.shape());
  Tensor decoded(w.shape());
  back->decode(codes, decoded);
  for (int64_t i = 0; i < 9; ++i)
    if (mask[i] != 0.0f) EXPECT_EQ(decoded[i], e[i]) << i;
  // A loaded quantizer finds the assignment again from the decoded values.
  Tensor loaded = decoded;
  for (int64_t i = 0; i < 9; ++i)
    if (mask[i] == 0.0f) loaded[i] = 0.0f;
  EXPECT_EQ(effective_of(*back, loaded, mask), e);
}

TEST(KMeansFormat, BitsFollowTheLayerTypeUnlessGiven) {
  EXPECT_EQ(make_quantizer("kmeans", {}, Tensor({4, 3, 3, 3}))->bits(), 8) << "convolution";
  EXPECT_EQ(make_quantizer("kmeans", {}, Tensor({10, 20}))->bits(), 5) << "fully connected";
  EXPECT_EQ(make_quantizer("kmeans", {{"conv_bits", 6}}, Tensor({4, 3, 3, 3}))->bits(), 6);
  EXPECT_EQ(make_quantizer("kmeans", {{"fc_bits", 3}}, Tensor({10, 20}))->bits(), 3);
  EXPECT_EQ(make_quantizer("kmeans", {{"bits", 4}}, Tensor({4, 3, 3, 3}))->bits(), 4);
  EXPECT_EQ(make_quantizer("kmeans", {{"bits", 4}}, Tensor({10, 20}))->options()["bits"], 4);
  EXPECT_EQ(bad_input_message([] { make_quantizer("kmeans", {{"bits", 9}}, Tensor({2, 2})); }),
            "quantizer kmeans: bits must be in 1..8, got 9");
  EXPECT_EQ(bad_input_message([] { make_quantizer("kmeans", {{"fc_bits", 0}}, Tensor({2, 2})); }),
            "quantizer kmeans: fc_bits must be in 1..8, got 0");
  EXPECT_NE(bad_input_message([] { make_quantizer("kmeans", {{"init", "random"}}, Tensor({2, 2})); })
                .find("init must be 'linear'"),
            std::string::npos);
}

TEST(KMeansFormat, CorruptStateIsAClearError) {
  const QuantizerFormat& format = kmeans_format();
  EXPECT_NE(bad_input_message([&] { format.read_state(std::string(1, '\x09'), {2, 2}); })
                .find("bit width of 9"),
            std::string::npos);
  std::string state(1, '\x01');
  state += std::string(4, '\0');
  EXPECT_NE(bad_input_message([&] { format.read_state(state, {2, 2}); }).find("centroid"),
            std::string::npos)
      << "two centroids need 8 bytes";
  std::string nan_state(1, '\x01');
  const float nan = std::nanf("");
  nan_state.append(reinterpret_cast<const char*>(&nan), 4);
  nan_state.append(reinterpret_cast<const char*>(&nan), 4);
  EXPECT_NE(bad_input_message([&] { format.read_state(nan_state, {2, 2}); }).find("must be finite"),
            std::string::npos);
  auto q = format.read_state(std::string(1, '\x01') + std::string(8, '\0'), {2});
  Tensor values({2});
  const std::vector<uint32_t> bad = {0, 2};
  EXPECT_NE(bad_input_message([&] { q->decode(bad, values); }).find("kmeans code 2"), std::string::npos);
}

// A Linear layer with a shared weight: with "centroid_grad": "sum" d loss / d centroid from
// backward matches central differences of the loss in the centroid; with the default "mean" it
// is that derivative divided by the centroid's member count; the latent weight gets no gradient.
TEST(KMeansFormat, CentroidGradientsAreTheMembersMeanOrSumOfGradients) {
  testing::check_shared_weight_gradients("kmeans", {{"bits", 2}}, "centroids",
                                [](int64_t, uint32_t code) { return int64_t{code}; });
}

TEST(KMeansFormat, AnUnknownCentroidGradientRuleIsAClearError) {
  const std::string message =
      bad_input_message([] { make_quantizer("kmeans", {{"centroid_grad", "median"}}, Tensor({4})); });
  EXPECT_NE(message.find("centroid_grad must be 'mean'"), std::string::npos) << message;
}

}  // namespace
}  // namespace shrink
