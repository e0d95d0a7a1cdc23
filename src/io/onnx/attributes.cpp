#include "io/onnx/import_support.hpp"

#include "shrink/core/error.hpp"

namespace shrink::onnx_io {

const onnx::AttributeProto* Attributes::find(const std::string& name) const {
  for (const auto& a : node_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

void Attributes::allow_only(std::initializer_list<const char*> known) const {
  for (const auto& a : node_.attribute()) {
    bool found = false;
    for (const char* k : known) found = found || a.name() == k;
    if (found) continue;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw Error::bad_input("attribute '" + a.name() + "' is not supported" +
                           (list.empty() ? std::string(" (shrink reads none)")
                                         : " (shrink reads " + list + ")"));
  }
}

const onnx::AttributeProto& Attributes::expect(const std::string& name,
                                               onnx::AttributeProto_AttributeType type) const {
  const onnx::AttributeProto* a = find(name);
  if (a->type() != type && a->type() != onnx::AttributeProto_AttributeType_UNDEFINED)
    throw Error::bad_input("attribute '" + name + "' has type " +
                           onnx::AttributeProto_AttributeType_Name(a->type()) + ", expected " +
                           onnx::AttributeProto_AttributeType_Name(type));
  return *a;
}

int64_t Attributes::get_int(const std::string& name, int64_t fallback) const {
  if (!has(name)) return fallback;
  return expect(name, onnx::AttributeProto_AttributeType_INT).i();
}

float Attributes::get_float(const std::string& name, float fallback) const {
  if (!has(name)) return fallback;
  return expect(name, onnx::AttributeProto_AttributeType_FLOAT).f();
}

std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  if (!has(name)) return fallback;
  return expect(name, onnx::AttributeProto_AttributeType_STRING).s();
}

std::vector<int64_t> Attributes::get_ints(const std::string& name,
                                          std::vector<int64_t> fallback) const {
  if (!has(name)) return fallback;
  const auto& a = expect(name, onnx::AttributeProto_AttributeType_INTS);
  return {a.ints().begin(), a.ints().end()};
}

std::vector<float> Attributes::get_floats(const std::string& name) const {
  if (!has(name)) return {};
  const auto& a = expect(name, onnx::AttributeProto_AttributeType_FLOATS);
  return {a.floats().begin(), a.floats().end()};
}

const onnx::TensorProto* Attributes::get_tensor(const std::string& name) const {
  if (!has(name)) return nullptr;
  return &expect(name, onnx::AttributeProto_AttributeType_TENSOR).t();
}

}  // namespace shrink::onnx_io
