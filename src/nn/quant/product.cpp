// pq: product quantization of weight rows (Gong et al. 2014; Stock et al. 2020, "And the bit
// goes down"). Each row of the weight (a Linear output row, a Conv2d filter flattened: the
// elements under one index of the first axis) is cut into sub-vectors of d consecutive
// elements; one codebook of k codewords of d floats per layer, learned by k-means over the
// layer's sub-vectors (kmeans_vectors.hpp), replaces each sub-vector by its nearest codeword, and
// the file stores one ceil(log2 k)-bit code per sub-vector plus the codebook. A row whose
// length d does not divide ends in a shorter sub-vector, which uses its codeword's first
// (row length mod d) entries: clustering counts only those.
//
// Pruned weights (mask 0) compose: they take no part in clustering (a sub-vector's distance and
// its codeword's means count only its kept elements), stay zero, and give their codeword no
// gradient; a sub-vector with no kept element has no codeword and is not stored. The assignment
// is made once, on the first quantization, and then stays fixed: fine-tuning trains the
// codebook, each codeword entry by the mean of the gradients of the elements it stands for (Stock
// et al.'s update; "centroid_grad": "sum" gives the sum, the true derivative, whose step grows
// with the member count), and the latent weight gets no gradient.
//
// Codes are per element in the Quantizer interface: every element of a sub-vector carries its
// sub-vector's code, and element t of a sub-vector decodes to entry t of that codeword;
// code_groups() tells the file to store one code per sub-vector.
//
// State: u32 d, u32 k, then the k x d codebook (f32, codeword by codeword). A weight loaded
// from a file holds its codewords' values, so its assignment is found again as each
// sub-vector's nearest (equal) codeword.
#include "nn/quant/code_groups.hpp"
#include "nn/quant/kmeans_vectors.hpp"
#include "nn/quant/quant_support.hpp"
#include "shrink/nn/parameter.hpp"

#include <algorithm>
#include <bit>

namespace shrink {
namespace {

constexpr uint32_t kNoCodeword = UINT32_MAX;  // a sub-vector with no kept element
constexpr int64_t kMaxLength = 4096;          // largest sub-vector length d
constexpr int64_t kMaxCodewords = 65536;      // largest codebook: 16-bit codes
constexpr int64_t kMaxCodebook = 1 << 24;     // floats in a codebook built from options (64 MiB)

int bits_for(int64_t k) { return std::max(1, static_cast<int>(std::bit_width(static_cast<uint64_t>(k - 1)))); }

class ProductQuantizer final : public Quantizer {
 public:
  ProductQuantizer(int64_t d, int64_t k, uint64_t seed, int iterations, bool mean_grad)
      : d_(d), k_(k), seed_(seed), iterations_(iterations), mean_grad_(mean_grad) {
    codebook_.name = "codebook";
    codebook_.value = Tensor({k, d});
    codebook_.grad = Tensor({k, d});
  }

  const QuantizerFormat& format() const override { return kProductFormat; }
  std::unique_ptr<Quantizer> clone() const override { return std::make_unique<ProductQuantizer>(*this); }
  nlohmann::json options() const override {
    return {{"d", d_}, {"k", k_}, {"seed", seed_}, {"iterations", iterations_},
            {"centroid_grad", mean_grad_ ? "mean" : "sum"}};
  }
  int bits() const override { return bits_for(k_); }
  // The sub-vectors of a weight of `shape`.
  quant::CodeGroups groups_for(const Shape& shape) const { return {row_length(shape), d_}; }

  void follow(const Tensor& latent, const Tensor& mask) override {
    groups_ = groups_for(latent.shape());
    const int64_t n = latent.numel();
    kept_.assign(static_cast<size_t>(n), 1);
    for (int64_t i = 0; i < n; ++i) kept_[static_cast<size_t>(i)] = quant::counts(mask, i);
    const int64_t count = group_count(n);
    if (!clustered_) {
      cluster(latent, count);
      return;
    }
    if (static_cast<int64_t>(assignment_.size()) != count) {
      find_assignment(latent, count);  // read from a file: each kept value is its codeword's
      return;
    }
    // The assignment is fixed; a sub-vector pruned entirely since leaves its codeword.
    std::vector<char> any(static_cast<size_t>(count), 0);
    for (int64_t i = 0; i < n; ++i)
      if (kept_[static_cast<size_t>(i)]) any[static_cast<size_t>(groups_.group_of(i))] = 1;
    for (int64_t g = 0; g < count; ++g)
      if (!any[static_cast<size_t>(g)]) assignment_[static_cast<size_t>(g)] = kNoCodeword;
  }

