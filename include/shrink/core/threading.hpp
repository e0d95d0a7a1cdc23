#pragma once
// One knob for parallelism: OpenMP runs the kernels; Eigen runs single-threaded inside them.

namespace shrink {

// Sets the number of worker threads (n <= 0 means every core).
void set_num_threads(int n);
int num_threads();

}  // namespace shrink
