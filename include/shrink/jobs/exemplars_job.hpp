#pragma once
// Compression-identified exemplars (Hooker et al., "What do compressed deep neural networks
// forget?", 2019): the test samples on which the modal prediction of several compressed models
// (a sweep's seeds, kept with "models_dir") differs from the modal prediction of the dense ones.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace shrink {

struct ExemplarsJob {
  std::vector<std::string> dense;       // one or more dense (reference) models
  std::vector<std::string> compressed;  // one or more compressed models (e.g. one per seed)
  std::string data = "fashion-mnist";
  std::string split = "test";
  int64_t batch_size = 256;
  std::string svg;  // a grid of the first 48 exemplars, drawn here (when the samples are images)
};

// Evaluates every model on the split (each with its own input normalization) and compares the
// modal predictions. Report: command, dense, compressed, data, split, samples, exemplars (how
// many), fraction, per_class (exemplars by true class), accuracy_dense and accuracy_compressed
// (of the modal predictions on the exemplars), indices (all, sorted), listed (the first 100:
// index, label, dense, compressed), svg. Throws a bad-input Error for an empty list or models
// whose outputs differ.
nlohmann::json run_exemplars_job(const ExemplarsJob& job);

}  // namespace shrink
