#include "shrink/data/dataset.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/core/random.hpp"
#include "shrink/data/csv.hpp"
#include "shrink/data/idx.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <numeric>

namespace shrink {

// ---- Normalization ---------------------------------------------------------------------------

nlohmann::json Normalization::to_json() const {
  return {{"scale", scale}, {"mean", mean}, {"std", std}};
}

Normalization Normalization::from_json(const nlohmann::json& json) {
  Normalization n;
  try {
    if (!json.is_object()) throw Error::bad_input("");
    if (json.contains("scale")) n.scale = json.at("scale").get<float>();
    if (json.contains("mean")) {
      const auto& m = json.at("mean");
      n.mean = m.is_array() ? m.get<std::vector<float>>() : std::vector<float>{m.get<float>()};
    }
    if (json.contains("std")) {
      const auto& s = json.at("std");
      n.std = s.is_array() ? s.get<std::vector<float>>() : std::vector<float>{s.get<float>()};
    }
  } catch (const std::exception&) {
    throw Error::bad_input("normalization " + json.dump() +
                           " is not an object {\"scale\": number, \"mean\": [numbers], "
                           "\"std\": [numbers]}");
  }
  if (n.mean.empty() || n.std.empty() || !std::isfinite(n.scale))
    throw Error::bad_input("normalization " + json.dump() +
                           " needs a finite scale and at least one mean and std value");
  return n;
}

void Normalization::validate(int64_t channels) const {
  auto fits = [&](const std::vector<float>& v) {
    return v.size() == 1 || static_cast<int64_t>(v.size()) == channels;
  };
  if (!fits(mean) || !fits(std))
    throw Error::bad_input("normalization has " + std::to_string(mean.size()) + " mean and " +
                           std::to_string(std.size()) + " std values; the data has " +
                           std::to_string(channels) + " channels (give 1 or " +
                           std::to_string(channels) + " of each)");
  if (!std::isfinite(scale)) throw Error::bad_input("normalization scale is not finite");
  for (float m : mean)
    if (!std::isfinite(m)) throw Error::bad_input("normalization mean has a non-finite value");
  for (float s : std)
    if (!(s > 0.0f) || !std::isfinite(s))
      throw Error::bad_input("normalization std " + std::to_string(s) +
                             " must be positive and finite");
}

// ---- Dataset ---------------------------------------------------------------------------------

namespace {

// Elements of a batch from which gather() decodes samples across threads (a batch of 64
// Fashion-MNIST images is 50,176).
constexpr int64_t kParallelGather = int64_t{1} << 14;

void check_labels(const std::string& name, const std::vector<int32_t>& labels, int num_classes) {
  if (num_classes <= 0)
    throw Error::bad_input("dataset " + name + ": num_classes must be positive, got " +
                           std::to_string(num_classes));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= num_classes)
      throw Error::bad_input("dataset " + name + ": label " + std::to_string(labels[i]) +
                             " of sample " + std::to_string(i) + " is outside [0, " +
                             std::to_string(num_classes) + ")");
}

std::vector<std::string> numbered_class_names(int num_classes) {
  std::vector<std::string> names;
  for (int c = 0; c < num_classes; ++c) names.push_back(std::to_string(c));
  return names;
}

int64_t checked_sample_numel(const std::string& name, const Shape& sample_shape) {
  if (sample_shape.empty())
    throw Error::bad_input("dataset " + name + ": sample shape must have at least one axis");
  for (int64_t d : sample_shape)
    if (d <= 0)
      throw Error::bad_input("dataset " + name + ": sample shape " + to_string(sample_shape) +
                             " has a non-positive dimension");
  return element_count(sample_shape);
}

}  // namespace

int64_t Dataset::channels() const {
  return sample_shape.size() >= 2 ? sample_shape[0] : sample_numel_;
}

void Dataset::check_index(int64_t i) const {
  if (i < 0 || i >= size())
    throw Error::bad_input("sample index " + std::to_string(i) + " is out of range for dataset " +
                           name + " of size " + std::to_string(size()));
}

int32_t Dataset::label(int64_t i) const {
  check_index(i);
  return labels_[static_cast<size_t>(i)];
}

float Dataset::raw(int64_t i, int64_t j) const {
  check_index(i);
  if (j < 0 || j >= sample_numel_)
    throw Error::bad_input("element " + std::to_string(j) + " is out of range for samples of " +
                           "shape " + to_string(sample_shape));
  const size_t k = static_cast<size_t>(i * sample_numel_ + j);
  return is_bytes_ ? static_cast<float>(bytes_[k]) : features_[k];
}

