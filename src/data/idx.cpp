#include "shrink/data/idx.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <zlib.h>

namespace shrink {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
// Far above any real IDX file; guards the allocation against a corrupt header.
constexpr int64_t kMaxBytes = int64_t{1} << 34;

// gzopen reads gzip and passes any other file through as is, so one reader handles .gz and raw.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    if (!std::filesystem::is_regular_file(path))
      throw Error::bad_input("IDX file " + path + " does not exist or is not a regular file");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw Error::bad_input("cannot open IDX file " + path);
    gzbuffer(file_, 1 << 17);
  }
  ~GzFile() {
    if (file_) gzclose(file_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; returns how many were read. Throws on a decompression error.
  int64_t read(uint8_t* out, int64_t n) {
    int64_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<int64_t>(n - done, int64_t{1} << 30));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        throw Error::bad_input("IDX file " + path_ + " is corrupt (" + message + ")");
      }
      if (got == 0) break;
      done += got;
    }
    // zlib reports a gzip stream cut short as Z_BUF_ERROR after returning what it had.
    int code = 0;
    gzerror(file_, &code);
    if (code == Z_BUF_ERROR || code == Z_DATA_ERROR)
      throw Error::bad_input("IDX file " + path_ + " is truncated or corrupt (the gzip stream " +
                             "ends early or is damaged); download it again");
    return done;
  }

  void read_exactly(uint8_t* out, int64_t n, const std::string& what) {
    const int64_t got = read(out, n);
    if (got != n)
      throw Error::bad_input("IDX file " + path_ + " is truncated: expected " + std::to_string(n) +
                             " bytes of " + what + ", found " + std::to_string(got) +
                             "; download it again");
  }

  // Reads n bytes in chunks, so a corrupt header announcing gigabytes fails at the real end of
  // the file instead of allocating everything up front.
  std::vector<uint8_t> read_block(int64_t n, const std::string& what) {
    constexpr int64_t kChunk = int64_t{1} << 24;
    std::vector<uint8_t> out;
    int64_t done = 0;
    while (done < n) {
      const int64_t want = std::min(kChunk, n - done);
      out.resize(static_cast<size_t>(done + want));
      const int64_t got = read(out.data() + done, want);
      done += got;
      if (got < want) break;
    }
    if (done != n)
      throw Error::bad_input("IDX file " + path_ + " is truncated: expected " + std::to_string(n) +
                             " bytes of " + what + ", found " + std::to_string(done) +
                             "; download it again");
    return out;
  }

  uint32_t read_u32(const std::string& what) {
    uint8_t b[4];
    read_exactly(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }

  void expect_end() {
    uint8_t extra;
    if (read(&extra, 1) != 0)
      throw Error::bad_input("IDX file " + path_ +
                             " has bytes after the data its header announces; it is corrupt or "
                             "not an IDX file");
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

std::string hex(uint32_t v) {
  char buffer[11];
  std::snprintf(buffer, sizeof buffer, "0x%08X", v);
  return buffer;
}

void check_magic(uint32_t magic, uint32_t expected, const std::string& path,
                 const std::string& kind) {
  if (magic == expected) return;
  std::string hint;
  if (magic == (kImagesMagic ^ expected ^ kLabelsMagic) &&
      (expected == kImagesMagic || expected == kLabelsMagic))
    hint = " (it looks like a " + std::string(expected == kImagesMagic ? "label" : "image") +
           " file; are the image and label files swapped?)";
  throw Error::bad_input("IDX file " + path + " has magic number " + hex(magic) + ", expected " +
                         hex(expected) + " for " + kind + hint);
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  GzFile file(path);
  check_magic(file.read_u32("header"), kImagesMagic, path, "an image file");
  IdxImages images;
  images.count = file.read_u32("header");
  images.rows = file.read_u32("header");
  images.cols = file.read_u32("header");
  if (images.rows == 0 || images.cols == 0)
    throw Error::bad_input("IDX file " + path + " declares images of " +
                           std::to_string(images.rows) + "x" + std::to_string(images.cols) +
                           " pixels; it is corrupt");
  // Each field is below 2^32, so rows * cols may overflow int64: the bounds come first.
  if (images.rows > 65536 || images.cols > 65536 ||
      images.count > kMaxBytes / (images.rows * images.cols))
    throw Error::bad_input("IDX file " + path + " declares " + std::to_string(images.count) +
                           " images of " + std::to_string(images.rows) + "x" +
                           std::to_string(images.cols) + " pixels, too large to be real; it is "
                           "corrupt");
  const int64_t bytes = images.count * images.rows * images.cols;
  images.bytes = file.read_block(bytes, "pixels");
  file.expect_end();
  return images;
}

std::vector<int32_t> read_idx_labels(const std::string& path) {
  GzFile file(path);
  check_magic(file.read_u32("header"), kLabelsMagic, path, "a label file");
  const int64_t count = file.read_u32("header");
  const std::vector<uint8_t> bytes = file.read_block(count, "labels");
  file.expect_end();
  return {bytes.begin(), bytes.end()};
}

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         std::string name, int num_classes) {
  IdxImages images = read_idx_images(images_path);
  std::vector<int32_t> labels = read_idx_labels(labels_path);
  if (static_cast<int64_t>(labels.size()) != images.count)
    throw Error::bad_input("IDX files disagree: " + images_path + " holds " +
                           std::to_string(images.count) + " images but " + labels_path +
                           " holds " + std::to_string(labels.size()) + " labels");
  const int max_label = labels.empty() ? -1 : *std::max_element(labels.begin(), labels.end());
  if (num_classes <= 0) num_classes = max_label + 1;
  if (max_label >= num_classes)
    throw Error::bad_input("IDX label file " + labels_path + " holds label " +
                           std::to_string(max_label) + ", but the dataset has " +
                           std::to_string(num_classes) + " classes");
  Dataset d = Dataset::from_bytes(std::move(name), {1, images.rows, images.cols},
                                  std::move(images.bytes), std::move(labels),
                                  std::max(num_classes, 1));
  d.normalization.scale = 1.0f / 255.0f;
  return d;
}

}  // namespace shrink
