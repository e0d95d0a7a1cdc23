#include "shrink/report/png.hpp"

#include "shrink/core/error.hpp"

#include <zlib.h>

#include <vector>

namespace shrink {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out += static_cast<char>((v >> shift) & 0xFF);
}

void chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, static_cast<uint32_t>(
                   crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

}  // namespace

std::string encode_png(int64_t width, int64_t height, int channels, const uint8_t* pixels) {
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3))
    throw Error::internal("encode_png: bad image size or channel count");
  // Each row starts with its filter type (0: none).
  const size_t row = static_cast<size_t>(width * channels);
  std::string raw;
  raw.reserve((row + 1) * static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(pixels) + y * static_cast<int64_t>(row), row);
  }
  uLongf compressed_size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<Bytef> compressed(compressed_size);
  if (compress2(compressed.data(), &compressed_size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), 9) != Z_OK)
    throw Error::internal("encode_png: zlib failed");

  std::string out = "\x89PNG\r\n\x1a\n";
  std::string header;
  put_u32(header, static_cast<uint32_t>(width));
  put_u32(header, static_cast<uint32_t>(height));
  header += static_cast<char>(8);                       // bit depth
  header += static_cast<char>(channels == 1 ? 0 : 2);   // greyscale or truecolour
  header += std::string(3, '\0');                       // deflate, adaptive filtering, no interlace
  chunk(out, "IHDR", header);
  chunk(out, "IDAT", std::string(reinterpret_cast<const char*>(compressed.data()), compressed_size));
  chunk(out, "IEND", "");
  return out;
}

}  // namespace shrink