void Dataset::gather(const int64_t* indices, int64_t n, Tensor& x,
                     std::vector<int32_t>& labels) const {
  const int64_t channels = this->channels();
  normalization.validate(channels);
  for (int64_t b = 0; b < n; ++b) check_index(indices[b]);

  Shape shape{n};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  x.resize(shape);
  labels.resize(static_cast<size_t>(n));

  const int64_t per_channel = sample_numel_ / channels;
  auto mean_of = [&](int64_t c) { return normalization.mean[normalization.mean.size() == 1 ? 0 : c]; };
  auto std_of = [&](int64_t c) { return normalization.std[normalization.std.size() == 1 ? 0 : c]; };
  const float scale = normalization.scale;

  // Samples are independent: decoding them across threads changes no value. A training batch is
  // scattered over a dataset larger than the cache, so each sample is a run of cache misses and
  // two threads keep twice as many in flight. The formula is written out for bytes too, rather
  // than looked up in a per-byte table, so that it vectorizes (same values; a test batch of 256
  // decodes in 14 µs instead of 34-47).
  auto decode = [&](const auto* samples) {
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (n * sample_numel_ >= kParallelGather)
    for (int64_t b = 0; b < n; ++b) {
      const auto* src = samples + indices[b] * sample_numel_;
      float* dst = x.data() + b * sample_numel_;
      for (int64_t c = 0; c < channels; ++c) {
        const float m = mean_of(c), s = std_of(c);
        for (int64_t k = c * per_channel; k < (c + 1) * per_channel; ++k)
          dst[k] = (static_cast<float>(src[k]) * scale - m) / s;
      }
      labels[static_cast<size_t>(b)] = labels_[static_cast<size_t>(indices[b])];
    }
  };
  if (is_bytes_)
    decode(bytes_.data());
  else
    decode(features_.data());
}

std::vector<std::span<const std::byte>> Dataset::sample_memory(
    const std::vector<int64_t>& indices) const {
  const size_t element = is_bytes_ ? sizeof(uint8_t) : sizeof(float);
  const auto* base = is_bytes_ ? reinterpret_cast<const std::byte*>(bytes_.data())
                               : reinterpret_cast<const std::byte*>(features_.data());
  const size_t bytes = static_cast<size_t>(sample_numel_) * element;
  std::vector<std::span<const std::byte>> spans;
  for (int64_t i : indices)
    if (i >= 0 && i < size()) spans.emplace_back(base + static_cast<size_t>(i) * bytes, bytes);
  return spans;
}

void Dataset::prefetch(const std::vector<int64_t>& indices) const {
  for (const auto sample : sample_memory(indices))
    for (size_t offset = 0; offset < sample.size(); offset += 64)
      __builtin_prefetch(sample.data() + offset);
}

Dataset Dataset::empty_like() const {
  Dataset d;
  d.name = name;
  d.sample_shape = sample_shape;
  d.num_classes = num_classes;
  d.class_names = class_names;
  d.normalization = normalization;
  d.is_bytes_ = is_bytes_;
  d.sample_numel_ = sample_numel_;
  return d;
}

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  if (begin < 0 || begin > end || end > size())
    throw Error::bad_input("slice [" + std::to_string(begin) + ", " + std::to_string(end) +
                           ") is out of range for dataset " + name + " of size " +
                           std::to_string(size()));
  Dataset d = empty_like();
  const auto first = static_cast<size_t>(begin * sample_numel_);
  const auto last = static_cast<size_t>(end * sample_numel_);
  if (is_bytes_)
    d.bytes_.assign(bytes_.begin() + first, bytes_.begin() + last);
  else
    d.features_.assign(features_.begin() + first, features_.begin() + last);
  d.labels_.assign(labels_.begin() + begin, labels_.begin() + end);
  return d;
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  for (int64_t i : indices) check_index(i);
  Dataset d = empty_like();
  const auto numel = static_cast<size_t>(sample_numel_);
  if (is_bytes_)
    d.bytes_.reserve(indices.size() * numel);
  else
    d.features_.reserve(indices.size() * numel);
  d.labels_.reserve(indices.size());
  for (int64_t i : indices) {
    const auto at = static_cast<size_t>(i) * numel;
    if (is_bytes_)
      d.bytes_.insert(d.bytes_.end(), bytes_.begin() + at, bytes_.begin() + at + numel);
    else
      d.features_.insert(d.features_.end(), features_.begin() + at, features_.begin() + at + numel);
    d.labels_.push_back(labels_[static_cast<size_t>(i)]);
  }
  return d;
}

