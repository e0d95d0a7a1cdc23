// IDX image and label files, raw or gzip (zlib's reader), as --data mnist:DIR reads them.
#include "fuzz_support.hpp"
#include "shrink/data/idx.hpp"

SHRINK_FUZZ_TARGET {
  shrink::fuzz::with_file(input, "", [](const std::string& path) {
    try {
      shrink::read_idx_images(path);
    } catch (const shrink::Error& e) {
      if (e.kind() != shrink::Error::Kind::BadInput) throw;
    }
    shrink::read_idx_labels(path);
  });
}
