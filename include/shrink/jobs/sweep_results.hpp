#pragma once
// The results file of a sweep: one JSON object a line, appended whole. A run that was killed
// loses at most its points in flight; a reader ignores a last line without its newline (only
// a crash of the machine mid-write leaves one) and the next append cuts it off.
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace shrink {

struct ResultsFile {
  std::vector<nlohmann::json> lines;
  std::set<std::string> keys;  // the points present
  bool torn_tail = false;      // the file ended in a partial line (ignored)
};
// Reads a results file; a missing file is empty. A complete line that is not a JSON object with
// a "key" is a bad-input Error naming the file and line number.
ResultsFile read_results(const std::string& path);

// Appends `line` (one JSON object, dumped compact) plus a newline in a single write to `path`
// opened for appending, then syncs it to disk; first cuts off a partial last line.
void append_result(const std::string& path, const nlohmann::json& line);

struct MergeSummary {
  int64_t lines = 0;                    // read from every input
  int64_t points = 0;                   // written
  int64_t duplicates = 0;               // the same point again with the same outcome
  std::vector<std::string> conflicts;   // keys whose lines disagree (the first line is kept)
  nlohmann::json to_json() const;
};
// Joins the results of several shards into `output` (written atomically), one line a point in
// the order of the sweep (by "index", then key). The same point in several inputs is a
// duplicate when its outcome agrees (status, and the accuracy, size and MACs after compressing),
// otherwise a conflict; both are counted and the first line is kept. A successful line beats a
// failed one of the same point without counting as a conflict.
MergeSummary merge_results(const std::vector<std::string>& inputs, const std::string& output);

}  // namespace shrink
