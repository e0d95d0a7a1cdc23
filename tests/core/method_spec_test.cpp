#include "shrink/core/method_spec.hpp"

#include "shrink/core/error.hpp"

#include <gtest/gtest.h>

namespace shrink {
namespace {

TEST(MethodSpec, MethodAlone) {
  const MethodSpec spec = parse_method_spec("--quantize", "binary");
  EXPECT_EQ(spec.method, "binary");
  EXPECT_TRUE(spec.value.is_null());
  EXPECT_TRUE(spec.options.empty());
}

TEST(MethodSpec, ValueAndOptions) {
  const MethodSpec spec = parse_method_spec("--quantize", "affine:4,per_channel=true,range=mse");
  EXPECT_EQ(spec.method, "affine");
  EXPECT_EQ(spec.value, 4);
  EXPECT_TRUE(spec.value.is_number_integer());
  EXPECT_EQ(spec.options, (nlohmann::json{{"per_channel", true}, {"range", "mse"}}));
}

TEST(MethodSpec, NumbersKeepTheirKind) {
  EXPECT_TRUE(parse_method_spec("--prune", "magnitude:0.9").value.is_number_float());
  EXPECT_DOUBLE_EQ(parse_method_spec("--prune", "magnitude:0.9").value.get<double>(), 0.9);
  EXPECT_TRUE(parse_method_spec("--x", "a:1e-4").value.is_number_float());
  EXPECT_EQ(parse_method_spec("--x", "a:-3").value, -3);
  EXPECT_EQ(parse_method_spec("--x", "a:nan").value, "nan");  // not a finite number
  const MethodSpec kd = parse_method_spec("--loss", "kd:T=4,alpha=0.9");
  EXPECT_TRUE(kd.value.is_null());
  EXPECT_EQ(kd.options["T"], 4);
  EXPECT_DOUBLE_EQ(kd.options["alpha"].get<double>(), 0.9);
}

TEST(MethodSpec, MalformedSpecsAreClearErrors) {
  for (const char* bad : {"", ":0.5", "magnitude:", "a:1,,b=2", "a:1,2", "a:k=1,k=2", "a:=3"}) {
    try {
      parse_method_spec("--prune", bad);
      FAIL() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::BadInput);
      EXPECT_EQ(std::string(e.what()).rfind("--prune ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace shrink
