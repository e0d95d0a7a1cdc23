#pragma once
// An op whose backward is deliberately wrong by a factor: it runs another op and scales one of
// the gradients that op's backward computes. Gradient-check tests use it to show that their
// tolerance notices a wrong factor, not only a wrong sign or a missing term.
#include "shrink/nn/op.hpp"

#include <memory>
#include <utility>
#include <vector>

namespace shrink::testing {

class ScaledGradients final : public Op {
 public:
  enum class Target { Input, Parameter };

  // Scales the gradient of input `index` or of parameter `index` by `factor`. Borrows `inner`,
  // which must outlive this op.
  ScaledGradients(Op& inner, float factor, Target target, size_t index)
      : inner_(&inner), factor_(factor), target_(target), index_(index) {}
  // Owns `inner`; release() hands it back.
  ScaledGradients(std::unique_ptr<Op> inner, float factor, Target target, size_t index)
      : owned_(std::move(inner)), inner_(owned_.get()), factor_(factor), target_(target),
        index_(index) {}
  std::unique_ptr<Op> release() { return std::move(owned_); }

  std::string type() const override { return inner_->type(); }
  int arity() const override { return inner_->arity(); }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return inner_->output_shape(inputs);
  }
  std::vector<ParameterSpec> parameter_specs(const std::vector<Shape>& inputs) const override {
    return inner_->parameter_specs(inputs);
  }
  void forward(const OpArgs& args, Tensor& output) override { inner_->forward(args, output); }
  void backward(const OpArgs& args, const Tensor& output, const Tensor& grad_output,
                const std::vector<Tensor*>& grad_inputs) override {
    if (target_ == Target::Input) {
      inner_->backward(args, output, grad_output, grad_inputs);
      if (index_ < grad_inputs.size() && grad_inputs[index_] != nullptr)
        grad_inputs[index_]->flat() *= factor_;
      return;
    }
    // A parameter's gradient is added to what is there: scale only this call's share.
    Parameter& p = *args.params.at(index_);
    const Tensor before = p.grad;
    inner_->backward(args, output, grad_output, grad_inputs);
    if (before.shape() == p.grad.shape() && !args.overwrite_grads)
      p.grad.flat() = before.flat() + factor_ * (p.grad.flat() - before.flat());
    else
      p.grad.flat() *= factor_;
  }
  bool overwrites_grads() const override { return inner_->overwrites_grads(); }
  int64_t macs(const std::vector<Shape>& inputs) const override { return inner_->macs(inputs); }
  nlohmann::json attributes() const override { return inner_->attributes(); }

 private:
  std::unique_ptr<Op> owned_;
  Op* inner_;
  float factor_;
  Target target_;
  size_t index_;
};

}  // namespace shrink::testing
