#pragma once
// A minimal PNG writer (8-bit greyscale or RGB, no interlacing) for sample images in reports.
#include <cstdint>
#include <string>

namespace shrink {

// The bytes of a PNG file for `width` x `height` pixels, row-major, `channels` bytes a pixel
// (1: greyscale, 3: RGB). Compressed with zlib; every chunk carries its CRC.
std::string encode_png(int64_t width, int64_t height, int channels, const uint8_t* pixels);

}  // namespace shrink
