#include "shrink/nn/architectures.hpp"

#include "shrink/core/error.hpp"

#include <fstream>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

// --- op constructors: the one place that knows each op's attribute names ---------------------

// Linear, Conv2d and BatchNorm2d infer their input size from the input shape.
std::unique_ptr<Op> linear(int64_t out) { return make_op("Linear", {{"out_features", out}}); }

std::unique_ptr<Op> conv2d(int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias) {
  return make_op("Conv2d", {{"out_channels", out},
                            {"kernel_size", kernel},
                            {"stride", stride},
                            {"padding", padding},
                            {"bias", bias}});
}

std::unique_ptr<Op> max_pool2d(int64_t kernel) {
  return make_op("MaxPool2d", {{"kernel_size", kernel}, {"stride", kernel}});
}

std::unique_ptr<Op> batch_norm2d() { return make_op("BatchNorm2d", Json::object()); }

std::unique_ptr<Op> relu() { return make_op("ReLU", Json::object()); }
std::unique_ptr<Op> flatten() { return make_op("Flatten", Json::object()); }
std::unique_ptr<Op> global_avg_pool() { return make_op("GlobalAvgPool", Json::object()); }
std::unique_ptr<Op> add() { return make_op("Add", Json::object()); }

// --- helpers ------------------------------------------------------------------------------

int64_t channels_of(const Model& model, const std::string& node) {
  return model.node(node).output_shape.at(0);
}

void require_image_input(const std::string& arch, const Shape& input_shape) {
  require(input_shape.size() == 3,
          arch + " needs image samples [channels, height, width], got " + to_string(input_shape));
}

std::vector<int64_t> positive_list(const Json& value, const std::string& what) {
  require(value.is_array() && !value.empty(), what + " must be a non-empty list of sizes, got " +
                                                  value.dump());
  std::vector<int64_t> sizes;
  for (const Json& v : value) {
    require(v.is_number_integer() && v.get<int64_t>() > 0,
            what + " must hold positive integers, got " + value.dump());
    sizes.push_back(v.get<int64_t>());
  }
  return sizes;
}

// --- the architectures -----------------------------------------------------------------------

// Flatten, then Linear+ReLU per hidden size, then the classifier.
void build_mlp(Model& model, int num_classes, const Json& options) {
  const std::vector<int64_t> hidden =
      positive_list(options.value("hidden", Json::array({256, 128})), "mlp option \"hidden\"");
  model.add_node("flatten", flatten());
  for (size_t i = 0; i < hidden.size(); ++i) {
    const std::string index = std::to_string(i + 1);
    model.add_node("fc" + index, linear(hidden[i]));
    model.add_node("relu" + index, relu());
  }
  model.add_node("fc" + std::to_string(hidden.size() + 1), linear(num_classes));
}

// LeCun et al.'s 300-100 MLP, the fully connected baseline of the Deep Compression paper.
void build_lenet_300_100(Model& model, int num_classes, const Json&) {
  model.add_node("flatten", flatten());
  model.add_node("fc1", linear(300));
  model.add_node("relu1", relu());
  model.add_node("fc2", linear(100));
  model.add_node("relu2", relu());
  model.add_node("fc3", linear(num_classes));
}

// Caffe's LeNet (examples/mnist/lenet.prototxt), as pruned in Deep Compression: no activation
// after the convolutions, one ReLU between the two fully connected layers. Adding ReLUs would
// change the published parameter/accuracy baselines this model is compared against. Other
// widths make smaller students for distillation ({"channels": [10, 25], "hidden": [250]} is
// half-width); "hidden": [] puts the classifier straight on the convolutions' features.
void build_lenet5(Model& model, int num_classes, const Json& options) {
  require_image_input("lenet5", model.input_shape());
  // By value: the message below must not index `options` for a key it may lack (undefined
  // behaviour on a const json, which crashed `shrink train --arch lenet5` now and then).
  const Json channel_option = options.value("channels", Json::array({20, 50}));
  const std::vector<int64_t> channels = positive_list(channel_option, "lenet5 option \"channels\"");
  require(channels.size() == 2, "lenet5 option \"channels\" takes the widths of its two "
                                "convolutions, got " + channel_option.dump());
  const Json hidden = options.value("hidden", Json::array({500}));
  model.add_node("conv1", conv2d(channels[0], 5, 1, 0, true));
  model.add_node("pool1", max_pool2d(2));
  model.add_node("conv2", conv2d(channels[1], 5, 1, 0, true));
  model.add_node("pool2", max_pool2d(2));
  model.add_node("flatten", flatten());
  const std::vector<int64_t> sizes =
      hidden.is_array() && hidden.empty() ? std::vector<int64_t>{} : positive_list(hidden, "lenet5 option \"hidden\"");
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string index = std::to_string(i + 1);
    model.add_node("fc" + index, linear(sizes[i]));
    model.add_node("relu" + index, relu());
  }
  model.add_node("fc" + std::to_string(sizes.size() + 1), linear(num_classes));
}