// The checks from_bytes and from_floats share; returns the sample's element count.
// `values` names the storage unit in the message.
static int64_t check_storage(const std::string& name, const Shape& sample_shape, size_t stored,
                      const char* values, const std::vector<int32_t>& labels, int num_classes) {
  const int64_t numel = checked_sample_numel(name, sample_shape);
  if (static_cast<int64_t>(stored) != numel * static_cast<int64_t>(labels.size()))
    throw Error::bad_input("dataset " + name + ": " + std::to_string(stored) + " " + values +
                           " do not make " + std::to_string(labels.size()) +
                           " samples of shape " + to_string(sample_shape));
  check_labels(name, labels, num_classes);
  return numel;
}

Dataset Dataset::from_bytes(std::string name, Shape sample_shape, std::vector<uint8_t> pixels,
                            std::vector<int32_t> labels, int num_classes) {
  Dataset d;
  d.sample_numel_ = check_storage(name, sample_shape, pixels.size(), "bytes", labels, num_classes);
  d.name = std::move(name);
  d.sample_shape = std::move(sample_shape);
  d.num_classes = num_classes;
  d.class_names = numbered_class_names(num_classes);
  d.is_bytes_ = true;
  d.bytes_ = std::move(pixels);
  d.labels_ = std::move(labels);
  return d;
}

Dataset Dataset::from_floats(std::string name, Shape sample_shape, std::vector<float> features,
                             std::vector<int32_t> labels, int num_classes) {
  Dataset d;
  d.sample_numel_ = check_storage(name, sample_shape, features.size(), "values", labels, num_classes);
  d.name = std::move(name);
  d.sample_shape = std::move(sample_shape);
  d.num_classes = num_classes;
  d.class_names = numbered_class_names(num_classes);
  d.is_bytes_ = false;
  d.features_ = std::move(features);
  d.labels_ = std::move(labels);
  return d;
}

Normalization fit_normalization(const Dataset& data) {
  if (data.size() == 0)
    throw Error::bad_input("cannot fit a normalization to the empty dataset " + data.name);
  const int64_t channels = data.channels();
  const int64_t per_channel = data.sample_numel() / channels;
  const double scale = data.normalization.scale;
  std::vector<double> sum(static_cast<size_t>(channels), 0.0), sum_sq(sum);
  for (int64_t i = 0; i < data.size(); ++i)
    for (int64_t j = 0; j < data.sample_numel(); ++j) {
      const double v = data.raw(i, j) * scale;
      sum[static_cast<size_t>(j / per_channel)] += v;
      sum_sq[static_cast<size_t>(j / per_channel)] += v * v;
    }
  Normalization n;
  n.scale = data.normalization.scale;
  n.mean.assign(static_cast<size_t>(channels), 0.0f);
  n.std.assign(static_cast<size_t>(channels), 1.0f);
  const double count = static_cast<double>(data.size() * per_channel);
  for (size_t c = 0; c < sum.size(); ++c) {
    const double mean = sum[c] / count;
    const double variance = std::max(0.0, sum_sq[c] / count - mean * mean);
    n.mean[c] = static_cast<float>(mean);
    // A constant channel carries no information; std 1 keeps it finite (it maps to zero).
    n.std[c] = variance > 1e-12 ? static_cast<float>(std::sqrt(variance)) : 1.0f;
  }
  return n;
}

std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction, uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw Error::bad_input("validation fraction " + std::to_string(fraction) +
                           " must be in [0, 1)");
  std::vector<int64_t> order(static_cast<size_t>(data.size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng rng(seed);
  rng.shuffle(order);
  const auto held_out = static_cast<size_t>(std::llround(fraction * static_cast<double>(data.size())));
  const auto cut = order.begin() + static_cast<std::ptrdiff_t>(order.size() - held_out);
  std::vector<int64_t> train(order.begin(), cut), validation(cut, order.end());
  std::sort(train.begin(), train.end());
  std::sort(validation.begin(), validation.end());
  std::pair<Dataset, Dataset> parts{data.subset(train), data.subset(validation)};
  parts.first.name = data.name + "[train part]";
  parts.second.name = data.name + "[validation part]";
  return parts;
}

// ---- BatchSampler ----------------------------------------------------------------------------

BatchSampler::BatchSampler(int64_t size, int64_t batch_size, bool shuffle, uint64_t seed,
                           bool drop_last)
    : size_(size), batch_size_(batch_size), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
  if (size < 0) throw Error::bad_input("batch sampler: dataset size must not be negative");
  if (batch_size <= 0)
    throw Error::bad_input("batch size must be positive, got " + std::to_string(batch_size));
  start_epoch(0);
}

void BatchSampler::start_epoch(int epoch) {
  order_.resize(static_cast<size_t>(size_));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (shuffle_) {
    Rng rng(seed_ + static_cast<uint64_t>(epoch));
    rng.shuffle(order_);
  }
  position_ = 0;
}

