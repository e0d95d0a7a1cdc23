#pragma once
// In-memory labelled datasets, their normalization, validation splits and seeded batching.
#include "shrink/core/tensor.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace shrink {

// Maps raw values to network inputs: x = (raw * scale - mean[c]) / std[c].
// The channel c of an element is the first axis of the sample shape when samples have rank >= 2
// ([C, H, W] images), and the feature itself when samples have rank 1 (tabular [features]), so
// tabular data can be standardized per column. A mean or std with one value applies to every
// channel. Fashion-MNIST default: scale 1/255, mean 0, std 1 ([0, 1] inputs).
struct Normalization {
  float scale = 1.0f;
  std::vector<float> mean{0.0f};
  std::vector<float> std{1.0f};

  nlohmann::json to_json() const;  // {"scale": s, "mean": [...], "std": [...]}
  static Normalization from_json(const nlohmann::json& json);
  // Throws unless mean and std have 1 or `channels` values and every std is positive and finite.
  void validate(int64_t channels) const;
  bool operator==(const Normalization&) const = default;
};

// An in-memory labelled dataset. Images are kept as bytes (uint8, as the IDX files hold them) so
// Fashion-MNIST's 70k images cost 55 MB, not 220; tabular data is kept as floats.
class Dataset {
 public:
  std::string name;                       // "fashion-mnist/train"
  Shape sample_shape;                     // [1, 28, 28] or [features]
  int num_classes = 0;
  std::vector<std::string> class_names;   // one per class ("0", "1", ... when the source has none)
  Normalization normalization;

  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  int64_t sample_numel() const { return sample_numel_; }
  bool stores_bytes() const { return is_bytes_; }
  // Number of normalization channels (see Normalization).
  int64_t channels() const;
  int32_t label(int64_t i) const;
  const std::vector<int32_t>& labels() const { return labels_; }
  // Sample i's raw value j (a byte 0..255 or a stored float), before normalization.
  float raw(int64_t i, int64_t j) const;

  // Writes the samples at `indices` into x ([n, ...sample_shape], normalized) and their labels.
  void gather(const int64_t* indices, int64_t n, Tensor& x, std::vector<int32_t>& labels) const;
  void gather(const std::vector<int64_t>& indices, Tensor& x, std::vector<int32_t>& labels) const {
    gather(indices.data(), static_cast<int64_t>(indices.size()), x, labels);
  }
  // A hint that the samples at `indices` will be gathered soon: starts loading them into the
  // cache, so a shuffled batch does not wait on memory one sample at a time. Changes nothing.
  void prefetch(const std::vector<int64_t>& indices) const;
  // The stored bytes of the samples at `indices`, one span per sample: what prefetch() loads.
  // Indices out of range are skipped (a hint never fails; gather() reports them).
  std::vector<std::span<const std::byte>> sample_memory(const std::vector<int64_t>& indices) const;

  // The samples at [begin, end) as a new dataset sharing nothing; and a subset by index list
  // (indices may repeat and come in any order; the subset keeps that order).
  Dataset slice(int64_t begin, int64_t end) const;
  Dataset subset(const std::vector<int64_t>& indices) const;

  // From raw storage (used by readers and tests). Labels must lie in [0, num_classes).
  static Dataset from_bytes(std::string name, Shape sample_shape, std::vector<uint8_t> pixels,
                            std::vector<int32_t> labels, int num_classes);
  static Dataset from_floats(std::string name, Shape sample_shape, std::vector<float> features,
                             std::vector<int32_t> labels, int num_classes);

 private:
  void check_index(int64_t i) const;
  Dataset empty_like() const;  // same metadata and storage kind, no samples

  bool is_bytes_ = true;
  int64_t sample_numel_ = 0;
  std::vector<uint8_t> bytes_;    // used when is_bytes_
  std::vector<float> features_;   // used otherwise
  std::vector<int32_t> labels_;
};

// Per-channel mean and std of raw * data.normalization.scale over the whole dataset, keeping the
// scale: the usual standardization, fitted on training data and reused for the test split.
Normalization fit_normalization(const Dataset& data);

// Splits off the last `fraction` (after a shuffle seeded by `seed`) as validation and returns
// {train, validation}. Both parts keep the original sample order. fraction must be in [0, 1).
std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction, uint64_t seed);

// Seeded mini-batch order: each epoch a fresh permutation from Rng(seed + epoch), so epoch e's
// order does not depend on how many epochs ran before it. Without shuffle, batches follow 0..size.
class BatchSampler {
 public:
  BatchSampler(int64_t size, int64_t batch_size, bool shuffle, uint64_t seed,
               bool drop_last = false);
  // Starts epoch `epoch` (the constructor starts epoch 0).
  void start_epoch(int epoch);
  // Fills `indices` with the next batch; false (and `indices` empty) when the epoch is done.
  bool next(std::vector<int64_t>& indices);
  // The batch next() will give, without taking it.
  bool peek(std::vector<int64_t>& indices) const;
  int64_t batches_per_epoch() const;

 private:
  int64_t size_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  std::vector<int64_t> order_;
  int64_t position_ = 0;
};

// Dataset specs as the CLI takes them:
//   "fashion-mnist"                  -> /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)
//   "fashion-mnist:DIR", "mnist:DIR" -> IDX files in DIR: {train,t10k}-{images-idx3,labels-idx1}-ubyte
//                                       with or without .gz (also the "images.idx3-ubyte" spelling)
//   "csv:FILE[,label=COL][,header]"  -> CSV features + an integer label column. COL is a 0-based
//                                       index (negative counts from the end; default -1, the last
//                                       column) or, with header, a column name.
// split: "train" or "test". IDX datasets read the matching files. For CSV, a "{split}" in FILE is
// replaced by the split name ("csv:iris-{split}.csv" reads iris-train.csv or iris-test.csv);
// without it the whole file serves both splits, so use split_validation to hold data out.
// IDX images get sample shape [1, rows, cols] and normalization scale 1/255; CSV features are
// used as they are (scale 1; see fit_normalization).
Dataset load_dataset(const std::string& spec, const std::string& split);
// False for a CSV spec without "{split}": its test split is the training file itself, so an
// accuracy measured on it is not a test accuracy.
bool has_separate_test_split(const std::string& spec);

}  // namespace shrink
