#pragma once
// A suite of CLI tests over one Fashion-MNIST subset in a temporary directory, with the models
// its tests share made once, by `shrink` itself. The derived class (CRTP) says how large the
// subset is and what to make:
//
//   class PruneCli : public FashionMnistSuite<PruneCli> {
//    public:
//     static constexpr int kTrain = 2000, kTest = 500;
//     static void prepare() { model_ = dir_->file("m.shrk"); setup({"train", ..., "-o", model_}); }
//   };
//
// Every test skips when the data is not installed, and fails when a setup command failed.
#include "support/cli.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shrink::testing {

template <class Derived>
class FashionMnistSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    has_data_ = write_fashion_mnist_subset(dir_->path().string(), Derived::kTrain, Derived::kTest);
    if (!has_data_) return;
    data_ = "fashion-mnist:" + dir_->path().string();
    Derived::prepare();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!has_data_) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
    ASSERT_EQ(failed_setup_.exit_code, 0) << failed_setup_.err;
  }

  // Runs one setup command, unless an earlier one failed (whose result it then returns).
  static CliResult setup(const std::vector<std::string>& args) {
    if (failed_setup_.exit_code != 0) return failed_setup_;
    CliResult result = run_cli(args);
    if (result.exit_code != 0) failed_setup_ = result;
    return result;
  }

  static inline TempDir* dir_ = nullptr;
  static inline bool has_data_ = false;
  static inline std::string data_;   // "fashion-mnist:DIR"
  static inline std::string model_;  // the suite's main model, if prepare() names one
  static inline CliResult failed_setup_{0, "", ""};
};

// A suite whose model_ is a small MLP (784-64-32-10) trained for two epochs on 2,000 images,
// what the compression suites start from: quick to make, accurate enough that a compression
// which breaks it shows in the accuracy.
template <class Derived>
class FashionMnistMlpSuite : public FashionMnistSuite<Derived> {
 public:
  static constexpr int kTrain = 2000, kTest = 500;
  static void prepare() {
    using Base = FashionMnistSuite<Derived>;
    Base::model_ = Base::dir_->file("mlp.shrk");
    Base::setup({"train", "--arch", "mlp", "--hidden", "64", "32", "--data", Base::data_, "--epochs",
                 "2", "--threads", "2", "-q", "-o", Base::model_});
  }
};

}  // namespace shrink::testing
