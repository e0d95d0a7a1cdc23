// ONNX's own backend node tests (Debian libonnx-testdata) for the operators shrink lists: each
// float32 case whose every node is an operator the importer translates is imported, run on its
// test_data_set_0 inputs and compared with the reference output (rtol 1e-3, atol 1e-5). The cases
// that still fail are listed with their reason in tests/fixtures/onnx_node_failures.txt (and in
// docs/onnx.md): the test fails when a case outside that list fails, and when a listed case
// passes, so the list stays true in both directions.
#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/io/onnx.hpp"
#include "shrink/io/tensor_file.hpp"
#include "shrink/nn/model.hpp"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace shrink {
namespace {

namespace fs = std::filesystem;

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

struct Case {
  std::string name;
  fs::path dir;
};

bool float_tensor(const onnx::ValueInfoProto& value) {
  return value.type().has_tensor_type() &&
         value.type().tensor_type().elem_type() == onnx::TensorProto_DataType_FLOAT;
}

// The cases in scope: every node's operator is one shrink translates, every graph input and
// output is float32, and the case has its first data set.
std::vector<Case> cases_in_scope() {
  const std::vector<std::string> listed = onnx_import_operators();
  const std::set<std::string> operators(listed.begin(), listed.end());
  std::vector<Case> cases;
  for (const auto& entry : fs::directory_iterator(kNodeTests)) {
    const fs::path model = entry.path() / "model.onnx";
    if (!fs::exists(model) || !fs::exists(entry.path() / "test_data_set_0")) continue;
    onnx::ModelProto proto;
    if (!proto.ParseFromString(read_file(model.string()))) continue;
    const auto& graph = proto.graph();
    bool in_scope = graph.node_size() > 0;
    for (const auto& node : graph.node())
      in_scope = in_scope && (node.domain().empty() || node.domain() == "ai.onnx") &&
                 operators.count(node.op_type());
    for (const auto& value : graph.input()) in_scope = in_scope && float_tensor(value);
    for (const auto& value : graph.output()) in_scope = in_scope && float_tensor(value);
    if (in_scope) cases.push_back({entry.path().filename().string(), entry.path()});
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return cases;
}

// Runs one case; returns "" when it passes, else why not (one line).
std::string run_case(const Case& c) {
  try {
    // input_k.pb is the k-th graph input that is not an initializer. All of them are given when
    // loading, as `shrink run` does: the importer keeps as model inputs those that share the
    // batch axis and reads the others (and weights given as inputs) as constants.
    onnx::ModelProto proto;
    proto.ParseFromString(read_file((c.dir / "model.onnx").string()));
    std::set<std::string> initializers;
    for (const auto& init : proto.graph().initializer()) initializers.insert(init.name());
    const fs::path data = c.dir / "test_data_set_0";
    std::map<std::string, Tensor> values;
    int k = 0;
    for (const auto& input : proto.graph().input())
      if (!initializers.count(input.name()))
        values[input.name()] =
            read_tensor_pb((data / ("input_" + std::to_string(k++) + ".pb")).string());
    Model model = load_onnx((c.dir / "model.onnx").string(), values);
    std::vector<const Tensor*> pointers;
    for (const ModelInput& input : model.inputs()) pointers.push_back(&values.at(input.name));
    const Tensor& y = model.forward(pointers);
    const Tensor expected = read_tensor_pb((data / "output_0.pb").string());
    if (y.shape() != expected.shape())
      return "output shape " + to_string(y.shape()) + ", expected " + to_string(expected.shape());
    for (int64_t i = 0; i < y.numel(); ++i) {
      const double tolerance = 1e-5 + 1e-3 * std::abs(expected[i]);
      if (!(std::abs(y[i] - expected[i]) <= tolerance))
        return "output element " + std::to_string(i) + " is " + std::to_string(y[i]) +
               ", expected " + std::to_string(expected[i]);
    }
    return "";
  } catch (const std::exception& e) {
    std::string message = e.what();
    // The file path prefixes every import error; the reason is what follows it.
    const std::string prefix = (c.dir / "model.onnx").string() + ": ";
    if (message.starts_with(prefix)) message = message.substr(prefix.size());
    return message;
  }
}

// tests/fixtures/onnx_node_failures.txt: "test_name  reason" per line, '#' starts a comment.
std::set<std::string> listed_failures() {
  std::ifstream in(fs::path(SHRINK_SOURCE_DIR) / "tests" / "fixtures" / "onnx_node_failures.txt");
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.insert(name);
  }
  return names;
}

TEST(OnnxNodeTests, PassOrAreListedWithTheirReason) {
  if (!fs::is_directory(kNodeTests))
    GTEST_SKIP() << "ONNX's node tests are not installed (Debian package libonnx-testdata)";
  const std::vector<Case> cases = cases_in_scope();
  ASSERT_GE(cases.size(), 100u) << "fewer node tests in scope than expected";
  const std::set<std::string> listed = listed_failures();
  int passed = 0;
  std::string failures;
  for (const Case& c : cases) {
    const std::string reason = run_case(c);
    if (reason.empty()) {
      ++passed;
      EXPECT_FALSE(listed.count(c.name)) << c.name << " passes now: remove it from the list";
      continue;
    }
    failures += c.name + "  " + reason + "\n";
    EXPECT_TRUE(listed.count(c.name)) << c.name << " fails and is not listed: " << reason;
  }
  std::printf("%d of %zu node tests pass (%.1f%%); the others:\n%s", passed, cases.size(),
              100.0 * passed / static_cast<double>(cases.size()), failures.c_str());
}

}  // namespace
}  // namespace shrink
