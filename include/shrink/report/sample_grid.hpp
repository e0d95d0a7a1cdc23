#pragma once
// A grid of test images with their labels, as self-contained SVG (images embedded as PNG):
// the samples whose prediction a compression changed, each with its true class and both
// models' predictions.
#include "shrink/data/dataset.hpp"
#include "shrink/report/class_impact.hpp"

#include <string>
#include <vector>

namespace shrink {

// Whether the dataset's samples are images the grid can draw: [1, H, W] or [3, H, W].
bool samples_are_images(const Dataset& data);

// SVG of the first `max_samples` of `samples` (in their order), `columns` to a row: each image
// with "#index true CLASS", "<before_name>: CLASS" and "<after_name>: CLASS" (green when right,
// red when wrong). Throws a bad-input Error when the samples are not images.
std::string changed_samples_svg(const Dataset& data, const std::vector<ChangedSample>& samples,
                                size_t max_samples, const std::string& before_name,
                                const std::string& after_name, int columns = 8);

}  // namespace shrink
