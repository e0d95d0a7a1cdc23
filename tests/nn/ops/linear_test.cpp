#include "shrink/core/threading.hpp"
#include "shrink/nn/gradient_check.hpp"
#include "shrink/nn/op.hpp"

#include "op_testing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shrink::testing {
namespace {

TEST(LinearTest, ForwardMatchesHandComputedValues) {
  auto op = make_op("Linear", {{"out_features", 2}});
  const Tensor x({2, 3}, {1, 2, 3, -1, 0, 2});
  std::vector<Parameter> params = make_parameters(*op, x.shape(), 1);
  params[0].value = Tensor({2, 3}, {1, 0, -1, 0.5f, 2, 1});
  params[1].value = Tensor({2}, {0.25f, -1});
  const Tensor y = run_forward(*op, x, params);
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  // Row 0: [1-3, 0.5+4+3] + b; row 1: [-1-2, -0.5+0+2] + b.
  EXPECT_FLOAT_EQ(y[0], -2.0f + 0.25f);
  EXPECT_FLOAT_EQ(y[1], 7.5f - 1.0f);
  EXPECT_FLOAT_EQ(y[2], -3.0f + 0.25f);
  EXPECT_FLOAT_EQ(y[3], 1.5f - 1.0f);
}

TEST(LinearTest, ParameterSpecsFollowPyTorchLayoutAndInit) {
  auto op = make_op("Linear", {{"out_features", 7}});
  const auto specs = op->parameter_specs({{4, 11}});
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].suffix, "weight");
  EXPECT_EQ(specs[0].shape, (Shape{7, 11}));
  EXPECT_EQ(specs[0].init, Init::KaimingUniform);
  EXPECT_EQ(specs[0].fan_in, 11);
  EXPECT_EQ(specs[1].suffix, "bias");
  EXPECT_EQ(specs[1].shape, (Shape{7}));
  EXPECT_EQ(specs[1].init, Init::BiasUniform);
  EXPECT_EQ(specs[1].fan_in, 11);
  EXPECT_EQ(make_op("Linear", {{"out_features", 7}, {"bias", false}})
                ->parameter_specs({{4, 11}})
                .size(),
            1u);
  EXPECT_EQ(op->macs({{4, 11}}), 4 * 11 * 7);
}

// 67 rows split the output features across threads; 389 rows (128 a thread or more) split the
// batch.
TEST(LinearTest, ForwardMatchesAReferenceAcrossThreadCountsAndSplits) {
  auto op = make_op("Linear", {{"out_features", 37}});
  const int saved = num_threads();
  for (int64_t batch : {67, 389}) {
    const Tensor x = random_tensor({batch, 129}, 3);
    std::vector<Parameter> params = make_parameters(*op, x.shape(), 4);
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      const Tensor y = run_forward(*op, x, params);
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t o = 0; o < 37; ++o) {
          double sum = params[1].value[o];
          for (int64_t i = 0; i < 129; ++i)
            sum += static_cast<double>(x[n * 129 + i]) * params[0].value[o * 129 + i];
          ASSERT_NEAR(y[n * 37 + o], sum, 1e-4) << "batch " << batch << ", threads " << threads;
        }
    }
  }
  set_num_threads(saved);
}

TEST(LinearTest, GradientsMatchFiniteDifferences) {
  for (bool bias : {true, false}) {
    auto op = make_op("Linear", {{"out_features", 5}, {"bias", bias}});
    const Tensor x = random_tensor({3, 4}, 11);
    expect_gradients_match(*op, {x}, make_parameters(*op, x.shape(), 12), 1e-2,
                           bias ? "with bias" : "without bias");
  }
}

TEST(LinearTest, BackwardAddsIntoParameterGradientsAndSplitsAcrossThreads) {
  auto op = make_op("Linear", {{"out_features", 33}});
  const Tensor x = random_tensor({65, 70}, 21);
  const Tensor dy = random_tensor({65, 33}, 22);
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    std::vector<Parameter> params = make_parameters(*op, x.shape(), 23);
    params[0].grad.fill(1.0f);
    params[1].grad.fill(-1.0f);
    OpArgs args;
    args.inputs = {&x};
    for (auto& p : params) args.params.push_back(&p);
    Tensor y(op->output_shape({x.shape()}));
    op->forward(args, y);
    Tensor dx;
    op->backward(args, y, dy, {&dx});
    ASSERT_EQ(dx.shape(), x.shape());
    // dW = 1 + dY^T X, db = -1 + column sums, dX = dY W.
    for (int64_t o = 0; o < 33; ++o) {
      double db = -1.0;
      for (int64_t n = 0; n < 65; ++n) db += dy[n * 33 + o];
      ASSERT_NEAR(params[1].grad[o], db, 1e-4);
      for (int64_t i = 0; i < 70; i += 7) {
        double dw = 1.0;
        for (int64_t n = 0; n < 65; ++n) dw += static_cast<double>(dy[n * 33 + o]) * x[n * 70 + i];
        ASSERT_NEAR(params[0].grad[o * 70 + i], dw, 1e-4);
      }
    }
    for (int64_t n = 0; n < 65; n += 5)
      for (int64_t i = 0; i < 70; ++i) {
        double d = 0.0;
        for (int64_t o = 0; o < 33; ++o)
          d += static_cast<double>(dy[n * 33 + o]) * params[0].value[o * 70 + i];
        ASSERT_NEAR(dx[n * 70 + i], d, 1e-4);
      }
  }
  set_num_threads(saved);
}

TEST(LinearTest, AttributesRoundTripThroughMakeOp) {
  auto op = make_op("Linear", {{"out_features", 9}, {"bias", false}});
  const auto attributes = op->attributes();
  EXPECT_EQ(attributes, (nlohmann::json{{"out_features", 9}, {"bias", false}}));
  auto again = make_op("Linear", attributes);
  EXPECT_EQ(again->type(), "Linear");
  EXPECT_EQ(again->attributes(), attributes);
  EXPECT_EQ(make_op("Linear", {{"out_features", 3}})->attributes()["bias"], true);
}

TEST(LinearTest, BadInputsNameTheOpAndTheCulprit) {
  auto op = make_op("Linear", {{"out_features", 4}});
  std::string message = bad_input_message([&] { op->output_shape({{2, 3, 4}}); });
  EXPECT_NE(message.find("Linear"), std::string::npos) << message;
  EXPECT_NE(message.find("[2, 3, 4]"), std::string::npos) << message;

  message = bad_input_message([&] { make_op("Linear", nlohmann::json::object()); });
  EXPECT_NE(message.find("out_features"), std::string::npos) << message;
  message = bad_input_message([&] { make_op("Linear", {{"out_features", 0}}); });
  EXPECT_NE(message.find("out_features"), std::string::npos) << message;
  message = bad_input_message([&] { make_op("Linear", {{"out_features", 2}, {"bias", "yes"}}); });
  EXPECT_NE(message.find("bias"), std::string::npos) << message;
  message = bad_input_message([&] { make_op("Linear", {{"out_features", 2}, {"biass", true}}); });
  EXPECT_NE(message.find("biass"), std::string::npos) << message;

  // A weight that does not match the input width.
  const Tensor x = random_tensor({2, 3}, 5);
  std::vector<Parameter> params = make_parameters(*op, {2, 5}, 6);
  message = bad_input_message([&] { run_forward(*op, x, params); });
  EXPECT_NE(message.find("weight"), std::string::npos) << message;
}

}  // namespace
}  // namespace shrink::testing
