#pragma once
// The Pareto front of a set of (x, y) results: the points no other point beats on both axes,
// e.g. the models for which no other is both smaller and more accurate.
#include <cstddef>
#include <vector>

namespace shrink {

enum class Better { Lower, Higher };

// Indices of the non-dominated points, ordered by ascending x (then y). A point is dominated
// when another is at least as good on both axes and strictly better on one; equal points are
// all kept. Points with a non-finite coordinate are never on the front.
std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y,
                                 Better x_better, Better y_better);

}  // namespace shrink
