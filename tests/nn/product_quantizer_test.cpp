// Product quantization (the pq format): k-means over sub-vectors on hand-made data (known
// clusters, missing coordinates, empty clusters, determinism), reconstruction of weights built
// from known sub-vectors, rows that d does not divide, pruned weights, the codebook gradient
// against finite differences, the state bytes, bad options, and the .shrk round trip storing one
// code per sub-vector.
#include "../../src/nn/quant/kmeans_vectors.hpp"
#include "shrink/core/random.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/tensor_encoding.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/model.hpp"
#include "shrink/nn/parameter.hpp"
#include "shrink/nn/quantizer.hpp"
#include "support/errors.hpp"
#include "support/shared_weight_gradients.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <set>

namespace shrink {
namespace {

using quant::cluster_vectors;
using testing::bad_input_message;

Tensor effective_of(Quantizer& q, const Tensor& w, const Tensor& mask = Tensor()) {
  q.follow(w, mask);
  Tensor out(w.shape());
  q.fake_quantize(w, out);
  return out;
}

// Three tight blobs of 2-D points around (-1, 2), (0.5, 0.5) and (3, -2), 40 points each.
std::vector<float> three_blobs(uint64_t seed) {
  Rng rng(seed);
  const float centres[3][2] = {{-1.0f, 2.0f}, {0.5f, 0.5f}, {3.0f, -2.0f}};
  std::vector<float> points;
  for (const auto& c : centres)
    for (int i = 0; i < 40; ++i) {
      points.push_back(c[0] + rng.uniform(-0.05f, 0.05f));
      points.push_back(c[1] + rng.uniform(-0.05f, 0.05f));
    }
  return points;
}

TEST(KMeansVectors, FindsKnownClustersAndEachCentroidIsItsMembersMean) {
  const std::vector<float> points = three_blobs(3);
  const std::vector<uint8_t> present(points.size(), 1);
  for (uint64_t seed : {0u, 1u, 7u}) {
    const quant::KMeansVectors r = cluster_vectors(points, present, 2, 3, seed, 100);
    ASSERT_EQ(r.centroids.size(), 6u);
    // Each blob is one cluster, whichever its number.
    std::set<uint32_t> labels;
    for (int blob = 0; blob < 3; ++blob) {
      const uint32_t label = r.assignment[static_cast<size_t>(40 * blob)];
      labels.insert(label);
      for (int i = 0; i < 40; ++i) EXPECT_EQ(r.assignment[static_cast<size_t>(40 * blob + i)], label);
      for (int t = 0; t < 2; ++t) {
        double sum = 0.0;
        for (int i = 0; i < 40; ++i) sum += points[static_cast<size_t>(2 * (40 * blob + i) + t)];
        EXPECT_FLOAT_EQ(r.centroids[2 * label + static_cast<size_t>(t)], static_cast<float>(sum / 40.0));
      }
    }
    EXPECT_EQ(labels.size(), 3u) << "seed " << seed;
  }
}

TEST(KMeansVectors, MissingCoordinatesNeitherPullACentroidNorCountInDistances) {
  // Two clusters around (0, 0) and (10, 10). The third point lacks its second coordinate, where
  // it holds a wild 1000: it still joins the cluster its first coordinate says, and the
  // centroid's second coordinate is the mean of the two members that have it.
  const std::vector<float> points = {0.0f, 0.2f, 0.4f, 0.0f, 0.2f, 1000.0f, 10.0f, 10.0f, 10.2f, 10.4f};
  const std::vector<uint8_t> present = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1};
  const quant::KMeansVectors r = cluster_vectors(points, present, 2, 2, 5, 100);
  const uint32_t low = r.assignment[0];
  EXPECT_EQ(r.assignment[1], low);
  EXPECT_EQ(r.assignment[2], low);
  EXPECT_NE(r.assignment[3], low);
  EXPECT_FLOAT_EQ(r.centroids[2 * low], 0.2f);
  EXPECT_FLOAT_EQ(r.centroids[2 * low + 1], 0.1f);
}

TEST(KMeansVectors, EmptyClustersTakeTheFarthestPointOrStayUnused) {
  // Four identical points and one far away, five clusters: every point ends exactly on a
  // centroid, and the three spare centroids stay finite.
  const std::vector<float> points = {1, 1, 1, 1, 1, 1, 1, 1, 9, 9};
  const std::vector<uint8_t> present(points.size(), 1);
  const quant::KMeansVectors r = cluster_vectors(points, present, 2, 5, 0, 100);
  for (size_t i = 0; i < 5; ++i)
    for (size_t t = 0; t < 2; ++t) EXPECT_EQ(r.centroids[2 * r.assignment[i] + t], points[2 * i + t]);
  for (float c : r.centroids) EXPECT_TRUE(std::isfinite(c));
  // Two blobs, four clusters: Lloyd leaves no cluster empty while a point is off its centroid.
  const std::vector<float> blobs = {0.0f, 0.0f, 0.1f, 0.0f, 0.2f, 0.0f, 0.3f, 0.0f,
                                    9.7f, 0.0f, 9.8f, 0.0f, 9.9f, 0.0f, 10.0f, 0.0f};
  const quant::KMeansVectors s = cluster_vectors(blobs, std::vector<uint8_t>(blobs.size(), 1), 2, 4, 2, 100);
  EXPECT_EQ(std::set<uint32_t>(s.assignment.begin(), s.assignment.end()).size(), 4u);
  // No points at all (a fully pruned layer): zero centroids.
  const quant::KMeansVectors none = cluster_vectors({}, {}, 3, 4, 0, 100);
  EXPECT_EQ(none.centroids, std::vector<float>(12, 0.0f));
}

TEST(KMeansVectors, TheSameSeedGivesTheSameClustersAndAnotherSeedMayNot) {
  Rng rng(9);
  std::vector<float> points(4000);
  for (float& v : points) v = rng.normal(0.0f, 0.1f);
  const std::vector<uint8_t> present(points.size(), 1);
  const quant::KMeansVectors a = cluster_vectors(points, present, 4, 16, 42, 100);
  const quant::KMeansVectors b = cluster_vectors(points, present, 4, 16, 42, 100);
  EXPECT_EQ(a.centroids, b.centroids);
  EXPECT_EQ(a.assignment, b.assignment);
  const quant::KMeansVectors c = cluster_vectors(points, present, 4, 16, 43, 100);
  EXPECT_NE(a.centroids, c.centroids) << "k-means++ draws its start from the seed";
}

// A 6 x 8 weight whose sub-vectors of 4 are each one of three prototypes, plus small noise.
Tensor prototype_weight(float noise, uint64_t seed) {
  const float prototypes[3][4] = {{1, -1, 0.5f, 2}, {-3, 0.25f, 0.75f, -0.5f}, {0.1f, 0.2f, -2, 4}};
  const int which[12] = {0, 1, 2, 2, 1, 0, 0, 0, 2, 1, 1, 2};
  Rng rng(seed);
  Tensor w({6, 8});
  for (int g = 0; g < 12; ++g)
    for (int t = 0; t < 4; ++t) w[4 * g + t] = prototypes[which[g]][t] + rng.uniform(-noise, noise);
  return w;
}

TEST(ProductFormat, ReconstructsWeightsMadeOfKnownSubVectors) {
  // Exact prototypes: three codewords reproduce the weight exactly.
  const Tensor exact = prototype_weight(0.0f, 1);
  auto q = make_quantizer("pq", {{"d", 4}, {"k", 3}}, exact);
  EXPECT_EQ(q->bits(), 2) << "3 codewords need 2-bit codes";
  EXPECT_EQ(effective_of(*q, exact), exact);
  EXPECT_EQ(relative_mse(exact, effective_of(*q, exact)), 0.0);
  // Every element of a sub-vector carries its sub-vector's code; equal sub-vectors, equal codes.
  std::vector<uint32_t> codes(48);
  q->encode(effective_of(*q, exact), codes);
  for (int g = 0; g < 12; ++g)
    for (int t = 1; t < 4; ++t) EXPECT_EQ(codes[static_cast<size_t>(4 * g + t)], codes[static_cast<size_t>(4 * g)]);
  EXPECT_EQ(codes[0], codes[20]) << "sub-vectors 0 and 5 are both prototype 0";
  EXPECT_NE(codes[0], codes[4]);
  // With noise, each sub-vector becomes its prototype's cluster mean: the error is the noise's.
  const Tensor noisy = prototype_weight(0.01f, 2);
  auto r = make_quantizer("pq", {{"d", 4}, {"k", 3}, {"seed", 4}}, noisy);
  const Tensor e = effective_of(*r, noisy);
  for (int64_t i = 0; i < 48; ++i) EXPECT_NEAR(e[i], exact[i], 0.01f) << i;
  EXPECT_LT(relative_mse(noisy, e), 1e-4);
}

TEST(ProductFormat, ARowThatDDoesNotDivideEndsInAShorterSubVector) {
  // Rows of 6 with d = 4: sub-vectors of 4 and 2 elements. The short ones use their codeword's
  // first two entries, and clustering counts only those.
  const Tensor w({4, 6}, {1, 2, 3, 4, 5, 6,   //
                          1, 2, 3, 4, 5, 6,   //
                          -1, -2, -3, -4, 7, 8,  //
                          -1, -2, -3, -4, 7, 8});
  auto q = make_quantizer("pq", {{"d", 4}, {"k", 4}}, w);
  EXPECT_EQ(effective_of(*q, w), w);
  std::string state;
  q->write_state(state);
  EXPECT_EQ(state.size(), 8u + 4u * 4u * 4u) << "u32 d, u32 k, 4 codewords of 4 floats";
}

TEST(ProductFormat, AConvolutionFilterSplitsIntoItsKernelsWithDNine) {
  // A 4 x 3 x 3 x 3 Conv2d weight whose 3x3 kernels are each one of two: with d = 9 a row (a
  // filter of 27) is three sub-vectors, one kernel each, and two codewords reproduce it.
  Tensor w({4, 3, 3, 3});
  for (int64_t kernel = 0; kernel < 12; ++kernel)
    for (int64_t t = 0; t < 9; ++t)
      w[9 * kernel + t] = (kernel * 7) % 3 == 0 ? 0.1f * static_cast<float>(t) : -0.5f + 0.2f * static_cast<float>(t % 4);
  auto q = make_quantizer("pq", {{"d", 9}, {"k", 2}}, w);
  EXPECT_EQ(q->bits(), 1);
  EXPECT_EQ(effective_of(*q, w), w);
}

TEST(ProductFormat, PrunedWeightsStayZeroAndPullNoCodeword) {
  Tensor w = prototype_weight(0.0f, 1);
  Tensor mask(w.shape(), 1.0f);
  // Prune elements of several sub-vectors, replacing their values by wild numbers that would
  // drag a codeword if they counted; sub-vector 7 (elements 28..31) is pruned entirely.
  for (int64_t i : {1, 6, 11, 28, 29, 30, 31, 45}) {
    mask[i] = 0.0f;
    w[i] = 1000.0f;
  }
  auto q = make_quantizer("pq", {{"d", 4}, {"k", 3}}, w);
  const Tensor e = effective_of(*q, w, mask);
  const Tensor exact = prototype_weight(0.0f, 1);
  for (int64_t i = 0; i < 48; ++i) EXPECT_EQ(e[i], mask[i] != 0.0f ? exact[i] : 0.0f) << i;
}

// A Linear layer with a product-quantized, partly pruned weight: with "centroid_grad": "sum"
// d loss / d codebook from backward matches central differences of the loss in the codebook;
// with the default "mean" each entry's is that derivative divided by the number of weights the
// entry stands for; the latent weight gets no gradient.
TEST(ProductFormat, CodebookGradientsAreTheMembersMeanOrSumOfGradients) {
  // Rows of 6, d = 4: a full and a short sub-vector per row, 10 sub-vectors on 3 codewords;
  // element i of a row is entry (i % 6) % 4 of its sub-vector's codeword.
  testing::check_shared_weight_gradients("pq", {{"d", 4}, {"k", 3}}, "codebook", [](int64_t i, uint32_t code) {
    return int64_t{code} * 4 + (i % 6) % 4;
  });
}

TEST(ProductFormat, BadOptionsAndCorruptStatesAreClearErrors) {
  const Tensor w({2, 8});
  EXPECT_EQ(bad_input_message([&] { make_quantizer("pq", {{"d", 0}}, w); }),
            "quantizer pq: d (the sub-vector length) must be in 1..4096, got 0");
  EXPECT_EQ(bad_input_message([&] { make_quantizer("pq", {{"k", 1}}, w); }),
            "quantizer pq: k (codewords per layer) must be in 2..65536, got 1");
  EXPECT_EQ(bad_input_message([&] { make_quantizer("pq", {{"k", 16}, {"bits", 4}}, w); }),
            "quantizer pq: give the codebook size as k or as bits (k = 2^bits), not both");
  EXPECT_EQ(bad_input_message([&] { make_quantizer("pq", {{"bits", 17}}, w); }),
            "quantizer pq: bits must be in 1..16, got 17");
  EXPECT_NE(bad_input_message([&] { make_quantizer("pq", {{"dim", 4}}, w); }).find("dim"), std::string::npos);
  EXPECT_EQ(bad_input_message([&] { make_quantizer("pq", {{"d", 4096}, {"k", 65536}}, w); }),
            "quantizer pq: a codebook of k x d = 65536 x 4096 floats is larger than the 16777216 allowed");
  EXPECT_EQ(make_quantizer("pq", {{"bits", 5}}, w)->options()["k"], 32);
  EXPECT_EQ(make_quantizer("pq", {}, w)->options(),
            (nlohmann::json{{"d", 4}, {"k", 256}, {"seed", 0}, {"iterations", 100}, {"centroid_grad", "mean"}}));
  EXPECT_EQ(bad_input_message([&] { make_quantizer("pq", {{"centroid_grad", "max"}}, w); }),
            "quantizer pq: centroid_grad must be 'mean' (each shared value steps by its members' mean gradient) "
            "or 'sum' (by their sum, Deep Compression's rule), got 'max'");

  const QuantizerFormat& format = *find_quantizer_format("pq");
  auto state_of = [](uint32_t d, uint32_t k, size_t floats, float value = 0.0f) {
    std::string s(reinterpret_cast<const char*>(&d), 4);
    s.append(reinterpret_cast<const char*>(&k), 4);
    for (size_t i = 0; i < floats; ++i) s.append(reinterpret_cast<const char*>(&value), 4);
    return s;
  };
  EXPECT_NE(bad_input_message([&] { format.read_state(state_of(0, 4, 0), {2, 8}); }).find("sub-vector length of 0"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { format.read_state(state_of(4, 1, 4), {2, 8}); }).find("1 codewords"),
            std::string::npos);
  // A huge codebook announced in a short state is refused before anything is allocated.
  EXPECT_NE(bad_input_message([&] { format.read_state(state_of(4096, 65536, 1), {2, 8}); }).find("need"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { format.read_state(state_of(2, 2, 4, std::nanf("")), {2, 8}); })
                .find("must be finite"),
            std::string::npos);
  auto q = format.read_state(state_of(4, 3, 12), {2, 8});
  EXPECT_EQ(q->bits(), 2);
  Tensor values({2, 8});
  std::vector<uint32_t> bad(16, 0);
  bad[5] = 3;
  EXPECT_NE(bad_input_message([&] { q->decode(bad, values); }).find("pq code 3"), std::string::npos);
}

// A model with one plain and one pruned product-quantized layer saves and loads bit for bit;
// the file stores one code per sub-vector (none for a sub-vector whose elements are all pruned),
// and the loaded layers keep training.
TEST(ProductFormat, RoundTripsThroughTheFileStoringOneCodePerSubVector) {
  Model model = Model::from_graph_json(
      {{"input", {{"name", "x"}, {"shape", {30}}}},
       {"nodes",
        {{{"name", "fc1"}, {"type", "Linear"}, {"attributes", {{"out_features", 40}}}},
         {{"name", "relu"}, {"type", "ReLU"}},
         {{"name", "fc2"}, {"type", "Linear"}, {"attributes", {{"out_features", 10}}}}}}});
  model.initialize(2);
  Parameter& fc1 = model.parameter("fc1.weight");
  Parameter& fc2 = model.parameter("fc2.weight");
  fc2.mask = Tensor(fc2.value.shape(), 1.0f);
  Rng rng(8);
  for (float& m : fc2.mask) m = rng.uniform() < 0.5f ? 1.0f : 0.0f;
  fc2.apply_mask();
  // fc1: rows of 30 in 8 sub-vectors (7 of 4, one of 2), 320 codes of 5 bits; fc2: rows of 40
  // in 5 sub-vectors of 8, codes of 4 bits only for the sub-vectors that keep an element.
  fc1.set_quantizer(make_quantizer("pq", {{"d", 4}, {"k", 32}}, fc1.value));
  fc2.set_quantizer(make_quantizer("pq", {{"d", 8}, {"bits", 4}}, fc2.value));
  const std::string header = std::string(1, '\x02') + "pq" + "0123";  // name, u32 state length
  const int64_t fc1_state = 8 + 4 * 32 * 4;
  EXPECT_EQ(find_tensor_encoding("quantized")->encoded_size(fc1),
            static_cast<int64_t>(header.size()) + fc1_state + (320 * 5 + 7) / 8);
  int64_t stored_groups = 0;
  for (int64_t g = 0; g < 50; ++g) {
    bool any = false;
    for (int64_t t = 0; t < 8; ++t) any = any || fc2.mask[8 * g + t] != 0.0f;
    stored_groups += any;
  }
  EXPECT_EQ(find_tensor_encoding("quantized-bitmap")->encoded_size(fc2),
            static_cast<int64_t>(header.size()) + 8 + 4 * 16 * 8 + (400 + 7) / 8 + (stored_groups * 4 + 7) / 8);

  const std::string bytes = serialize_model(model);
  Model back = deserialize_model(bytes, "memory");
  for (const char* name : {"fc1.weight", "fc2.weight"}) {
    const Parameter& a = model.parameter(name);
    const Parameter& b = back.parameter(name);
    ASSERT_TRUE(b.quantized()) << name;
    EXPECT_STREQ(b.quantizer()->format().name, "pq");
    EXPECT_EQ(b.quantizer()->options()["d"], a.quantizer()->options()["d"]);
    for (int64_t i = 0; i < a.value.numel(); ++i)
      ASSERT_EQ(std::bit_cast<uint32_t>(b.effective()[i]), std::bit_cast<uint32_t>(a.effective()[i])) << name << " " << i;
  }
  EXPECT_EQ(back.parameter("fc2.weight").mask, fc2.mask);
  EXPECT_EQ(serialize_model(back), bytes) << "a loaded model saves to the same bytes";
  // The loaded quantizer finds its assignment again and trains its codebook.
  Parameter& loaded = back.parameter("fc1.weight");
  Tensor x({2, 30});
  for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
  loaded.mark_changed();
  const Tensor y = back.forward(x, /*training=*/true);
  back.backward(Tensor(y.shape(), 1.0f), /*accumulate=*/false);
  double codebook_grad = 0.0;
  for (float g : loaded.quantizer()->state_parameters().at(0)->grad) codebook_grad += std::abs(g);
  EXPECT_GT(codebook_grad, 0.0);
  EXPECT_EQ(loaded.effective(), model.parameter("fc1.weight").effective());
}

}  // namespace
}  // namespace shrink
