// kmeans: weight sharing (Deep Compression, Han et al. 2016). The kept weights of a layer are
// clustered into k = 2^bits centroids by one-dimensional k-means (kmeans_1d.hpp); every weight
// becomes its centroid, and its code is the centroid's index. The assignment is made once, on
// the first quantization, and then stays fixed: fine-tuning trains the centroids and the latent
// weight gets no gradient. Pruned weights (mask 0) are not clustered, stay zero and give their
// centroid nothing.
//
// A centroid's gradient ("centroid_grad"): "mean" (the default) is the mean of its members'
// gradients, as Stock et al. 2020 fine-tune their codewords; "sum" is the true derivative of the
// loss, the sum (Deep Compression's shared-weight update). The sum over the ~15,000 members a
// centroid of an unpruned layer has makes its step thousands of times a weight's, so fine-tuning
// at a weight's learning rate diverges; the mean steps a centroid like one weight. The mean is
// the sum scaled per centroid by 1/members: the same descent direction per centroid.
//
// Bits: "bits" for every layer, else by layer type as in the paper, "conv_bits" (8) for weights
// of rank 4 (Conv2d, ConvTranspose2d) and "fc_bits" (5) for the others (Linear, MatMul).
// State: the bit width, then the 2^bits centroids. A weight loaded from a file holds its
// centroids' values, so its assignment is found again as each value's equal (nearest) centroid.
#include "nn/quant/kmeans_1d.hpp"
#include "nn/quant/quant_support.hpp"
#include "shrink/nn/parameter.hpp"

#include <algorithm>

namespace shrink {
namespace {

constexpr uint32_t kPruned = UINT32_MAX;  // an element that belongs to no cluster
constexpr int kMaxKmeansBits = 8;

// A bit width option other than "bits" (conv_bits, fc_bits), in 1..kMaxKmeansBits.
int read_width(JsonOptions& options, const char* key, int fallback) {
  const int bits = options.get<int>(key, fallback);
  require(bits >= 1 && bits <= kMaxKmeansBits,
          std::string("quantizer kmeans: ") + key + " must be in 1.." +
              std::to_string(kMaxKmeansBits) + ", got " + std::to_string(bits));
  return bits;
}

class KMeansQuantizer final : public Quantizer {
 public:
  KMeansQuantizer(int bits, quant::KMeansInit init, uint64_t seed, int iterations, bool mean_grad)
      : bits_(bits), init_(init), seed_(seed), iterations_(iterations), mean_grad_(mean_grad) {
    centroids_.name = "centroids";
    centroids_.value = Tensor({int64_t{1} << bits});
    centroids_.grad = Tensor({int64_t{1} << bits});
  }

  const QuantizerFormat& format() const override { return kKMeansFormat; }
  std::unique_ptr<Quantizer> clone() const override { return std::make_unique<KMeansQuantizer>(*this); }
  nlohmann::json options() const override {
    return {{"bits", bits_},
            {"init", init_ == quant::KMeansInit::Linear ? "linear" : "kmeans++"},
            {"seed", seed_},
            {"iterations", iterations_},
            {"centroid_grad", mean_grad_ ? "mean" : "sum"}};
  }
  int bits() const override { return bits_; }

  void follow(const Tensor& latent, const Tensor& mask) override {
    const int64_t n = latent.numel();
    if (!clustered_) {
      cluster(latent, mask);
      return;
    }
    if (static_cast<int64_t>(assignment_.size()) != n) {
      // Read from a file: each kept value is its centroid's value.
      const std::vector<quant::SortedCentroid> sorted = quant::sorted_centroids(centroid_values());
      assignment_.assign(static_cast<size_t>(n), kPruned);
      for (int64_t i = 0; i < n; ++i)
        if (quant::counts(mask, i)) assignment_[static_cast<size_t>(i)] = quant::nearest_centroid(sorted, latent[i]);
      return;
    }
    // The assignment is fixed; only weights pruned since leave their cluster.
    if (!mask.empty())
      for (int64_t i = 0; i < n; ++i)
        if (mask[i] == 0.0f) assignment_[static_cast<size_t>(i)] = kPruned;
  }

  void fake_quantize(const Tensor& latent, Tensor& effective) const override {
    if (static_cast<int64_t>(assignment_.size()) != latent.numel())
      throw Error::internal("kmeans: fake_quantize before follow assigned the weights");
    for (int64_t i = 0; i < latent.numel(); ++i) {
      const uint32_t a = assignment_[static_cast<size_t>(i)];
      effective[i] = a == kPruned ? 0.0f : centroids_.value[a];
    }
  }

  void backward(const Tensor& latent, Tensor& grad) override {
    if (static_cast<int64_t>(assignment_.size()) != latent.numel())
      throw Error::internal("kmeans: backward before follow assigned the weights");
    if (centroids_.grad.shape() != centroids_.value.shape()) centroids_.grad = Tensor(centroids_.value.shape());
    const size_t k = static_cast<size_t>(centroids_.value.numel());
    std::vector<double> sum(k, 0.0);
    std::vector<int64_t> members(k, 0);
    for (int64_t i = 0; i < latent.numel(); ++i) {
      const uint32_t a = assignment_[static_cast<size_t>(i)];
      if (a != kPruned) {
        sum[a] += grad[i];
        ++members[a];
      }
      grad[i] = 0.0f;  // the assignment is fixed: the latent weight does not train
    }
    for (size_t c = 0; c < k; ++c)
      if (members[c] > 0)
        centroids_.grad[static_cast<int64_t>(c)] +=
            static_cast<float>(mean_grad_ ? sum[c] / static_cast<double>(members[c]) : sum[c]);
  }