  void fake_quantize(const Tensor& latent, Tensor& effective) const override {
    require_assigned(latent, "fake_quantize");
    for (int64_t i = 0; i < latent.numel(); ++i) {
      const uint32_t a = assignment_[static_cast<size_t>(groups_.group_of(i))];
      effective[i] = a == kNoCodeword || !kept_[static_cast<size_t>(i)] ? 0.0f : entry(a, i);
    }
  }

  void backward(const Tensor& latent, Tensor& grad) override {
    require_assigned(latent, "backward");
    if (codebook_.grad.shape() != codebook_.value.shape()) codebook_.grad = Tensor(codebook_.value.shape());
    const size_t entries = static_cast<size_t>(codebook_.value.numel());
    std::vector<double> sum(entries, 0.0);
    std::vector<int64_t> members(entries, 0);
    for (int64_t i = 0; i < latent.numel(); ++i) {
      const uint32_t a = assignment_[static_cast<size_t>(groups_.group_of(i))];
      if (a != kNoCodeword && kept_[static_cast<size_t>(i)]) {
        const size_t e = static_cast<size_t>(static_cast<int64_t>(a) * d_ + offset(i));
        sum[e] += grad[i];
        ++members[e];
      }
      grad[i] = 0.0f;  // the assignment is fixed: the latent weight does not train
    }
    for (size_t e = 0; e < entries; ++e)
      if (members[e] > 0)
        codebook_.grad[static_cast<int64_t>(e)] +=
            static_cast<float>(mean_grad_ ? sum[e] / static_cast<double>(members[e]) : sum[e]);
  }

  std::vector<Parameter*> state_parameters() override { return {&codebook_}; }

  void encode(const Tensor& effective, std::span<uint32_t> codes) const override {
    // Every element carries its sub-vector's codeword; one with none (all pruned) gets code 0,
    // which the writer does not store. A quantizer that has not followed this weight (a model
    // just loaded, whose effective weight is the decoded file) finds the codewords from the
    // values.
    const quant::CodeGroups groups = groups_for(effective.shape());
    const bool assigned = static_cast<int64_t>(kept_.size()) == effective.numel() &&
                          static_cast<int64_t>(assignment_.size()) == group_count(effective.numel());
    const std::vector<uint32_t> assignment = assigned ? assignment_ : codewords_of(effective);
    for (int64_t i = 0; i < effective.numel(); ++i) {
      const uint32_t a = assignment[static_cast<size_t>(groups.group_of(i))];
      codes[static_cast<size_t>(i)] = a == kNoCodeword ? 0u : a;
    }
  }

  void decode(std::span<const uint32_t> codes, Tensor& values) const override {
    const quant::CodeGroups groups = groups_for(values.shape());
    const uint32_t last = static_cast<uint32_t>(k_ - 1);
    for (int64_t i = 0; i < values.numel(); ++i) {
      const uint32_t code = codes[static_cast<size_t>(i)];
      quant::require_code(code, last, "pq");
      values[i] = codebook_.value[static_cast<int64_t>(code) * d_ + (i % groups.row_length) % d_];
    }
  }

  void write_state(std::string& out) const override {
    bytes::put_u32(out, static_cast<uint32_t>(d_));
    bytes::put_u32(out, static_cast<uint32_t>(k_));
    for (float c : codebook_.value) bytes::put_f32(out, c);
  }

