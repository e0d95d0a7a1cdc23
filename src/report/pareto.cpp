#include "shrink/report/pareto.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace shrink {

std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y,
                                 Better x_better, Better y_better) {
  if (x.size() != y.size()) throw Error::internal("pareto_front: x and y differ in length");
  // Scores where larger is better on both axes, so one sweep serves every direction.
  auto sx = [&](size_t i) { return x_better == Better::Higher ? x[i] : -x[i]; };
  auto sy = [&](size_t i) { return y_better == Better::Higher ? y[i] : -y[i]; };
  std::vector<size_t> order;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) order.push_back(i);
  // Best x first; among equal x, best y first. A point is on the front when its y beats every
  // point before it, or equals the last front point exactly.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return sx(a) != sx(b) ? sx(a) > sx(b) : sy(a) > sy(b);
  });
  std::vector<size_t> front;
  for (size_t i : order) {
    if (front.empty() || sy(i) > sy(front.back()) ||
        (sx(i) == sx(front.back()) && sy(i) == sy(front.back())))
      front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(),
                   [&](size_t a, size_t b) { return x[a] != x[b] ? x[a] < x[b] : y[a] < y[b]; });
  return front;
}

}  // namespace shrink
