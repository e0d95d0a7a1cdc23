// quant.int8: weights and activations to 8-bit integers, expressed as ONNX expresses them.
//  1. BatchNorm folds into the Conv2d/Linear before it (compress/batch_norm_folding.hpp).
//  2. Each Conv2d, Linear and MatMul weight gets an affine 8-bit quantizer, symmetric per
//     output channel (int8 codes -127..127, one scale per channel; MatMul, whose output channels
//     are its weight's columns, per tensor), so the .shrk stores int8 codes and scales.
//     reduce_range makes them 7-bit (-63..63), as ONNX Runtime's reduce_range does: without
//     VNNI, oneDNN adds u8 x s8 products in pairs in int16, which 8-bit codes can saturate, so
//     8-bit weights run in two passes there and 7-bit ones in one (nn/kernels/int8_layers.hpp).
//     "auto" (the default) reduces when the int8 kernels of the CPU quantizing lack VNNI. The
//     file and the QDQ ONNX export hold the 7-bit codes, so eval, run and ONNX Runtime agree.
//  3. The activation each such layer reads is calibrated on `batches` training batches
//     (compress/quant/activation_calibration.hpp) and a QuantizeLinear -> DequantizeLinear pair
//     goes in front of the layer: uint8 with a zero point (default) or int8 symmetric. The
//     graph then holds DequantizeLinear -> layer patterns for an int8 lowering to find.
//  4. The report gives each quantized activation's SQNR against the fp32 model on the
//     calibration data, at the layer's input and output, worst first.
// The pair runs as fake quantization with a straight-through gradient, so fine-tuning the
// result (train.finetune) is quantization-aware training of the same graph. With "lsq" the
// steps are learned in that training (LSQ, Esser et al. 2020): each weight's per-channel scales
// become trainable state of its affine quantizer (nn/quant/affine.cpp) and each activation's
// scale the parameter "<layer>_quantize.step" of its QuantizeLinear, shared by the
// DequantizeLinear (nn/ops/quantize_linear.cpp); both start at the calibrated scales, and the
// zero points stay as calibrated.
#include "compress/batch_norm_folding.hpp"
#include "compress/graph_rewrite.hpp"
#include "compress/pass_options.hpp"
#include "compress/passes.hpp"
#include "compress/prune/calibration.hpp"
#include "compress/quant/activation_calibration.hpp"
#include "shrink/core/error.hpp"
#include "shrink/nn/int8_execution.hpp"
#include "shrink/nn/quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace shrink {
namespace {

using Json = nlohmann::json;

constexpr const char* kQuantizable = "Conv2d, Linear and MatMul (with a weight)";

struct Layer {
  std::string node;   // the Conv2d, Linear or MatMul
  std::string input;  // the value it reads: a node or the model input
  ActivationHistogram histogram;
  ActivationRange range;
  ActivationQuantization quantization;
  double signal_in = 0, noise_in = 0, signal_out = 0, noise_out = 0;  // for the SQNRs
};

Json sqnr_db(double signal, double noise) {
  if (noise == 0.0) return nullptr;  // exact: no finite figure
  return 10.0 * std::log10(signal / noise);
}

void accumulate(const Tensor& reference, const Tensor& quantized, double& signal, double& noise) {
  for (int64_t i = 0; i < reference.numel(); ++i) {
    const double r = reference[i];
    const double d = r - quantized[i];
    signal += r * r;
    noise += d * d;
  }
}

class Int8Pass final : public Pass {
 public:
  explicit Int8Pass(const Json& json) : options_(json.is_null() ? Json::object() : json) {
    PassOptions options(name(), options_);
    method_ = CalibrationMethod::parse(options.get<std::string>("calibration", "minmax"));
    batches_ = options.get<int64_t>("batches", 16);
    batch_ = options.get<int64_t>("batch", 128);
    const std::string activations = options.get<std::string>("activations", "uint8");
    skip_ = options.get<std::vector<std::string>>("skip", {});
    fold_ = options.get<bool>("fold_batch_norm", true);
    const std::string reduce = options.get<std::string>("reduce_range", "auto");
    lsq_ = options.get<bool>("lsq", false);
    options.finish();
    require(reduce == "auto" || reduce == "on" || reduce == "off",
            "pass quant.int8: reduce_range must be \"auto\" (7-bit weights when the CPU's int8 "
            "kernels lack VNNI), \"on\" or \"off\", got \"" + reduce + "\"");
    reduce_range_ = reduce == "on" || (reduce == "auto" && !int8_kernels_have_vnni());
    require(batches_ > 0 && batch_ > 0, "pass quant.int8: batches and batch must be positive");
    require(activations == "uint8" || activations == "int8",
            "pass quant.int8: activations must be \"uint8\" (asymmetric, the default) or "
            "\"int8\" (symmetric), got \"" + activations + "\"");
    symmetric_ = activations == "int8";
  }

