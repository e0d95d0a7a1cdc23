#pragma once
// A oneDNN layer's primitives for the last few batch sizes it ran: a full batch, the last
// partial one, batch 1... Making a primitive costs far more than running it once, and a model
// sees few batch sizes, so a handful stay and the oldest goes first.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace shrink::kernels {

// Entry has an `int64_t batch`; it may be incomplete where the owner is declared.
template <class Entry>
class PrimitivesByBatch {
 public:
  Entry* find(int64_t batch) const {
    for (const auto& entry : entries_)
      if (entry->batch == batch) return entry.get();
    return nullptr;
  }

  Entry* add(std::unique_ptr<Entry> entry) {
    if (entries_.size() == kKept) entries_.erase(entries_.begin());
    entries_.push_back(std::move(entry));
    return entries_.back().get();
  }

  void clear() { entries_.clear(); }

 private:
  static constexpr size_t kKept = 4;
  std::vector<std::unique_ptr<Entry>> entries_;  // newest last
};

}  // namespace shrink::kernels