// Two VGG blocks of 3x3 conv-BN-ReLU pairs with 2x2 max pooling, then global average pooling
// and one Linear: about 66k parameters and 18 MMACs per 28x28 sample. A Fashion-MNIST epoch
// (60k samples, batch 64) took ~190 s on two cores shared with other jobs (~310 samples/s), so
// roughly 1.5-2 minutes on an idle pair; {"channels": [16, 32]} is about 4x cheaper. The
// convolutions carry no bias because the BatchNorm after each one has its own shift.
void build_vgg_small(Model& model, int num_classes, const Json& options) {
  require_image_input("vgg-small", model.input_shape());
  const std::vector<int64_t> widths =
      positive_list(options.value("channels", Json::array({32, 64})), "vgg-small option \"channels\"");
  for (size_t b = 0; b < widths.size(); ++b) {
    const std::string block = "block" + std::to_string(b + 1) + ".";
    for (int layer = 1; layer <= 2; ++layer) {
      const std::string index = std::to_string(layer);
      model.add_node(block + "conv" + index, conv2d(widths[b], 3, 1, 1, false));
      model.add_node(block + "bn" + index, batch_norm2d());
      model.add_node(block + "relu" + index, relu());
    }
    model.add_node(block + "pool", max_pool2d(2));
  }
  model.add_node("avgpool", global_avg_pool());
  model.add_node("flatten", flatten());
  model.add_node("fc", linear(num_classes));
}

// A torchvision-style basic block named "<prefix>.conv1" ...: conv-BN-ReLU-conv-BN, plus the
// shortcut (a strided 1x1 conv-BN projection when the shape changes), Add, ReLU.
// Returns the name of the block's output node.
std::string basic_block(Model& model, const std::string& prefix, const std::string& input,
                        int64_t out_channels, int64_t stride) {
  const int64_t in_channels = channels_of(model, input);
  model.add_node(prefix + ".conv1", conv2d(out_channels, 3, stride, 1, false), {input});
  model.add_node(prefix + ".bn1", batch_norm2d());
  model.add_node(prefix + ".relu1", relu());
  model.add_node(prefix + ".conv2", conv2d(out_channels, 3, 1, 1, false));
  model.add_node(prefix + ".bn2", batch_norm2d());
  std::string shortcut = input;
  if (stride != 1 || in_channels != out_channels) {
    model.add_node(prefix + ".downsample.0",
                   conv2d(out_channels, 1, stride, 0, false), {input});
    model.add_node(prefix + ".downsample.1", batch_norm2d());
    shortcut = prefix + ".downsample.1";
  }
  model.add_node(prefix + ".add", add(), {prefix + ".bn2", shortcut});
  model.add_node(prefix + ".relu2", relu());
  return prefix + ".relu2";
}

// Stem conv-BN-ReLU (16), block layer1.0 (16), layer2.0 (32, stride 2, projection shortcut),
// layer2.1 (32), global average pooling and one Linear.
void build_resnet_small(Model& model, int num_classes, const Json& options) {
  require_image_input("resnet-small", model.input_shape());
  const int64_t width = options.value("width", int64_t{16});
  require(width > 0, "resnet-small option \"width\" must be positive, got " + std::to_string(width));
  model.add_node("conv1", conv2d(width, 3, 1, 1, false));
  model.add_node("bn1", batch_norm2d());
  model.add_node("relu1", relu());
  std::string x = basic_block(model, "layer1.0", "relu1", width, 1);
  x = basic_block(model, "layer2.0", x, 2 * width, 2);
  x = basic_block(model, "layer2.1", x, 2 * width, 1);
  model.add_node("avgpool", global_avg_pool(), {x});
  model.add_node("flatten", flatten());
  model.add_node("fc", linear(num_classes));
}

struct Builtin {
  ArchitectureInfo info;
  std::set<std::string> options;  // besides "seed"
  void (*build)(Model&, int, const Json&);
};

