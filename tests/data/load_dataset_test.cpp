#include "shrink/data/dataset.hpp"

#include "shrink/core/error.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace shrink {
namespace {

constexpr const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

std::string error_of(const std::string& spec, const std::string& split) {
  try {
    load_dataset(spec, split);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    return e.what();
  }
  ADD_FAILURE() << "no error for " << spec;
  return "";
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// A 2-image MNIST-style directory: the test split gzipped, the train split raw.
void write_mnist_dir(const testing::TempDir& dir) {
  for (const std::string prefix : {"train", "t10k"}) {
    std::vector<uint8_t> images, labels;
    put_u32(images, 0x803);
    put_u32(images, 2);
    put_u32(images, 2);
    put_u32(images, 2);
    for (int i = 0; i < 8; ++i) images.push_back(static_cast<uint8_t>(prefix == "train" ? i : 255));
    put_u32(labels, 0x801);
    put_u32(labels, 2);
    labels.push_back(prefix == "train" ? 3 : 7);
    labels.push_back(9);
    if (prefix == "t10k") {
      write_gz(dir.file(prefix + "-images-idx3-ubyte.gz"), images);
      write_gz(dir.file(prefix + "-labels-idx1-ubyte.gz"), labels);
    } else {
      std::ofstream(dir.file(prefix + "-images-idx3-ubyte"), std::ios::binary)
          .write(reinterpret_cast<const char*>(images.data()), static_cast<std::streamsize>(images.size()));
      std::ofstream(dir.file(prefix + "-labels-idx1-ubyte"), std::ios::binary)
          .write(reinterpret_cast<const char*>(labels.data()), static_cast<std::streamsize>(labels.size()));
    }
  }
}

TEST(LoadDataset, MnistDirectoryBothSplits) {
  testing::TempDir dir;
  write_mnist_dir(dir);
  const Dataset train = load_dataset("mnist:" + dir.path().string(), "train");
  EXPECT_EQ(train.name, "mnist/train");
  EXPECT_EQ(train.size(), 2);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.label(0), 3);
  EXPECT_EQ(train.class_names[3], "3");
  const Dataset test = load_dataset("fashion-mnist:" + dir.path().string(), "test");
  EXPECT_EQ(test.label(0), 7);
  EXPECT_EQ(test.class_names[7], "Sneaker");
  Tensor x;
  std::vector<int32_t> labels;
  test.gather(std::vector<int64_t>{1}, x, labels);
  EXPECT_EQ(x.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_FLOAT_EQ(x[0], 1.0f);
}

TEST(LoadDataset, MissingDirectoryAndFilesSayHowToFix) {
  testing::TempDir dir;
  const std::string missing = dir.file("absent");
  auto message = error_of("fashion-mnist:" + missing, "train");
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("dataset-fashion-mnist"), std::string::npos) << message;

  message = error_of("mnist:" + dir.path().string(), "test");
  EXPECT_NE(message.find("t10k-images-idx3-ubyte.gz"), std::string::npos) << message;
  EXPECT_NE(message.find("tried"), std::string::npos) << message;

  EXPECT_NE(error_of("mnist", "train").find("mnist:DIR"), std::string::npos);
  EXPECT_NE(error_of("cifar:x", "train").find("known:"), std::string::npos);
  EXPECT_NE(error_of("fashion-mnist", "validation").find("train, test"), std::string::npos);
}

TEST(LoadDataset, CsvSpecOptionsAndSplitPlaceholder) {
  testing::TempDir dir;
  std::ofstream(dir.file("iris-train.csv")) << "label,a,b\n1,0.5,2\n0,1.5,3\n";
  std::ofstream(dir.file("iris-test.csv")) << "label,a,b\n2,9,9\n";
  const std::string pattern = dir.file("iris-{split}.csv");
  const Dataset train = load_dataset("csv:" + pattern + ",label=label,header", "train");
  EXPECT_EQ(train.size(), 2);
  EXPECT_EQ(train.labels(), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(train.sample_shape, (Shape{2}));
  const Dataset test = load_dataset("csv:" + pattern + ",header,label=0", "test");
  EXPECT_EQ(test.size(), 1);
  EXPECT_FLOAT_EQ(test.raw(0, 0), 9.0f);

  // Without {split} the one file serves both splits.
  const std::string one = dir.file("iris-train.csv");
  EXPECT_EQ(load_dataset("csv:" + one + ",header,label=0", "test").size(), 2);

  EXPECT_NE(error_of("csv:" + one + ",labels=0", "train").find("unknown option 'labels=0'"),
            std::string::npos);
  EXPECT_NE(error_of("csv:" + dir.file("none.csv"), "train").find("none.csv"), std::string::npos);
}

TEST(LoadDataset, RealFashionMnistTestSplit) {
  if (!std::filesystem::is_directory(kFashionMnist))
    GTEST_SKIP() << kFashionMnist << " is absent (Debian package dataset-fashion-mnist)";
  const Dataset test = load_dataset("fashion-mnist", "test");
  EXPECT_EQ(test.name, "fashion-mnist/test");
  ASSERT_EQ(test.size(), 10000);
  EXPECT_EQ(test.num_classes, 10);
  EXPECT_EQ(test.sample_shape, (Shape{1, 28, 28}));
  EXPECT_EQ(test.label(0), 9);
  EXPECT_EQ(test.class_names[9], "Ankle boot");
  // The test split is balanced: 1000 images per class.
  std::vector<int> counts(10, 0);
  for (int32_t label : test.labels()) ++counts[static_cast<size_t>(label)];
  EXPECT_EQ(counts, std::vector<int>(10, 1000));

  Tensor x;
  std::vector<int32_t> labels;
  test.gather(std::vector<int64_t>{0, 9999}, x, labels);
  EXPECT_EQ(x.shape(), (Shape{2, 1, 28, 28}));
  EXPECT_EQ(labels[0], 9);
  float low = 1.0f, high = 0.0f;
  for (float v : x) {
    low = std::min(low, v);
    high = std::max(high, v);
  }
  EXPECT_EQ(low, 0.0f);
  EXPECT_GT(high, 0.5f);
  EXPECT_LE(high, 1.0f);
}

}  // namespace
}  // namespace shrink