  std::string name() const override { return "quant.int8"; }
  Json options() const override { return options_; }

 private:
  Json apply(Model& model, PassContext& context) override {
    require(context.train != nullptr,
            "int8 quantization calibrates the activation ranges on training data; give some "
            "(--data)");
    const std::vector<std::string> folded = fold_ ? fold_batch_norms(model) : std::vector<std::string>{};
    std::vector<Layer> layers = plan(model);
    Model fp32 = model.clone();  // the reference of the SQNRs

    calibrate(model, context, layers);
    Json weights = quantize_weights(model, layers);
    std::vector<NodeInsertion> insertions;
    for (const Layer& layer : layers) {
      Json attributes = layer.quantization.attributes();
      if (lsq_) attributes["learned_step"] = true;
      insertions.push_back({NodeInsertion::Where::Before, layer.node, layer.node + "_quantize",
                            "QuantizeLinear", attributes});
      insertions.push_back({NodeInsertion::Where::Before, layer.node, layer.node + "_dequantize",
                            "DequantizeLinear", attributes});
    }
    insert_nodes(model, insertions);
    if (lsq_)  // the learned steps start at the calibrated scales
      for (const Layer& layer : layers)
        model.parameter(layer.node + "_quantize.step").value.fill(layer.quantization.scale);
    measure_sqnr(fp32, model, context, layers);

    std::vector<const Layer*> ranked;
    for (const Layer& layer : layers) ranked.push_back(&layer);
    const auto worst = [](const Layer* l) {
      return l->noise_out == 0.0 ? INFINITY : l->signal_out / l->noise_out;
    };
    std::stable_sort(ranked.begin(), ranked.end(),
                     [&](const Layer* a, const Layer* b) { return worst(a) < worst(b); });
    Json activations = Json::array();
    for (const Layer* layer : ranked)
      activations.push_back({{"layer", layer->node},
                             {"input", layer->input},
                             {"type", layer->quantization.is_signed ? "int8" : "uint8"},
                             {"scale", layer->quantization.scale},
                             {"zero_point", layer->quantization.zero_point},
                             {"observed", {layer->histogram.observed().lo, layer->histogram.observed().hi}},
                             {"range", {layer->range.lo, layer->range.hi}},
                             {"clipped_fraction", method_.needs_histogram()
                                                      ? clipped_fraction(layer->histogram, layer->range)
                                                      : 0.0},
                             {"input_sqnr_db", sqnr_db(layer->signal_in, layer->noise_in)},
                             {"output_sqnr_db", sqnr_db(layer->signal_out, layer->noise_out)}});
    return {{"calibration", method_.to_string()},
            {"calibration_samples", samples_},
            {"activation_type", symmetric_ ? "int8" : "uint8"},
            {"reduce_range", reduce_range_},
            {"lsq", lsq_},
            {"weight_bits", weight_bits()},
            {"folded_batch_norms", folded},
            {"skipped", skip_},
            {"layers", weights},
            {"activations", activations}};
  }

  // The layers to quantize, in model order; a bad-input Error for a layer int8 cannot take.
  std::vector<Layer> plan(const Model& model) const {
    std::set<std::string> skip(skip_.begin(), skip_.end());
    std::string candidates;
    for (const Node& node : model.nodes())
      if (is_weighted_layer(node)) candidates += (candidates.empty() ? "" : ", ") + node.name;
    for (const std::string& name : skip_) {
      const Node* node = nullptr;
      for (const Node& n : model.nodes())
        if (n.name == name || n.name + ".weight" == name) node = &n;
      require(node != nullptr && (is_weighted_layer(*node) || node->op->type() == "MatMul" ||
                                  node->op->type() == "ConvTranspose2d"),
              "skip names '" + name + "', which is not a layer int8 quantizes (" + kQuantizable +
                  "); those of this model are: " + (candidates.empty() ? "none" : candidates));
      skip.insert(node->name);
    }
    std::vector<Layer> layers;
    for (const Node& node : model.nodes()) {
      if (skip.count(node.name)) continue;
      const std::string type = node.op->type();
      require(type != "ConvTranspose2d" && !(type == "MatMul" && node.parameters.empty()),
              "layer '" + node.name + "' (" + type +
                  (type == "MatMul" ? " of two activations" : "") +
                  ") cannot be quantized to int8 yet; keep it in fp32 with --skip " + node.name);
      if (!is_weighted_layer(node)) continue;
      const Parameter& weight = model.parameter(node.parameters.at(0));
      if (weight.quantized())
        throw Error::bad_input("layer '" + node.name + "' already has a quantized weight (" +
                               weight.quantizer()->format().name + "); int8 quantizes an fp32 "
                               "model: start from the fp32 model or keep the layer with --skip " +
                               node.name);
      Layer layer;
      layer.node = node.name;
      layer.input = node.inputs.at(0);
      layers.push_back(std::move(layer));
    }
    require(!layers.empty(), "the model has no " + std::string(kQuantizable) +
                                 " layer left to quantize to int8");
    return layers;
  }

