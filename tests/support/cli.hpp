#pragma once
// Runs the built `shrink` binary as a user would and captures what it prints.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shrink::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliResult run_cli(const std::vector<std::string>& args);

// A clear error: exit 2 and exactly one line on stderr, starting with "error: " and holding
// `fragment` (a failed expectation otherwise).
void expect_clear_error(const CliResult& result, const std::string& fragment);

// A file's bytes, and a JSON file (a --report) parsed.
std::string read_text(const std::string& path);
nlohmann::json read_json(const std::string& path);

// Runs any program the same way (argv[0] is looked up in PATH, stdin is /dev/null), for tests
// that compare shrink with another tool.
CliResult run_command(const std::vector<std::string>& argv);

// Writes a Fashion-MNIST subset (the first `train` and `test` samples of the real files, raw IDX)
// into `dir`, for "--data fashion-mnist:DIR". Returns false when the real data is not installed.
bool write_fashion_mnist_subset(const std::string& dir, int train, int test);

}  // namespace shrink::testing
