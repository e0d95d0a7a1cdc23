#include "shrink/io/model_file.hpp"

#include "shrink/core/error.hpp"
#include "shrink/io/container.hpp"
#include "shrink/io/onnx.hpp"

#include <filesystem>

namespace shrink {
namespace {

std::string extension_of(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

Model read_model(const std::string& path) {
  const std::string ext = extension_of(path);
  if (ext == ".shrk" || ext == ".safetensors") return load_model_shrk(path);
  if (ext == ".onnx") return load_onnx(path);
  const std::string name = "cannot read model file " + path + ": ";
  if (std::filesystem::is_directory(path))
    throw Error::bad_input(name + "it is a directory; give a .shrk or .onnx file");
  if (ext.empty())
    throw Error::bad_input(name + "its name has no extension; give a .shrk or .onnx file");
  throw Error::bad_input(name + "unknown extension '" + ext + "' (expected .shrk or .onnx)");
}

void write_model(const Model& model, const std::string& path) {
  const std::string ext = extension_of(path);
  if (ext == ".shrk") return save_model(model, path);
  if (ext == ".onnx") return save_onnx(model, path);
  throw Error::bad_input("cannot write model file " + path + ": unknown extension '" + ext +
                         "' (expected .shrk or .onnx)");
}

int64_t file_bytes(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) throw Error::bad_input("cannot read the size of " + path + ": " + error.message());
  return static_cast<int64_t>(size);
}

}  // namespace shrink
