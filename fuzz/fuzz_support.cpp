#include "fuzz_support.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace shrink::fuzz {
namespace {

// Activations above this many floats per sample are not run (the input alone may say
// "[1, 65536, 65536]"): memory, not correctness.
constexpr int64_t kMaxValues = int64_t{1} << 20;

int64_t numel_or_max(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0 || d > kMaxValues || n > kMaxValues / d) return kMaxValues + 1;
    n *= d;
  }
  return n;
}

}  // namespace

void with_file(std::string_view bytes, const std::string& suffix,
               const std::function<void(const std::string&)>& read) {
  namespace fs = std::filesystem;
  static const fs::path directory = [] {
    const fs::path base = fs::is_directory("/dev/shm") ? "/dev/shm" : fs::temp_directory_path();
    const fs::path dir = base / ("shrink-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
  }();
  const std::string path = (directory / ("input" + suffix)).string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw Error::internal("cannot write the fuzz input to " + path);
  }
  read(path);
}

void exercise(Model& model) {
  if (model.nodes().empty() || numel_or_max(model.input_shape()) > kMaxValues) return;
  for (const Node& node : model.nodes())
    if (numel_or_max(node.output_shape) > kMaxValues) return;
  Shape batch{2};
  batch.insert(batch.end(), model.input_shape().begin(), model.input_shape().end());
  Tensor x(batch);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
  const Tensor& y = model.forward(x, /*training=*/true);
  model.backward(Tensor(y.shape(), 1.0f), /*accumulate=*/false);
  model.forward(x, /*training=*/false);
}

void run_one(std::string_view input, void (*target)(std::string_view)) {
  try {
    target(input);
  } catch (const Error& e) {
    if (e.kind() != Error::Kind::BadInput) throw;  // an internal failure is a finding
  }
}

}  // namespace shrink::fuzz