  std::vector<Parameter*> state_parameters() override { return {&centroids_}; }

  void encode(const Tensor& effective, std::span<uint32_t> codes) const override {
    // The code of a value is the lowest index of the centroids equal to it; a value that is
    // none (a pruned zero) gets code 0, which the writer does not store.
    const std::vector<quant::SortedCentroid> sorted = quant::sorted_centroids(centroid_values());
    for (int64_t i = 0; i < effective.numel(); ++i) {
      const uint32_t nearest = quant::nearest_centroid(sorted, effective[i]);
      codes[static_cast<size_t>(i)] = centroids_.value[nearest] == effective[i] ? nearest : 0u;
    }
  }

  void decode(std::span<const uint32_t> codes, Tensor& values) const override {
    const uint32_t last = static_cast<uint32_t>(centroids_.value.numel() - 1);
    for (int64_t i = 0; i < values.numel(); ++i) {
      const uint32_t code = codes[static_cast<size_t>(i)];
      quant::require_code(code, last, "kmeans");
      values[i] = centroids_.value[code];
    }
  }

  void write_state(std::string& out) const override {
    bytes::put_u8(out, static_cast<uint8_t>(bits_));
    for (float c : centroids_.value) bytes::put_f32(out, c);
  }

  static std::unique_ptr<Quantizer> make(const nlohmann::json& json, const Tensor& weight) {
    JsonOptions options = quant::quantizer_options("kmeans", json);
    const bool conv = weight.shape().size() == 4;
    const int conv_bits = read_width(options, "conv_bits", 8);
    const int fc_bits = read_width(options, "fc_bits", 5);
    const int bits =
        quant::read_bits(options, "kmeans", conv ? conv_bits : fc_bits, 1, kMaxKmeansBits);
    const std::string init = options.get<std::string>("init", "linear");
    require(init == "linear" || init == "kmeans++",
            "quantizer kmeans: init must be 'linear' (evenly spaced over [min, max], as Deep "
            "Compression does) or 'kmeans++', got '" + init + "'");
    const int64_t seed = options.get<int64_t>("seed", 0);
    require(seed >= 0, "quantizer kmeans: seed must not be negative, got " + std::to_string(seed));
    const int iterations = options.get<int>("iterations", 100);
    require(iterations >= 0 && iterations <= 100000,
            "quantizer kmeans: iterations must be in 0..100000, got " + std::to_string(iterations));
    const bool mean_grad = quant::read_centroid_grad(options, "kmeans");
    options.finish();
    return std::make_unique<KMeansQuantizer>(
        bits, init == "linear" ? quant::KMeansInit::Linear : quant::KMeansInit::PlusPlus,
        static_cast<uint64_t>(seed), iterations, mean_grad);
  }

  static std::unique_ptr<Quantizer> read_state(std::string_view state, const Shape&) {
    bytes::Reader in = quant::state_reader(state, "kmeans");
    const int bits = in.u8("bit width");
    require(bits >= 1 && bits <= kMaxKmeansBits,
            "kmeans state has a bit width of " + std::to_string(bits) + "; it must be in 1.." +
                std::to_string(kMaxKmeansBits));
    auto quantizer = std::make_unique<KMeansQuantizer>(bits, quant::KMeansInit::Linear, 0, 0, true);
    for (float& c : quantizer->centroids_.value) {
      c = in.f32("centroid");
      require(std::isfinite(c), "kmeans state has a centroid of " + std::to_string(c) +
                                    "; centroids must be finite");
    }
    in.finish();
    quantizer->clustered_ = true;
    return quantizer;
  }

 private:
  std::span<const float> centroid_values() const {
    return {centroids_.value.data(), static_cast<size_t>(centroids_.value.numel())};
  }

  void cluster(const Tensor& latent, const Tensor& mask) {
    std::vector<float> kept;
    std::vector<int64_t> where;
    for (int64_t i = 0; i < latent.numel(); ++i)
      if (quant::counts(mask, i)) {
        kept.push_back(latent[i]);
        where.push_back(i);
      }
    const quant::KMeans1d result =
        quant::cluster_1d(kept, static_cast<int>(centroids_.value.numel()), init_, seed_, iterations_);
    std::copy(result.centroids.begin(), result.centroids.end(), centroids_.value.data());
    assignment_.assign(static_cast<size_t>(latent.numel()), kPruned);
    for (size_t j = 0; j < where.size(); ++j) assignment_[static_cast<size_t>(where[j])] = result.assignment[j];
    clustered_ = true;
  }

  int bits_;
  quant::KMeansInit init_;
  uint64_t seed_;
  int iterations_;
  bool mean_grad_;  // a centroid's gradient is its members' mean (else their sum)
  bool clustered_ = false;
  Parameter centroids_;              // 2^bits shared values, trained by fine-tuning
  std::vector<uint32_t> assignment_; // per element: its centroid, or kPruned
};

}  // namespace

const QuantizerFormat kKMeansFormat = {
    "kmeans", "1-8 bits: weight sharing, 2^bits centroids by k-means over the kept weights (Deep Compression)",
    KMeansQuantizer::make, KMeansQuantizer::read_state};

}  // namespace shrink
