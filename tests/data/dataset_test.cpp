#include "shrink/data/dataset.hpp"

#include "shrink/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

namespace shrink {
namespace {

// 6 images of shape [2, 1, 2] (2 channels of 2 pixels); sample i holds bytes 10*i + {0,1,2,3}.
Dataset small_images() {
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  for (int i = 0; i < 6; ++i) {
    for (int k = 0; k < 4; ++k) pixels.push_back(static_cast<uint8_t>(10 * i + k));
    labels.push_back(i % 3);
  }
  return Dataset::from_bytes("small", {2, 1, 2}, pixels, labels, 3);
}

TEST(Normalization, JsonRoundTripAndScalarValues) {
  Normalization n;
  n.scale = 0.5f;
  n.mean = {1.0f, 2.0f};
  n.std = {3.0f, 4.0f};
  EXPECT_EQ(Normalization::from_json(n.to_json()), n);
  const auto scalar = Normalization::from_json({{"scale", 2.0}, {"mean", 0.25}, {"std", 0.5}});
  EXPECT_FLOAT_EQ(scalar.scale, 2.0f);
  EXPECT_EQ(scalar.mean, std::vector<float>{0.25f});
  EXPECT_EQ(scalar.std, std::vector<float>{0.5f});
  EXPECT_THROW(Normalization::from_json({{"mean", "x"}}), Error);
  EXPECT_THROW(Normalization::from_json(nlohmann::json::array()), Error);
}

TEST(Normalization, ValidateRejectsWrongCountsAndZeroStd) {
  Normalization n;
  n.mean = {0.0f, 0.0f, 0.0f};
  EXPECT_NO_THROW(n.validate(3));
  EXPECT_THROW(n.validate(2), Error);
  n.mean = {0.0f};
  n.std = {0.0f};
  try {
    n.validate(1);
    FAIL() << "zero std accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    EXPECT_NE(std::string(e.what()).find("std"), std::string::npos);
  }
}

TEST(Dataset, GatherAppliesPerChannelNormalization) {
  Dataset d = small_images();
  d.normalization.scale = 0.5f;
  d.normalization.mean = {1.0f, 3.0f};
  d.normalization.std = {2.0f, 4.0f};
  Tensor x;
  std::vector<int32_t> labels;
  const int64_t indices[] = {4, 1};
  d.gather(indices, 2, x, labels);
  ASSERT_EQ(x.shape(), (Shape{2, 2, 1, 2}));
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 1}));
  // sample 4: bytes 40 41 | 42 43; channel 0: (v*0.5 - 1)/2, channel 1: (v*0.5 - 3)/4
  EXPECT_FLOAT_EQ(x[0], 9.5f);
  EXPECT_FLOAT_EQ(x[1], 9.75f);
  EXPECT_FLOAT_EQ(x[2], 4.5f);
  EXPECT_FLOAT_EQ(x[3], 4.625f);
  // sample 1: bytes 10 11 | 12 13
  EXPECT_FLOAT_EQ(x[4], 2.0f);
  EXPECT_FLOAT_EQ(x[5], 2.25f);
  EXPECT_FLOAT_EQ(x[6], 0.75f);
  EXPECT_FLOAT_EQ(x[7], 0.875f);
}

TEST(Dataset, GatherDefaultByteScaleGivesUnitRange) {
  const std::vector<uint8_t> pixels{0, 51, 255, 128};
  Dataset d = Dataset::from_bytes("img", {1, 2, 2}, pixels, {0}, 1);
  d.normalization.scale = 1.0f / 255.0f;
  Tensor x;
  std::vector<int32_t> labels;
  d.gather(std::vector<int64_t>{0}, x, labels);
  EXPECT_FLOAT_EQ(x[0], 0.0f);
  EXPECT_FLOAT_EQ(x[1], 0.2f);
  EXPECT_FLOAT_EQ(x[2], 1.0f);
  EXPECT_FLOAT_EQ(x[3], 128.0f / 255.0f);
}

