#include "shrink/nn/architectures.hpp"

#include "shrink/core/error.hpp"
#include "support/errors.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace shrink {
namespace {

const Shape kImage{1, 28, 28};

using testing::bad_input_message;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs a batch of 3 through the model, forward and backward, and checks the output shape.
void check_runs(Model& model, int classes) {
  Tensor x({3, 1, 28, 28});
  Rng rng(1);
  for (float& v : x) v = rng.uniform();
  const Tensor& y = model.forward(x, /*training=*/true);
  ASSERT_EQ(y.shape(), (Shape{3, classes}));
  for (float v : y) ASSERT_TRUE(std::isfinite(v));
  model.zero_grad();
  model.backward(Tensor(y.shape(), 1.0f));
  double grad_norm = 0.0;
  for (const Parameter* p : model.parameters())
    if (p->trainable) grad_norm += p->grad.flat().squaredNorm();
  EXPECT_GT(grad_norm, 0.0);
}

struct Expected {
  std::string name;
  int64_t parameters;
  int64_t macs;
  std::vector<std::string> parameter_names;
};

TEST(Architectures, BuildWithTheExpectedSizes) {
  const std::vector<Expected> cases = {
      // 784*300+300 + 300*100+100 + 100*10+10
      {"lenet-300-100", 266'610, 266'200, {"fc1.weight", "fc1.bias", "fc3.weight"}},
      // conv1 20*25+20, conv2 50*20*25+50, fc1 800*500+500, fc2 500*10+10 (Deep Compression's
      // 431K). MACs: 20*24*24*25 + 50*8*8*500 + 800*500 + 500*10.
      {"lenet5", 431'080, 2'293'000, {"conv1.weight", "conv2.bias", "fc1.weight", "fc2.bias"}},
      {"mlp", 235'146, 234'752, {"fc1.weight", "fc2.weight", "fc3.bias"}},
      // 4 bias-free 3x3 convs (288 + 9216 + 18432 + 36864), 4 BatchNorms (2*(32+32+64+64)),
      // fc 64*10+10; global average pooling counts one MAC per input element (64*7*7).
      {"vgg-small", 65'834, 18'292'928, {"block1.conv1.weight", "block2.bn2.weight", "fc.weight"}},
      // Convs 144 + 2*2304 + 4608 + 9216 + 512 (projection) + 2*9216, BatchNorms 3*32 + 5*64,
      // fc 32*10+10.
      {"resnet-small", 38'266, 10'154'688,
       {"conv1.weight", "layer1.0.conv2.weight", "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.weight", "layer2.1.bn2.bias", "fc.bias"}},
  };
  for (const Expected& e : cases) {
    SCOPED_TRACE(e.name);
    Model model = build_architecture(e.name, kImage, 10);
    EXPECT_EQ(model.parameter_count(), e.parameters);
    EXPECT_EQ(model.macs(), e.macs);
    EXPECT_EQ(model.output_shape(), (Shape{10}));
    for (const auto& name : e.parameter_names) EXPECT_NE(model.find_parameter(name), nullptr) << name;
    EXPECT_EQ(model.metadata["architecture"], e.name);
    check_runs(model, 10);
  }
}

TEST(Architectures, Lenet5HasNoActivationAfterItsConvolutions) {
  const Model model = build_architecture("lenet5", kImage, 10);
  std::vector<std::string> types;
  for (const Node& node : model.nodes()) types.push_back(node.op->type());
  EXPECT_EQ(types, (std::vector<std::string>{"Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "Flatten",
                                             "Linear", "ReLU", "Linear"}));
}

TEST(Architectures, ResnetHasResidualAdds) {
  const Model model = build_architecture("resnet-small", kImage, 10);
  const Node& add = model.node("layer1.0.add");
  EXPECT_EQ(add.inputs, (std::vector<std::string>{"layer1.0.bn2", "relu1"}));
  EXPECT_EQ(model.node("layer2.0.add").inputs,
            (std::vector<std::string>{"layer2.0.bn2", "layer2.0.downsample.1"}));
  EXPECT_EQ(model.node("layer2.0.add").output_shape, (Shape{32, 14, 14}));
}

TEST(Architectures, OptionsShapeTheModel) {
  Model mlp = build_architecture("mlp", {20}, 3, {{"hidden", {8}}});
  EXPECT_EQ(mlp.parameter_count(), 20 * 8 + 8 + 8 * 3 + 3);
  Model vgg = build_architecture("vgg-small", {3, 16, 16}, 5, {{"channels", {8, 16, 16}}});
  EXPECT_EQ(vgg.output_shape(), (Shape{5}));
  EXPECT_NE(vgg.find_parameter("block3.conv2.weight"), nullptr);
  Model resnet = build_architecture("resnet-small", kImage, 10, {{"width", 8}});
  EXPECT_EQ(resnet.parameter("fc.weight").value.shape(), (Shape{10, 16}));
  // Half-width LeNet-5: 10*25+10, 25*10*25+25, 400*250+250, 250*10+10.
  Model half = build_architecture("lenet5", kImage, 10, {{"channels", {10, 25}}, {"hidden", {250}}});
  EXPECT_EQ(half.parameter_count(), 260 + 6'275 + 100'250 + 2'510);
  // No hidden layer: the classifier reads the 50x4x4 features; there is no ReLU left.
  Model linear = build_architecture("lenet5", kImage, 10, {{"hidden", nlohmann::json::array()}});
  EXPECT_EQ(linear.parameter("fc1.weight").value.shape(), (Shape{10, 800}));
  EXPECT_EQ(linear.find_node("relu1"), nullptr);
  EXPECT_FALSE(bad_input_message([] {
                 build_architecture("lenet5", kImage, 10, {{"channels", {10, 20, 30}}});
               }).empty());
}

TEST(Architectures, SeedChoosesTheInitialWeights) {
  const Model a = build_architecture("lenet-300-100", kImage, 10, {{"seed", 1}});
  const Model b = build_architecture("lenet-300-100", kImage, 10, {{"seed", 1}});
  const Model c = build_architecture("lenet-300-100", kImage, 10, {{"seed", 2}});
  EXPECT_EQ(a.parameter("fc1.weight").value, b.parameter("fc1.weight").value);
  EXPECT_NE(a.parameter("fc1.weight").value, c.parameter("fc1.weight").value);
  // Initialised, not zero: PyTorch's bound 1/sqrt(784).
  EXPECT_GT(a.parameter("fc1.weight").value.flat().cwiseAbs().maxCoeff(), 0.02f);
  EXPECT_LE(a.parameter("fc1.weight").value.flat().cwiseAbs().maxCoeff(), 1.0f / 28.0f);
}

TEST(Architectures, ListedWithHelpTexts) {
  const auto list = list_architectures();
  std::vector<std::string> names;
  for (const auto& a : list) {
    names.push_back(a.name);
    EXPECT_FALSE(a.description.empty()) << a.name;
  }
  for (const std::string expected : {"mlp", "lenet-300-100", "lenet5", "vgg-small", "resnet-small"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

TEST(Architectures, JsonGraphFileBuildsTheSameModel) {
  testing::TempDir dir;
  const Model reference = build_architecture("resnet-small", kImage, 10);
  const std::string path = dir.file("resnet.json");
  std::ofstream(path) << reference.graph_json().dump(2);
  Model model = build_architecture(path, kImage, 10, {{"seed", 3}});
  EXPECT_EQ(model.graph_json(), reference.graph_json());
  EXPECT_EQ(model.parameter_count(), reference.parameter_count());
  EXPECT_EQ(model.metadata["architecture"], path);
  EXPECT_NE(model.parameter("fc.weight").value.flat().cwiseAbs().maxCoeff(), 0.0f);
  check_runs(model, 10);

  // A hand-written chain: nodes without "inputs" follow the previous one.
  const std::string chain = dir.file("chain.json");
  std::ofstream(chain) << R"({"input": {"name": "x", "shape": [1, 28, 28]},
    "nodes": [{"type": "Flatten"}, {"name": "fc", "type": "Linear", "attributes": {"out_features": 10}}]})";
  EXPECT_EQ(build_architecture(chain, kImage, 10).parameter_count(), 7850);
}

TEST(Architectures, BadJsonGraphFilesAreClearErrors) {
  testing::TempDir dir;
  const std::string missing = dir.file("missing.json");
  EXPECT_TRUE(contains(bad_input_message([&] { build_architecture(missing, kImage, 10); }),
                       "cannot be opened"));

  const std::string broken = dir.file("broken.json");
  std::ofstream(broken) << R"({"input": {"shape": [1, 28, 28]}, "nodes": [)";
  std::string message = bad_input_message([&] { build_architecture(broken, kImage, 10); });
  EXPECT_TRUE(contains(message, broken) && contains(message, "not valid JSON")) << message;

  const std::string unknown_op = dir.file("unknown_op.json");
  std::ofstream(unknown_op) << R"({"input": {"shape": [1, 28, 28]},
    "nodes": [{"type": "Flatten"}, {"name": "fc", "type": "Dense", "attributes": {"units": 10}}]})";
  message = bad_input_message([&] { build_architecture(unknown_op, kImage, 10); });
  EXPECT_TRUE(contains(message, unknown_op) && contains(message, "Dense")) << message;

  const std::string wrong_classes = dir.file("wrong_classes.json");
  std::ofstream(wrong_classes) << R"({"input": {"shape": [1, 28, 28]},
    "nodes": [{"type": "Flatten"}, {"type": "Linear", "attributes": {"out_features": 7}}]})";
  message = bad_input_message([&] { build_architecture(wrong_classes, kImage, 10); });
  EXPECT_TRUE(contains(message, "10 classes")) << message;
  message = bad_input_message([&] { build_architecture(wrong_classes, {3, 32, 32}, 7); });
  EXPECT_TRUE(contains(message, "[3, 32, 32]")) << message;

  const std::string no_nodes = dir.file("no_nodes.json");
  std::ofstream(no_nodes) << R"({"input": {"shape": [1, 28, 28]}, "nodes": []})";
  message = bad_input_message([&] { build_architecture(no_nodes, kImage, 10); });
  EXPECT_TRUE(contains(message, no_nodes) && contains(message, "nodes")) << message;
}

TEST(Architectures, BadNamesOptionsAndInputsAreClearErrors) {
  std::string message = bad_input_message([] { build_architecture("alexnet", kImage, 10); });
  for (const std::string known : {"mlp", "lenet-300-100", "lenet5", "vgg-small", "resnet-small", ".json"})
    EXPECT_TRUE(contains(message, known)) << message;
  message = bad_input_message([] { build_architecture("mlp", kImage, 10, {{"hiden", {10}}}); });
  EXPECT_TRUE(contains(message, "hiden") && contains(message, "hidden")) << message;
  message = bad_input_message([] { build_architecture("lenet5", {784}, 10); });
  EXPECT_TRUE(contains(message, "lenet5") && contains(message, "[784]")) << message;
  EXPECT_FALSE(bad_input_message([] {
                 build_architecture("mlp", kImage, 10, {{"hidden", {0}}});
               }).empty());
  EXPECT_FALSE(bad_input_message([] { build_architecture("mlp", kImage, 0); }).empty());
  EXPECT_FALSE(bad_input_message([] {
                 build_architecture("lenet5", {1, 8, 8}, 10);
               }).empty());  // too small
}

}  // namespace
}  // namespace shrink