  static bool is_weighted_layer(const Node& node) {
    const std::string type = node.op->type();
    return (type == "Conv2d" || type == "Linear" || type == "MatMul") && !node.parameters.empty();
  }

  static const Tensor& input_value(const Model& model, const std::string& input, const Tensor& x) {
    return model.is_input(input) ? x : model.value(input);
  }

  CalibrationOptions sample() const { return {batches_ * batch_, batch_}; }

  // Pass 1: each input's min and max; pass 2 (all but minmax): its histogram over that range.
  void calibrate(Model& model, const PassContext& context, std::vector<Layer>& layers) {
    std::vector<ActivationRange> observed(layers.size());
    std::vector<char> seen(layers.size(), 0);
    samples_ = 0;
    for_each_calibration_batch(model, context, sample(), batch_,
                               [&](const Tensor& x, const std::vector<int32_t>&) {
      model.forward(x, false);
      samples_ += x.shape()[0];
      for (size_t i = 0; i < layers.size(); ++i) {
        const Tensor& v = input_value(model, layers[i].input, x);
        for (int64_t k = 0; k < v.numel(); ++k) {
          const float value = v[k];
          if (!std::isfinite(value))
            throw Error::bad_input("the input of layer '" + layers[i].node +
                                   "' holds a non-finite value on calibration data");
          if (!seen[i]) observed[i] = {value, value};
          seen[i] = 1;
          observed[i].lo = std::min(observed[i].lo, value);
          observed[i].hi = std::max(observed[i].hi, value);
        }
      }
    });
    for (size_t i = 0; i < layers.size(); ++i) layers[i].histogram = ActivationHistogram(observed[i]);
    if (method_.needs_histogram())
      for_each_calibration_batch(model, context, sample(), batch_,
                                 [&](const Tensor& x, const std::vector<int32_t>&) {
        model.forward(x, false);
        for (Layer& layer : layers) {
          const Tensor& v = input_value(model, layer.input, x);
          layer.histogram.add(v.data(), v.numel());
        }
      });
    for (Layer& layer : layers) {
      layer.range = calibrated_range(method_, layer.histogram, symmetric_);
      layer.quantization = choose_activation_quantization(layer.range, symmetric_);
    }
  }

  int weight_bits() const { return reduce_range_ ? 7 : 8; }

  Json quantize_weights(Model& model, const std::vector<Layer>& layers) const {
    Json report = Json::object();
    for (const Layer& layer : layers) {
      const Node& node = model.node(layer.node);
      Parameter& weight = model.parameter(node.parameters.at(0));
      Json options = {{"bits", weight_bits()}, {"symmetric", true},
                      {"per_channel", node.op->type() != "MatMul"}};
      if (lsq_) options["lsq"] = true;
      weight.set_quantizer(make_quantizer("affine", options, weight.value));
      report[weight.name] = {{"format", "affine"},
                             {"bits", weight_bits()},
                             {"options", weight.quantizer()->options()},
                             {"relative_mse", relative_mse(weight.value, weight.effective())}};
    }
    return report;
  }

  void measure_sqnr(Model& fp32, Model& model, const PassContext& context,
                    std::vector<Layer>& layers) const {
    for_each_calibration_batch(model, context, sample(), batch_,
                               [&](const Tensor& x, const std::vector<int32_t>&) {
      fp32.forward(x, false);
      model.forward(x, false);
      for (Layer& layer : layers) {
        accumulate(input_value(fp32, layer.input, x), model.value(layer.node + "_dequantize"),
                   layer.signal_in, layer.noise_in);
        accumulate(fp32.value(layer.node), model.value(layer.node), layer.signal_out, layer.noise_out);
      }
    });
  }

  Json options_;
  CalibrationMethod method_;
  int64_t batches_ = 16;
  int64_t batch_ = 128;
  bool symmetric_ = false;
  bool fold_ = true;
  bool reduce_range_ = false;
  bool lsq_ = false;
  std::vector<std::string> skip_;
  int64_t samples_ = 0;
};

}  // namespace

std::unique_ptr<Pass> make_int8_pass(const nlohmann::json& options) {
  return std::make_unique<Int8Pass>(options);
}

}  // namespace shrink