bool BatchSampler::next(std::vector<int64_t>& indices) {
  const bool more = peek(indices);
  position_ += static_cast<int64_t>(indices.size());
  return more;
}

bool BatchSampler::peek(std::vector<int64_t>& indices) const {
  indices.clear();
  const int64_t remaining = size_ - position_;
  if (remaining <= 0 || (drop_last_ && remaining < batch_size_)) return false;
  const int64_t n = std::min(batch_size_, remaining);
  indices.assign(order_.begin() + position_, order_.begin() + position_ + n);
  return true;
}

int64_t BatchSampler::batches_per_epoch() const {
  return drop_last_ ? size_ / batch_size_ : (size_ + batch_size_ - 1) / batch_size_;
}

// ---- load_dataset ----------------------------------------------------------------------------

namespace {

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

const std::vector<std::string> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// The first existing file among the usual spellings of an IDX file, or an error listing them.
std::string find_idx_file(const std::filesystem::path& dir, const std::string& prefix,
                          const std::string& kind, const std::string& hint) {
  // kind is "images-idx3" or "labels-idx1"; the LeCun site spells them with '-', some mirrors
  // with '.' ("train-images.idx3-ubyte").
  std::string dotted = kind;
  dotted[dotted.find('-')] = '.';
  std::vector<std::string> tried;
  for (const std::string& base : {prefix + "-" + kind + "-ubyte", prefix + "-" + dotted + "-ubyte"})
    for (const char* suffix : {".gz", ""}) {
      const auto path = dir / (base + suffix);
      if (std::filesystem::is_regular_file(path)) return path.string();
      tried.push_back(path.string());
    }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  throw Error::bad_input("no IDX file found for " + prefix + " " + kind.substr(0, kind.find('-')) +
                         " (tried " + list + "); " + hint);
}

Dataset load_idx(const std::string& family, const std::string& dir, const std::string& split,
                 const std::string& hint) {
  if (!std::filesystem::is_directory(dir))
    throw Error::bad_input("dataset directory " + dir + " does not exist; " + hint);
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images = find_idx_file(dir, prefix, "images-idx3", hint);
  const std::string labels = find_idx_file(dir, prefix, "labels-idx1", hint);
  Dataset d = read_idx_dataset(images, labels, family + "/" + split, 10);
  if (family == "fashion-mnist") d.class_names = kFashionMnistClasses;
  return d;
}

Dataset load_csv(const std::string& rest, const std::string& split) {
  // rest = FILE[,label=COL][,header]
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = rest.find(',', start);
    parts.push_back(rest.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::string path = parts[0];
  if (path.empty())
    throw Error::bad_input("dataset spec csv: needs a file, as in csv:FILE[,label=COL][,header]");
  CsvOptions options;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == "header")
      options.header = true;
    else if (parts[i].rfind("label=", 0) == 0 && parts[i].size() > 6)
      options.label_column = parts[i].substr(6);
    else
      throw Error::bad_input("dataset spec csv:" + rest + ": unknown option '" + parts[i] +
                             "' (known: label=COL, header)");
  }
  if (const size_t at = path.find("{split}"); at != std::string::npos)
    path.replace(at, 7, split);
  return read_csv(path, options, path + "/" + split);
}

}  // namespace

bool has_separate_test_split(const std::string& spec) {
  return spec.rfind("csv:", 0) != 0 || spec.find("{split}") != std::string::npos;
}

Dataset load_dataset(const std::string& spec, const std::string& split) {
  if (split != "train" && split != "test")
    throw Error::bad_input("dataset split '" + split + "' is not one of train, test");
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "fashion-mnist") {
    if (colon == std::string::npos)
      return load_idx(kind, kFashionMnistDir, split,
                      "install Debian package dataset-fashion-mnist or pass --data "
                      "fashion-mnist:DIR");
    return load_idx(kind, rest, split,
                    "put the Fashion-MNIST files {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz "
                    "there or pass --data fashion-mnist to use Debian's dataset-fashion-mnist");
  }
  if (kind == "mnist") {
    if (colon == std::string::npos || rest.empty())
      throw Error::bad_input("dataset spec mnist needs a directory: mnist:DIR with the IDX files "
                             "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]");
    return load_idx(kind, rest, split,
                    "put the MNIST files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] there");
  }
  if (kind == "csv" && colon != std::string::npos) return load_csv(rest, split);
  throw Error::bad_input("unknown dataset spec '" + spec +
                         "' (known: fashion-mnist, fashion-mnist:DIR, mnist:DIR, "
                         "csv:FILE[,label=COL][,header])");
}

}  // namespace shrink