  static std::unique_ptr<Quantizer> make(const nlohmann::json& json, const Tensor&) {
    JsonOptions options = quant::quantizer_options("pq", json);
    const int64_t d = options.get<int64_t>("d", 4);
    require(d >= 1 && d <= kMaxLength, "quantizer pq: d (the sub-vector length) must be in 1.." +
                                           std::to_string(kMaxLength) + ", got " + std::to_string(d));
    require(!(options.has("k") && options.has("bits")),
            "quantizer pq: give the codebook size as k or as bits (k = 2^bits), not both");
    int64_t k = 256;
    if (options.has("bits")) k = int64_t{1} << quant::read_bits(options, "pq", 8, 1, 16);
    k = options.get<int64_t>("k", k);
    require(k >= 2 && k <= kMaxCodewords, "quantizer pq: k (codewords per layer) must be in 2.." +
                                              std::to_string(kMaxCodewords) + ", got " + std::to_string(k));
    require(k * d <= kMaxCodebook, "quantizer pq: a codebook of k x d = " + std::to_string(k) + " x " +
                                       std::to_string(d) + " floats is larger than the " +
                                       std::to_string(kMaxCodebook) + " allowed");
    const int64_t seed = options.get<int64_t>("seed", 0);
    require(seed >= 0, "quantizer pq: seed must not be negative, got " + std::to_string(seed));
    const int iterations = options.get<int>("iterations", 100);
    require(iterations >= 0 && iterations <= 100000,
            "quantizer pq: iterations must be in 0..100000, got " + std::to_string(iterations));
    const bool mean_grad = quant::read_centroid_grad(options, "pq");
    options.finish();
    return std::make_unique<ProductQuantizer>(d, k, static_cast<uint64_t>(seed), iterations, mean_grad);
  }

  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape&) {
    bytes::Reader in = quant::state_reader(state, "pq");
    const int64_t d = in.u32("sub-vector length");
    const int64_t k = in.u32("codeword count");
    require(d >= 1 && d <= kMaxLength, "pq state has a sub-vector length of " + std::to_string(d) +
                                           "; it must be in 1.." + std::to_string(kMaxLength));
    require(k >= 2 && k <= kMaxCodewords, "pq state has " + std::to_string(k) +
                                              " codewords; it must have 2.." + std::to_string(kMaxCodewords));
    const int64_t expected = 8 + 4 * k * d;  // checked before allocating the codebook
    require(static_cast<int64_t>(state.size()) == expected,
            "pq state is " + std::to_string(state.size()) + " bytes but " + std::to_string(k) +
                " codewords of " + std::to_string(d) + " floats need " + std::to_string(expected));
    auto quantizer = std::make_unique<ProductQuantizer>(d, k, 0, 0, true);
    for (float& c : quantizer->codebook_.value) {
      c = in.f32("codebook entry");
      require(std::isfinite(c), "pq state has a codebook entry of " + std::to_string(c) +
                                    "; codebook entries must be finite");
    }
    in.finish();
    quantizer->clustered_ = true;
    return quantizer;
  }

 private:
  static int64_t row_length(const Shape& shape) {
    const int64_t n = element_count(shape);
    return shape.empty() || shape[0] <= 0 ? std::max<int64_t>(n, 1) : std::max<int64_t>(n / shape[0], 1);
  }
  int64_t group_count(int64_t n) const { return (n / groups_.row_length) * groups_.per_row(); }
  int64_t offset(int64_t i) const { return (i % groups_.row_length) % d_; }
  float entry(uint32_t codeword, int64_t i) const { return codebook_.value[static_cast<int64_t>(codeword) * d_ + offset(i)]; }

  void require_assigned(const Tensor& latent, const char* what) const {
    if (static_cast<int64_t>(kept_.size()) != latent.numel())
      throw Error::internal(std::string("pq: ") + what + " before follow assigned the weights");
  }

  // The sub-vectors with a kept element, as points with present coordinates (d each).
  struct SubVectors {
    std::vector<float> points;
    std::vector<uint8_t> present;
    std::vector<int64_t> group;  // which sub-vector each point is
  };
  SubVectors sub_vectors(const Tensor& latent, int64_t count) const {
    SubVectors s;
    std::vector<int64_t> point_of(static_cast<size_t>(count), -1);
    for (int64_t i = 0; i < latent.numel(); ++i) {
      if (!kept_[static_cast<size_t>(i)]) continue;
      const int64_t g = groups_.group_of(i);
      int64_t& p = point_of[static_cast<size_t>(g)];
      if (p < 0) {
        p = static_cast<int64_t>(s.group.size());
        s.group.push_back(g);
        s.points.resize(s.points.size() + static_cast<size_t>(d_), 0.0f);
        s.present.resize(s.present.size() + static_cast<size_t>(d_), 0);
      }
      s.points[static_cast<size_t>(p * d_ + offset(i))] = latent[i];
      s.present[static_cast<size_t>(p * d_ + offset(i))] = 1;
    }
    return s;
  }