TEST(Dataset, GatherFloatsNormalizesPerFeature) {
  Dataset d = Dataset::from_floats("tab", {3}, {1, 2, 3, 4, 5, 6}, {0, 1}, 2);
  d.normalization.mean = {1.0f, 2.0f, 3.0f};
  d.normalization.std = {1.0f, 2.0f, 0.5f};
  EXPECT_EQ(d.channels(), 3);
  Tensor x;
  std::vector<int32_t> labels;
  d.gather(std::vector<int64_t>{1, 0}, x, labels);
  ASSERT_EQ(x.shape(), (Shape{2, 3}));
  EXPECT_EQ(x, Tensor({2, 3}, {3.0f, 1.5f, 6.0f, 0.0f, 0.0f, 0.0f}));
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 0}));
}

TEST(Dataset, GatherRejectsBadIndexAndBadNormalization) {
  Dataset d = small_images();
  Tensor x;
  std::vector<int32_t> labels;
  EXPECT_THROW(d.gather(std::vector<int64_t>{6}, x, labels), Error);
  EXPECT_THROW(d.gather(std::vector<int64_t>{-1}, x, labels), Error);
  d.normalization.mean = {0.0f, 0.0f, 0.0f};  // 3 values for 2 channels
  EXPECT_THROW(d.gather(std::vector<int64_t>{0}, x, labels), Error);
}

TEST(Dataset, FromRawStorageValidates) {
  EXPECT_THROW(Dataset::from_bytes("d", {2}, {1, 2, 3}, {0, 0}, 1), Error);  // 3 bytes, 2x2 needed
  EXPECT_THROW(Dataset::from_bytes("d", {1}, {1, 2}, {0, 2}, 2), Error);     // label 2 >= 2 classes
  EXPECT_THROW(Dataset::from_floats("d", {1}, {1}, {-1}, 2), Error);         // negative label
  EXPECT_THROW(Dataset::from_floats("d", {0}, {}, {}, 2), Error);            // zero-sized sample
  const Dataset d = Dataset::from_floats("d", {1}, {1, 2}, {0, 1}, 2);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0", "1"}));
  EXPECT_FALSE(d.stores_bytes());
}

TEST(Dataset, SliceAndSubsetCopySamplesAndMetadata) {
  Dataset d = small_images();
  d.class_names = {"a", "b", "c"};
  d.normalization.scale = 0.25f;
  const Dataset s = d.slice(2, 5);
  ASSERT_EQ(s.size(), 3);
  EXPECT_EQ(s.label(0), 2);
  EXPECT_EQ(s.raw(0, 0), 20.0f);
  EXPECT_EQ(s.raw(2, 3), 43.0f);
  EXPECT_EQ(s.class_names, d.class_names);
  EXPECT_EQ(s.normalization, d.normalization);
  EXPECT_EQ(s.sample_shape, d.sample_shape);
  EXPECT_TRUE(s.stores_bytes());
  EXPECT_EQ(d.slice(3, 3).size(), 0);
  EXPECT_THROW(d.slice(4, 7), Error);
  EXPECT_THROW(d.slice(3, 2), Error);

  const Dataset sub = d.subset({5, 0, 5});
  ASSERT_EQ(sub.size(), 3);
  EXPECT_EQ(sub.raw(0, 1), 51.0f);
  EXPECT_EQ(sub.raw(1, 1), 1.0f);
  EXPECT_EQ(sub.labels(), (std::vector<int32_t>{2, 0, 2}));
  EXPECT_THROW(d.subset({6}), Error);
}

