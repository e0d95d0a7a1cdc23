#pragma once
// The table of operator importers: ONNX op_type -> the function that translates such a node into
// shrink nodes. Each family of operators lives in one file (src/io/onnx/<family>_importer.cpp)
// that adds its rows with add_<family>_importers; adding an operator to a family is one function
// and one line in that file, adding a family one file and one line in op_importers.cpp.
#include "io/onnx/importer.hpp"

#include <map>
#include <string>

namespace shrink::onnx_io {

using OpImporter = void (*)(Importer&, const onnx::NodeProto&, const Attributes&);
using OpImporterTable = std::map<std::string, OpImporter>;

// Every ONNX operator that touches activations; constant-only nodes are folded before.
const OpImporterTable& op_importers();

void add_linear_importers(OpImporterTable& table);         // Gemm, MatMul
void add_elementwise_importers(OpImporterTable& table);    // Add, Relu, Clip, Dropout, ...
void add_conv_importers(OpImporterTable& table);           // Conv, ConvTranspose
void add_pool_importers(OpImporterTable& table);           // MaxPool, AveragePool, Global*
void add_normalization_importers(OpImporterTable& table);  // BatchNormalization, Softmax, ...
void add_shape_importers(OpImporterTable& table);          // Reshape, Transpose, Concat, Pad, ...
void add_quantization_importers(OpImporterTable& table);   // QuantizeLinear, DequantizeLinear

}  // namespace shrink::onnx_io
