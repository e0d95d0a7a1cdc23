// The PNG writer: signature, header, CRCs and pixels that inflate back to what went in.
#include "shrink/report/png.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <vector>

namespace shrink {
namespace {

uint32_t u32(const std::string& s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<unsigned char>(s[at + 3]);
}

TEST(Png, ChunksAndPixelsRoundTrip) {
  const int width = 3, height = 2;
  const std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90};
  const std::string png = encode_png(width, height, 3, rgb.data());
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  size_t at = 8;
  std::vector<std::string> types;
  std::string idat;
  while (at < png.size()) {
    const uint32_t length = u32(png, at);
    const std::string type = png.substr(at + 4, 4);
    const std::string data = png.substr(at + 8, length);
    const uint32_t crc = u32(png, at + 8 + length);
    const std::string body = type + data;
    EXPECT_EQ(crc, crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))) << type;
    if (type == "IHDR") {
      EXPECT_EQ(u32(data, 0), 3u);
      EXPECT_EQ(u32(data, 4), 2u);
      EXPECT_EQ(data[8], 8);  // bits
      EXPECT_EQ(data[9], 2);  // truecolour
    }
    if (type == "IDAT") idat += data;
    types.push_back(type);
    at += 12 + length;
  }
  EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  std::vector<Bytef> raw(64);
  uLongf size = raw.size();
  ASSERT_EQ(uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()), Z_OK);
  ASSERT_EQ(size, 2u * (1 + 9));
  EXPECT_EQ(raw[0], 0);  // filter byte
  EXPECT_EQ(std::vector<uint8_t>(raw.begin() + 1, raw.begin() + 10), std::vector<uint8_t>(rgb.begin(), rgb.begin() + 9));
  EXPECT_EQ(std::vector<uint8_t>(raw.begin() + 11, raw.begin() + 20), std::vector<uint8_t>(rgb.begin() + 9, rgb.end()));
}

}  // namespace
}  // namespace shrink