  void cluster(const Tensor& latent, int64_t count) {
    const SubVectors s = sub_vectors(latent, count);
    const quant::KMeansVectors result =
        quant::cluster_vectors(s.points, s.present, d_, static_cast<int>(k_), seed_, iterations_);
    std::copy(result.centroids.begin(), result.centroids.end(), codebook_.value.data());
    assignment_.assign(static_cast<size_t>(count), kNoCodeword);
    for (size_t p = 0; p < s.group.size(); ++p) assignment_[static_cast<size_t>(s.group[p])] = result.assignment[p];
    clustered_ = true;
  }

  void find_assignment(const Tensor& latent, int64_t count) {
    const SubVectors s = sub_vectors(latent, count);
    const std::span<const float> codebook(codebook_.value.data(), static_cast<size_t>(codebook_.value.numel()));
    assignment_.assign(static_cast<size_t>(count), kNoCodeword);
    for (size_t p = 0; p < s.group.size(); ++p)
      assignment_[static_cast<size_t>(s.group[p])] =
          quant::nearest_vector(s.points.data() + p * static_cast<size_t>(d_),
                                s.present.data() + p * static_cast<size_t>(d_), codebook, d_);
  }

  // Each sub-vector's codeword, from effective values alone: the codeword closest on the
  // nonzero elements, then matching the most zeros (a zero is pruned, or a codeword entry that is
  // exactly 0); ties to the lower index.
  std::vector<uint32_t> codewords_of(const Tensor& effective) const {
    const quant::CodeGroups groups = groups_for(effective.shape());
    const int64_t count = (effective.numel() / groups.row_length) * groups.per_row();
    std::vector<uint32_t> assignment(static_cast<size_t>(count), 0);
    for (int64_t g = 0; g < count; ++g) {
      const int64_t row = g / groups.per_row(), begin_t = (g % groups.per_row()) * d_;
      const int64_t length = std::min(d_, groups.row_length - begin_t);
      const float* e = effective.data() + row * groups.row_length + begin_t;
      double best_distance = 0.0;
      int64_t best_misses = 0;
      for (int64_t j = 0; j < k_; ++j) {
        const float* c = codebook_.value.data() + j * d_;
        double distance = 0.0;
        int64_t misses = 0;
        for (int64_t t = 0; t < length; ++t) {
          if (e[t] != 0.0f) distance += (double{e[t]} - c[t]) * (double{e[t]} - c[t]);
          else misses += c[t] != 0.0f;
        }
        if (j == 0 || distance < best_distance || (distance == best_distance && misses < best_misses)) {
          best_distance = distance;
          best_misses = misses;
          assignment[static_cast<size_t>(g)] = static_cast<uint32_t>(j);
        }
      }
    }
    return assignment;
  }

  int64_t d_, k_;
  uint64_t seed_;
  int iterations_;
  bool mean_grad_;  // a codeword entry's gradient is its members' mean (else their sum)
  bool clustered_ = false;
  Parameter codebook_;                // k x d shared sub-vectors, trained by fine-tuning
  quant::CodeGroups groups_;          // the sub-vectors of the weight last followed
  std::vector<uint8_t> kept_;         // per element: not pruned
  std::vector<uint32_t> assignment_;  // per sub-vector: its codeword, or kNoCodeword
};

}  // namespace

const QuantizerFormat kProductFormat = {
    "pq", "product quantization: rows cut into sub-vectors of d, each one of k codewords learned by k-means (Stock et al. 2020)",
    ProductQuantizer::make, ProductQuantizer::read_state};

namespace quant {

CodeGroups code_groups(const Quantizer& quantizer, const Shape& shape) {
  const auto* product = dynamic_cast<const ProductQuantizer*>(&quantizer);
  return product == nullptr ? CodeGroups{} : product->groups_for(shape);
}

}  // namespace quant
}  // namespace shrink