TEST(Dataset, FitNormalizationGivesZeroMeanUnitStd) {
  Dataset d = Dataset::from_floats("tab", {2}, {1, 7, 3, 7, 5, 7}, {0, 0, 0}, 1);
  d.normalization = fit_normalization(d);
  EXPECT_FLOAT_EQ(d.normalization.mean[0], 3.0f);
  EXPECT_FLOAT_EQ(d.normalization.std[0], std::sqrt(8.0f / 3.0f));
  EXPECT_FLOAT_EQ(d.normalization.mean[1], 7.0f);
  EXPECT_FLOAT_EQ(d.normalization.std[1], 1.0f);  // constant column stays finite
  Tensor x;
  std::vector<int32_t> labels;
  d.gather(std::vector<int64_t>{0, 1, 2}, x, labels);
  EXPECT_NEAR(x[0] + x[2] + x[4], 0.0f, 1e-5f);
  EXPECT_NEAR(x[0] * x[0] + x[2] * x[2] + x[4] * x[4], 3.0f, 1e-4f);
  EXPECT_EQ(x[1], 0.0f);
}

TEST(SplitValidation, DeterministicDisjointAndComplete) {
  std::vector<float> features(100);
  std::iota(features.begin(), features.end(), 0.0f);
  std::vector<int32_t> labels(100);
  for (int i = 0; i < 100; ++i) labels[static_cast<size_t>(i)] = i % 4;
  const Dataset d = Dataset::from_floats("seq", {1}, features, labels, 4);

  const auto [train, validation] = split_validation(d, 0.2, 7);
  EXPECT_EQ(train.size(), 80);
  EXPECT_EQ(validation.size(), 20);
  std::set<float> seen;
  for (int64_t i = 0; i < train.size(); ++i) seen.insert(train.raw(i, 0));
  for (int64_t i = 0; i < validation.size(); ++i) seen.insert(validation.raw(i, 0));
  EXPECT_EQ(seen.size(), 100u);
  for (int64_t i = 1; i < validation.size(); ++i)
    EXPECT_LT(validation.raw(i - 1, 0), validation.raw(i, 0));  // original order kept
  for (int64_t i = 0; i < validation.size(); ++i)
    EXPECT_EQ(validation.label(i), static_cast<int>(validation.raw(i, 0)) % 4);

  const auto again = split_validation(d, 0.2, 7);
  const auto other = split_validation(d, 0.2, 8);
  std::vector<float> a, b, c;
  for (int64_t i = 0; i < 20; ++i) {
    a.push_back(validation.raw(i, 0));
    b.push_back(again.second.raw(i, 0));
    c.push_back(other.second.raw(i, 0));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Not simply the last 20 samples: the split is shuffled.
  EXPECT_LT(a.front(), 80.0f);

  EXPECT_EQ(split_validation(d, 0.0, 1).second.size(), 0);
  EXPECT_THROW(split_validation(d, 1.0, 1), Error);
  EXPECT_THROW(split_validation(d, -0.1, 1), Error);
}

TEST(BatchSampler, CoversEveryIndexOncePerEpoch) {
  BatchSampler sampler(103, 10, true, 42);
  EXPECT_EQ(sampler.batches_per_epoch(), 11);
  for (int epoch = 0; epoch < 3; ++epoch) {
    sampler.start_epoch(epoch);
    std::vector<int64_t> batch, all;
    int batches = 0;
    while (sampler.next(batch)) {
      ++batches;
      EXPECT_EQ(batch.size(), batches == 11 ? 3u : 10u);
      all.insert(all.end(), batch.begin(), batch.end());
    }
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(batches, 11);
    std::vector<int64_t> sorted = all;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> expected(103);
    std::iota(expected.begin(), expected.end(), int64_t{0});
    EXPECT_EQ(sorted, expected);
    EXPECT_NE(all, expected);  // shuffled
  }
}

std::vector<int64_t> epoch_order(BatchSampler& sampler, int epoch) {
  sampler.start_epoch(epoch);
  std::vector<int64_t> batch, all;
  while (sampler.next(batch)) all.insert(all.end(), batch.begin(), batch.end());
  return all;
}

TEST(BatchSampler, DeterministicPerSeedAndEpoch) {
  BatchSampler a(50, 8, true, 3), b(50, 8, true, 3), c(50, 8, true, 4);
  const auto a1 = epoch_order(a, 1);
  EXPECT_EQ(a1, epoch_order(b, 1));  // same seed and epoch
  EXPECT_NE(a1, epoch_order(a, 2));  // fresh order each epoch
  EXPECT_NE(a1, epoch_order(c, 1));  // seed matters
  // An epoch's order does not depend on the epochs run before it.
  BatchSampler d(50, 8, true, 3);
  EXPECT_EQ(epoch_order(d, 1), a1);
  // Seeded by seed + epoch: seed 3 epoch 1 equals seed 4 epoch 0.
  EXPECT_EQ(a1, epoch_order(c, 0));
}

TEST(BatchSampler, PeekShowsTheNextBatchWithoutTakingIt) {
  for (bool drop_last : {false, true}) {
    BatchSampler sampler(23, 5, true, 7, drop_last);
    std::vector<int64_t> peeked, taken;
    while (sampler.peek(peeked)) {
      ASSERT_TRUE(sampler.next(taken));
      EXPECT_EQ(peeked, taken);
    }
    EXPECT_TRUE(peeked.empty());
    EXPECT_FALSE(sampler.next(taken));
  }
}

// prefetch() loads the memory sample_memory() names: each requested sample's stored values,
// whole, whether the dataset holds bytes or floats; an index out of range is left for gather()
// to report. Wrong offsets or sizes (bytes counted as floats, say) would show here.
TEST(Dataset, PrefetchLoadsExactlyTheRequestedSamples) {
  std::vector<float> features(5 * 3);
  std::iota(features.begin(), features.end(), 0.5f);
  const Dataset tabular = Dataset::from_floats("t", {3}, features, {0, 1, 0, 1, 0}, 2);
  for (const Dataset& d : {small_images(), tabular}) {
    const std::vector<int64_t> batch = {3, 0, -1, d.size(), 4};
    const auto spans = d.sample_memory(batch);
    ASSERT_EQ(spans.size(), 3u);
    const std::vector<int64_t> valid = {3, 0, 4};
    for (size_t s = 0; s < spans.size(); ++s) {
      ASSERT_EQ(static_cast<int64_t>(spans[s].size()),
                d.sample_numel() * (d.stores_bytes() ? 1 : 4));
      for (int64_t j = 0; j < d.sample_numel(); ++j) {
        float value = 0;
        if (d.stores_bytes())
          value = static_cast<float>(std::to_integer<uint8_t>(spans[s][static_cast<size_t>(j)]));
        else
          std::memcpy(&value, spans[s].data() + 4 * j, 4);
        EXPECT_EQ(value, d.raw(valid[s], j)) << "sample " << valid[s] << " value " << j;
      }
    }
    // And the hint changes nothing a batch sees.
    Tensor before, after;
    std::vector<int32_t> labels;
    d.gather(std::vector<int64_t>{3, 0}, before, labels);
    d.prefetch(batch);
    d.gather(std::vector<int64_t>{3, 0}, after, labels);
    EXPECT_EQ(before, after);
  }
}

TEST(BatchSampler, SequentialAndDropLast) {
  BatchSampler sequential(7, 3, false, 0);
  std::vector<int64_t> batch;
  ASSERT_TRUE(sequential.next(batch));
  EXPECT_EQ(batch, (std::vector<int64_t>{0, 1, 2}));
  ASSERT_TRUE(sequential.next(batch));
  ASSERT_TRUE(sequential.next(batch));
  EXPECT_EQ(batch, (std::vector<int64_t>{6}));
  EXPECT_FALSE(sequential.next(batch));

  BatchSampler drop(7, 3, true, 0, true);
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  int batches = 0;
  while (drop.next(batch)) {
    EXPECT_EQ(batch.size(), 3u);
    ++batches;
  }
  EXPECT_EQ(batches, 2);

  BatchSampler empty(0, 4, true, 0);
  EXPECT_EQ(empty.batches_per_epoch(), 0);
  EXPECT_FALSE(empty.next(batch));
  EXPECT_THROW(BatchSampler(10, 0, false, 0), Error);
}

}  // namespace
}  // namespace shrink