// One line per architecture, in help order.
const Builtin kArchitectures[] = {
    {{"mlp", "Flatten, then Linear+ReLU per hidden size, then a Linear classifier",
      "hidden: list of sizes (default [256, 128])"},
     {"hidden"},
     build_mlp},
    {{"lenet-300-100", "LeNet-300-100 MLP (Deep Compression's fully connected baseline)", ""},
     {},
     build_lenet_300_100},
    {{"lenet5", "Caffe LeNet-5: conv 20@5x5, pool, conv 50@5x5, pool, fc 500, ReLU, fc",
      "channels: the two convolutions' widths (default [20, 50]); hidden: fc sizes (default [500])"},
     {"channels", "hidden"},
     build_lenet5},
    {{"vgg-small", "VGG-style conv-BN-ReLU x2 + maxpool per block, global average pool, Linear",
      "channels: width per block (default [32, 64])"},
     {"channels"},
     build_vgg_small},
    {{"resnet-small", "ResNet: conv-BN-ReLU stem, 3 basic blocks (one strided), global pool, Linear",
      "width: stem width, doubled after downsampling (default 16)"},
     {"width"},
     build_resnet_small},
};

std::string known_names() {
  std::string names;
  for (const Builtin& arch : kArchitectures) names += arch.info.name + ", ";
  return names + "or a graph file ending in .json";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Model load_graph_file(const std::string& path, const Shape& input_shape, int num_classes) {
  const std::string where = "architecture file " + path;
  std::ifstream in(path);
  if (!in) throw Error::bad_input(where + " cannot be opened; check the path");
  Json graph;
  try {
    graph = Json::parse(in);
  } catch (const Json::exception& e) {
    throw Error::bad_input(where + " is not valid JSON (" + e.what() + ")");
  }
  Model model;
  try {
    model = Model::from_graph_json(graph);
  } catch (Error& e) {
    throw e.add_context(where);
  }
  require(model.input_shape() == input_shape,
          where + " takes input " + to_string(model.input_shape()) + " but the data has samples of shape " +
              to_string(input_shape));
  if (num_classes > 0)
    require(element_count(model.output_shape()) == num_classes,
            where + " gives outputs of shape " + to_string(model.output_shape()) + " but the data has " +
                std::to_string(num_classes) + " classes");
  return model;
}

}  // namespace

std::vector<ArchitectureInfo> list_architectures() {
  std::vector<ArchitectureInfo> list;
  for (const Builtin& arch : kArchitectures) list.push_back(arch.info);
  list.push_back({"FILE.json", "a graph description (the \"graph\" of Model::graph_json())", ""});
  return list;
}

Model build_architecture(const std::string& name, const Shape& input_shape, int num_classes,
                         const nlohmann::json& options) {
  const Json opts = options.is_null() ? Json::object() : options;
  require(opts.is_object(), "architecture options must be a JSON object, got " + opts.dump());
  uint64_t seed = 0;
  if (opts.contains("seed")) {
    require(opts["seed"].is_number_unsigned() || (opts["seed"].is_number_integer() && opts["seed"].get<int64_t>() >= 0),
            "architecture option \"seed\" must be a non-negative integer, got " + opts["seed"].dump());
    seed = opts["seed"].get<uint64_t>();
  }

  Model model;
  if (ends_with(name, ".json")) {
    for (const auto& item : opts.items())
      require(item.key() == "seed", "architecture file " + name + " takes only the option \"seed\", got \"" +
                                        item.key() + "\"");
    model = load_graph_file(name, input_shape, num_classes);
  } else {
    const Builtin* found = nullptr;
    for (const Builtin& arch : kArchitectures)
      if (arch.info.name == name) found = &arch;
    if (found == nullptr)
      throw Error::bad_input("unknown architecture '" + name + "'; known: " + known_names());
    require(num_classes > 0, "architecture " + name + " needs a positive number of classes, got " +
                                 std::to_string(num_classes));
    for (const auto& item : opts.items()) {
      if (item.key() == "seed" || found->options.count(item.key())) continue;
      std::string known = "seed";
      for (const auto& o : found->options) known += ", " + o;
      throw Error::bad_input("architecture " + name + " has no option \"" + item.key() +
                             "\"; it takes: " + known);
    }
    try {
      model.set_input("input", input_shape);
      found->build(model, num_classes, opts);
    } catch (Error& e) {
      throw e.add_context("architecture " + name + " for input " + to_string(input_shape));
    } catch (const Json::exception& e) {
      throw Error::bad_input("architecture " + name + ": bad options " + opts.dump() + " (" + e.what() + ")");
    }
  }
  model.initialize(seed);
  model.metadata["architecture"] = name;
  model.metadata["num_classes"] =
      num_classes > 0 ? int64_t{num_classes} : element_count(model.output_shape());
  return model;
}

}  // namespace shrink
