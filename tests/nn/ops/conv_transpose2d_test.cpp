// ConvTranspose2d: weights [in, out/groups, kh, kw], against hand values and a direct loop.
#include "nn/ops/op_testing.hpp"

namespace shrink {
namespace {

using testing::expect_gradients_match;

using testing::error_message;
using testing::expect_values;
using testing::make_parameter;
using testing::random_tensor;
using testing::run_op;
using Json = nlohmann::json;

struct Config {
  int64_t in, out, kernel, stride, padding, output_padding, dilation, groups;
  bool bias;
  Json attributes() const {
    return {{"out_channels", out},       {"kernel_size", kernel},
            {"stride", stride},          {"padding", padding},
            {"output_padding", output_padding}, {"dilation", dilation},
            {"groups", groups},          {"bias", bias}};
  }
};

// The definition: every input pixel scatters weight * value to the output positions it reaches.
Tensor reference(const Config& c, const Tensor& x, const Tensor& w, const Tensor* b) {
  const int64_t n = x.dim(0), h = x.dim(2), wd = x.dim(3);
  const int64_t oh = (h - 1) * c.stride - 2 * c.padding + c.dilation * (c.kernel - 1) + c.output_padding + 1;
  const int64_t ow = (wd - 1) * c.stride - 2 * c.padding + c.dilation * (c.kernel - 1) + c.output_padding + 1;
  const int64_t ig = c.in / c.groups, og = c.out / c.groups;
  Tensor y({n, c.out, oh, ow});
  for (int64_t s = 0; s < n; ++s)
    for (int64_t o = 0; o < c.out; ++o)
      for (int64_t p = 0; p < oh * ow; ++p) y[(s * c.out + o) * oh * ow + p] = b ? (*b)[o] : 0.0f;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < c.in; ++i) {
      const int64_t grp = i / ig;
      for (int64_t r = 0; r < h; ++r)
        for (int64_t q = 0; q < wd; ++q)
          for (int64_t oc = 0; oc < og; ++oc)
            for (int64_t kr = 0; kr < c.kernel; ++kr)
              for (int64_t kq = 0; kq < c.kernel; ++kq) {
                const int64_t yr = r * c.stride - c.padding + kr * c.dilation;
                const int64_t yq = q * c.stride - c.padding + kq * c.dilation;
                if (yr < 0 || yr >= oh || yq < 0 || yq >= ow) continue;
                const int64_t o = grp * og + oc;
                y[((s * c.out + o) * oh + yr) * ow + yq] +=
                    x[((s * c.in + i) * h + r) * wd + q] *
                    w[((i * og + oc) * c.kernel + kr) * c.kernel + kq];
              }
    }
  return y;
}

TEST(ConvTranspose2d, HandComputed) {
  const Tensor x({1, 1, 2, 2}, {1, 2, 3, 4});
  Parameter w = make_parameter("up.weight", Tensor({1, 1, 2, 2}, 1.0f), true);
  auto up = make_op("ConvTranspose2d", {{"out_channels", 1}, {"kernel_size", 2}, {"stride", 2}, {"bias", false}});
  expect_values(run_op(*up, {x}, {&w}), {1, 1, 4, 4},
                {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  auto overlap = make_op("ConvTranspose2d", {{"out_channels", 1}, {"kernel_size", 2}, {"bias", false}});
  expect_values(run_op(*overlap, {x}, {&w}), {1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4});
  EXPECT_EQ(overlap->macs({{1, 1, 2, 2}}), 4 * 4);
}

TEST(ConvTranspose2d, MatchesDirectLoop) {
  const std::vector<Config> configs = {
      {3, 4, 3, 2, 1, 1, 1, 1, true},  {4, 6, 3, 1, 1, 0, 2, 2, true},
      {2, 2, 2, 3, 0, 2, 1, 2, false}, {3, 5, 1, 1, 0, 0, 1, 1, true},
      {4, 4, 3, 2, 2, 0, 1, 4, true},
  };
  uint64_t seed = 1;
  for (const Config& c : configs) {
    auto op = make_op("ConvTranspose2d", c.attributes());
    const Tensor x = random_tensor({2, c.in, 4, 5}, seed++);
    const auto specs = op->parameter_specs({x.shape()});
    ASSERT_EQ(specs.size(), c.bias ? 2u : 1u);
    EXPECT_EQ(specs[0].shape, (Shape{c.in, c.out / c.groups, c.kernel, c.kernel}));
    Parameter w = make_parameter("up.weight", random_tensor(specs[0].shape, seed++), true);
    Parameter b = make_parameter("up.bias", random_tensor({c.out}, seed++), true);
    std::vector<Parameter*> params = {&w};
    if (c.bias) params.push_back(&b);
    const Tensor got = run_op(*op, {x}, params);
    const Tensor want = reference(c, x, w.value, c.bias ? &b.value : nullptr);
    ASSERT_EQ(got.shape(), want.shape()) << c.attributes().dump();
    for (int64_t i = 0; i < got.numel(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-4f) << c.attributes().dump() << " at " << i;
  }
}

TEST(ConvTranspose2d, Gradients) {
  for (const Config& c : {Config{2, 4, 3, 2, 1, 1, 1, 2, true}, Config{3, 2, 2, 1, 0, 0, 2, 1, false}}) {
    auto op = make_op("ConvTranspose2d", c.attributes());
    const Tensor x = random_tensor({2, c.in, 3, 3}, 20);
    const auto specs = op->parameter_specs({x.shape()});
    std::vector<Parameter> params;
    for (size_t i = 0; i < specs.size(); ++i)
      params.push_back(make_parameter(specs[i].suffix, random_tensor(specs[i].shape, 21 + i), true));
    expect_gradients_match(*op, {x}, params, 5e-3, c.attributes().dump());
  }
}

TEST(ConvTranspose2d, AttributesRoundTripAndBadInputs) {
  const Json full = Config{4, 6, 3, 2, 1, 1, 1, 2, true}.attributes();
  testing::expect_round_trip("ConvTranspose2d", full);
  testing::expect_round_trip("ConvTranspose2d", {{"out_channels", 3}, {"kernel_size", {2, 3}}});
  EXPECT_EQ(make_op("ConvTranspose2d", full)->attributes()["output_padding"], (Json{1, 1}));

  std::string m = error_message([] {
    make_op("ConvTranspose2d", {{"out_channels", 4}, {"kernel_size", 3}, {"stride", 2}, {"output_padding", 2}});
  });
  EXPECT_NE(m.find("output_padding"), std::string::npos) << m;
  m = error_message([] {
    make_op("ConvTranspose2d", {{"out_channels", 4}, {"kernel_size", 3}, {"groups", 2}})
        ->output_shape({{1, 3, 4, 4}});
  });
  EXPECT_NE(m.find("ConvTranspose2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 3, 4, 4]"), std::string::npos) << m;
  m = error_message([] {
    make_op("ConvTranspose2d", {{"out_channels", 4}, {"kernel_size", 3}})->output_shape({{1, 3, 4}});
  });
  EXPECT_NE(m.find("rank 4"), std::string::npos) << m;
}

}  // namespace
}  // namespace shrink
