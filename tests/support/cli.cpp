#include "support/cli.hpp"

#include "shrink/data/idx.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace shrink::testing {
namespace {

std::string quote(const std::string& arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void put_u32(std::ofstream& out, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  out.write(reinterpret_cast<const char*>(b), 4);
}

}  // namespace

CliResult run_cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv{SHRINK_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

CliResult run_command(const std::vector<std::string>& argv) {
  std::random_device device;
  const auto base = std::filesystem::temp_directory_path() / ("shrink-cli-" + std::to_string(device()));
  const std::string out_path = base.string() + ".out", err_path = base.string() + ".err";
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + quote(a);
  command += " >" + quote(out_path) + " 2>" + quote(err_path) + " </dev/null";
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

void expect_clear_error(const CliResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << r.err;
}

std::string read_text(const std::string& path) { return slurp(path); }

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

bool write_fashion_mnist_subset(const std::string& dir, int train, int test) {
  const std::string source = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(source + "/t10k-labels-idx1-ubyte.gz")) return false;
  for (const auto& [prefix, count] : {std::pair<std::string, int>{"train", train}, {"t10k", test}}) {
    const IdxImages images = read_idx_images(source + "/" + prefix + "-images-idx3-ubyte.gz");
    const std::vector<int32_t> labels = read_idx_labels(source + "/" + prefix + "-labels-idx1-ubyte.gz");
    std::ofstream img(dir + "/" + prefix + "-images-idx3-ubyte", std::ios::binary);
    put_u32(img, 0x803);
    put_u32(img, static_cast<uint32_t>(count));
    put_u32(img, static_cast<uint32_t>(images.rows));
    put_u32(img, static_cast<uint32_t>(images.cols));
    img.write(reinterpret_cast<const char*>(images.bytes.data()),
              static_cast<std::streamsize>(count * images.rows * images.cols));
    std::ofstream lab(dir + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary);
    put_u32(lab, 0x801);
    put_u32(lab, static_cast<uint32_t>(count));
    for (int i = 0; i < count; ++i) lab.put(static_cast<char>(labels[static_cast<size_t>(i)]));
  }
  return true;
}

}  // namespace shrink::testing
