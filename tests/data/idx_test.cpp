#include "shrink/data/idx.hpp"

#include "shrink/core/error.hpp"
#include "support/errors.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <functional>

namespace shrink {
namespace {

using testing::TempDir;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

std::vector<uint8_t> idx_images(uint32_t count, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> out;
  put_u32(out, 0x00000803);
  put_u32(out, count);
  put_u32(out, rows);
  put_u32(out, cols);
  for (uint32_t i = 0; i < count * rows * cols; ++i) out.push_back(static_cast<uint8_t>(i * 7 + 3));
  return out;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> out;
  put_u32(out, 0x00000801);
  put_u32(out, static_cast<uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

using testing::bad_input_message;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Idx, RawRoundTrip) {
  TempDir dir;
  const auto bytes = idx_images(3, 2, 4);
  write_raw(dir.file("images"), bytes);
  write_raw(dir.file("labels"), idx_labels({4, 0, 9}));
  const IdxImages images = read_idx_images(dir.file("images"));
  EXPECT_EQ(images.count, 3);
  EXPECT_EQ(images.rows, 2);
  EXPECT_EQ(images.cols, 4);
  EXPECT_EQ(images.bytes, std::vector<uint8_t>(bytes.begin() + 16, bytes.end()));
  EXPECT_EQ(read_idx_labels(dir.file("labels")), (std::vector<int32_t>{4, 0, 9}));
}

TEST(Idx, GzipRoundTripMatchesRaw) {
  TempDir dir;
  const auto bytes = idx_images(5, 3, 3);
  write_raw(dir.file("raw"), bytes);
  write_gz(dir.file("images.gz"), bytes);
  write_gz(dir.file("labels.gz"), idx_labels({1, 2, 3, 4, 0}));
  EXPECT_EQ(read_idx_images(dir.file("images.gz")).bytes, read_idx_images(dir.file("raw")).bytes);

  const Dataset d = read_idx_dataset(dir.file("images.gz"), dir.file("labels.gz"), "tiny");
  EXPECT_EQ(d.size(), 5);
  EXPECT_EQ(d.sample_shape, (Shape{1, 3, 3}));
  EXPECT_EQ(d.num_classes, 5);
  EXPECT_EQ(d.label(3), 4);
  EXPECT_FLOAT_EQ(d.normalization.scale, 1.0f / 255.0f);
  EXPECT_EQ(d.raw(1, 0), static_cast<float>(static_cast<uint8_t>(9 * 7 + 3)));
}

TEST(Idx, ZeroImagesIsValid) {
  TempDir dir;
  write_raw(dir.file("images"), idx_images(0, 28, 28));
  EXPECT_EQ(read_idx_images(dir.file("images")).count, 0);
}

TEST(Idx, MissingFileNamesPath) {
  TempDir dir;
  const auto message = bad_input_message([&] { read_idx_images(dir.file("nope")); });
  EXPECT_TRUE(contains(message, dir.file("nope"))) << message;
}

TEST(Idx, BadMagicIsRejected) {
  TempDir dir;
  auto bytes = idx_images(2, 2, 2);
  bytes[3] = 0x04;
  write_raw(dir.file("images"), bytes);
  auto message = bad_input_message([&] { read_idx_images(dir.file("images")); });
  EXPECT_TRUE(contains(message, "magic number 0x00000804")) << message;
  EXPECT_TRUE(contains(message, dir.file("images"))) << message;

  // A label file handed to the image reader says the files look swapped.
  write_raw(dir.file("labels"), idx_labels({1, 2}));
  message = bad_input_message([&] { read_idx_images(dir.file("labels")); });
  EXPECT_TRUE(contains(message, "swapped")) << message;

  write_raw(dir.file("text"), {'h', 'e', 'l', 'l', 'o', '\n'});
  message = bad_input_message([&] { read_idx_labels(dir.file("text")); });
  EXPECT_TRUE(contains(message, "magic number")) << message;
}

TEST(Idx, TruncatedRawFileIsRejected) {
  TempDir dir;
  auto bytes = idx_images(4, 3, 3);
  bytes.resize(bytes.size() - 5);
  write_raw(dir.file("images"), bytes);
  auto message = bad_input_message([&] { read_idx_images(dir.file("images")); });
  EXPECT_TRUE(contains(message, "truncated")) << message;
  EXPECT_TRUE(contains(message, "expected 36 bytes of pixels, found 31")) << message;

  write_raw(dir.file("header"), {0, 0, 8, 3, 0, 0});
  message = bad_input_message([&] { read_idx_images(dir.file("header")); });
  EXPECT_TRUE(contains(message, "truncated")) << message;

  write_raw(dir.file("labels"), {0, 0, 8, 1, 0, 0, 0, 5, 1, 2});
  message = bad_input_message([&] { read_idx_labels(dir.file("labels")); });
  EXPECT_TRUE(contains(message, "truncated")) << message;
}

TEST(Idx, TruncatedGzipIsRejected) {
  TempDir dir;
  // Random-looking pixels so the compressed stream is long enough to cut in the middle.
  auto bytes = idx_images(50, 10, 10);
  for (size_t i = 16; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  write_gz(dir.file("full.gz"), bytes);
  std::ifstream in(dir.file("full.gz"), std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(gz.size(), 200u);
  gz.resize(gz.size() / 2);
  write_raw(dir.file("cut.gz"), gz);
  const auto message = bad_input_message([&] { read_idx_images(dir.file("cut.gz")); });
  EXPECT_TRUE(contains(message, "truncated")) << message;
  EXPECT_TRUE(contains(message, dir.file("cut.gz"))) << message;
}

TEST(Idx, TrailingBytesAndBadDimensionsAreRejected) {
  TempDir dir;
  auto bytes = idx_images(2, 2, 2);
  bytes.push_back(0);
  write_raw(dir.file("long"), bytes);
  EXPECT_TRUE(
      contains(bad_input_message([&] { read_idx_images(dir.file("long")); }), "after the data"));

  write_raw(dir.file("zero"), idx_images(0, 0, 5));
  EXPECT_TRUE(
      contains(bad_input_message([&] { read_idx_images(dir.file("zero")); }), "0x5 pixels"));

  std::vector<uint8_t> huge;
  put_u32(huge, 0x00000803);
  put_u32(huge, 0xFFFFFFFF);
  put_u32(huge, 0xFFFF);
  put_u32(huge, 0xFFFF);
  write_raw(dir.file("huge"), huge);
  EXPECT_TRUE(contains(bad_input_message([&] { read_idx_images(dir.file("huge")); }), "too large"));
}

TEST(Idx, ImageAndLabelCountsMustAgree) {
  TempDir dir;
  write_raw(dir.file("images"), idx_images(3, 2, 2));
  write_raw(dir.file("labels"), idx_labels({1, 2}));
  const auto message =
      bad_input_message([&] { read_idx_dataset(dir.file("images"), dir.file("labels"), "d"); });
  EXPECT_TRUE(contains(message, "3 images")) << message;
  EXPECT_TRUE(contains(message, "2 labels")) << message;

  write_raw(dir.file("labels3"), idx_labels({1, 2, 12}));
  EXPECT_TRUE(contains(bad_input_message([&] {
                         read_idx_dataset(dir.file("images"), dir.file("labels3"), "d", 10);
                       }),
                       "label 12"));
}

}  // namespace
}  // namespace shrink
