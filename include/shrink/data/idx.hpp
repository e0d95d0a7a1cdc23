#pragma once
// Readers for the IDX format of the MNIST family (big-endian header, then raw bytes), gzipped or
// raw: zlib's gz reader passes plain files through unchanged, so both are detected by magic bytes.
#include "shrink/data/dataset.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace shrink {

struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> bytes;  // count * rows * cols, row-major
};

// Reads an image file (magic 0x00000803: unsigned bytes, 3 dimensions). Throws bad_input naming
// the path when it is missing, has a wrong magic number, zero/absurd dimensions, is truncated or
// has trailing bytes.
IdxImages read_idx_images(const std::string& path);
// Reads a label file (magic 0x00000801: unsigned bytes, 1 dimension), with the same checks.
std::vector<int32_t> read_idx_labels(const std::string& path);

// Reads an image file and its label file into a dataset of shape [1, rows, cols] with scale 1/255;
// num_classes is max label + 1 unless `num_classes` > 0 (then labels must lie below it).
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         std::string name, int num_classes = 0);

}  // namespace shrink
