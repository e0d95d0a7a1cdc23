// .npy and ONNX TensorProto .pb tensor files: round trips, files written by NumPy and ONNX's
// Python helpers, and clear errors for what shrink does not read.
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/io/tensor_file.hpp"
#include "support/errors.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

namespace shrink {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& name) {
  return fs::path(SHRINK_SOURCE_DIR) / "tests" / "fixtures" / "onnx" / name;
}

Tensor ramp(Shape shape) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.5f * static_cast<float>(i) - 3.25f;
  return t;
}

using testing::bad_input_message;

// A .npy file with a hand-written header, to test what NumPy can write and shrink refuses.
std::string npy_with_header(const std::string& dict, size_t data_bytes) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  return bytes + header + std::string(data_bytes, '\0');
}

TEST(TensorFile, NpyRoundTripsEveryRank) {
  testing::TempDir tmp;
  for (const Shape& shape : {Shape{}, Shape{5}, Shape{2, 3}, Shape{2, 1, 3, 4}}) {
    const Tensor t = ramp(shape);
    write_npy(t, tmp.file("t.npy"));
    EXPECT_EQ(read_npy(tmp.file("t.npy")), t) << to_string(shape);
  }
}

TEST(TensorFile, NpyHeaderIsAlignedLikeNumPys) {
  const std::string bytes = encode_npy(ramp({3, 7}));
  const size_t header = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header) % 64, 0u);
  EXPECT_EQ(bytes[9 + header], '\n');
  EXPECT_NE(bytes.find("'shape': (3, 7)"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + header + 21 * sizeof(float));
}

TEST(TensorFile, ReadsNumPyAndOnnxFilesFromPython) {
  const Tensor npy = read_npy(fixture("mlp/input.npy").string());
  EXPECT_EQ(npy.shape(), (Shape{3, 1, 28, 28}));
  std::string name;
  const Tensor pb = read_tensor_pb(fixture("mlp/input.pb").string(), &name);
  EXPECT_EQ(name, "input");
  EXPECT_EQ(pb, npy);
  EXPECT_EQ(read_tensor_file(fixture("mlp/input.pb").string()), npy);
}

TEST(TensorFile, PbRoundTripsWithItsName) {
  testing::TempDir tmp;
  const Tensor t = ramp({4, 2});
  write_tensor_file(t, tmp.file("t.pb"), "logits");
  std::string name;
  EXPECT_EQ(read_tensor_file(tmp.file("t.pb"), &name), t);
  EXPECT_EQ(name, "logits");
}

TEST(TensorFile, RejectsOtherDtypesOrdersAndTruncation) {
  testing::TempDir tmp;
  write_file_atomic(tmp.file("f8.npy"),
                    npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16));
  EXPECT_NE(bad_input_message([&] { read_npy(tmp.file("f8.npy")); }).find("'<f8'"),
            std::string::npos);
  write_file_atomic(tmp.file("big.npy"),
                    npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8));
  EXPECT_NE(bad_input_message([&] { read_npy(tmp.file("big.npy")); }).find("'>f4'"),
            std::string::npos);
  write_file_atomic(tmp.file("fortran.npy"),
                    npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16));
  EXPECT_NE(bad_input_message([&] { read_npy(tmp.file("fortran.npy")); }).find("Fortran"),
            std::string::npos);
  write_file_atomic(tmp.file("short.npy"),
                    npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20));
  EXPECT_NE(bad_input_message([&] { read_npy(tmp.file("short.npy")); }).find("needs 24"),
            std::string::npos);
  write_file_atomic(tmp.file("text.npy"), "hello");
  EXPECT_NE(bad_input_message([&] { read_npy(tmp.file("text.npy")); }).find("text.npy"),
            std::string::npos);
  write_file_atomic(tmp.file("junk.pb"), std::string("\xff\xff\xff\xff", 4));
  EXPECT_NE(bad_input_message([&] { read_tensor_pb(tmp.file("junk.pb")); }).find("junk.pb"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] { read_tensor_file(tmp.file("t.csv")); }).find(".npy"),
            std::string::npos);
  bad_input_message([&] { read_npy(tmp.file("missing.npy")); });
}

// A header may claim any shape. One whose element count overflows int64 (2^60 x 784 wraps to
// 0 bytes) or whose sizes do not fit in one is refused before anything is sized from it.
TEST(TensorFile, RejectsNpyShapesThatOverflow) {
  testing::TempDir tmp;
  write_file_atomic(tmp.file("wrap.npy"),
                    npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (1152921504606846976, 784), }", 0));
  const std::string wrap = bad_input_message([&] { read_npy(tmp.file("wrap.npy")); });
  EXPECT_NE(wrap.find("[1152921504606846976, 784] has more elements than"), std::string::npos)
      << wrap;
  write_file_atomic(tmp.file("long.npy"),
                    npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (99999999999999999999,), }", 0));
  const std::string big = bad_input_message([&] { read_npy(tmp.file("long.npy")); });
  EXPECT_NE(big.find("has a size too large"), std::string::npos) << big;
}

TEST(TensorFile, RejectsNonFloatTensorProtos) {
  // An int64 shape tensor from a fixture's Reshape is a TensorProto shrink must refuse to read
  // as data: write its bytes by hand (field 2 data_type = 7, field 1 dims = 2, raw_data).
  std::string proto;
  proto += '\x08';  // dims: [2]
  proto += '\x02';
  proto += '\x10';  // data_type: INT64
  proto += '\x07';
  proto += '\x4a';  // raw_data (field 9, length-delimited), 16 bytes
  proto += '\x10';
  proto += std::string(16, '\0');
  testing::TempDir tmp;
  write_file_atomic(tmp.file("ints.pb"), proto);
  EXPECT_NE(bad_input_message([&] { read_tensor_pb(tmp.file("ints.pb")); }).find("INT64"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
