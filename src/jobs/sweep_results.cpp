#include "shrink/jobs/sweep_results.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

namespace shrink {
namespace {

std::string system_error(const std::string& what, const std::string& path) {
  return "cannot " + what + " " + path + ": " + std::strerror(errno);
}

// What two runs of the same point must agree on: bit-identical for the same seed and threads.
nlohmann::json outcome(const nlohmann::json& line) {
  nlohmann::json o = {{"status", line.value("status", "")}};
  if (line.contains("report"))
    for (const char* field : {"accuracy_after", "file_bytes_after", "macs_after"})
      if (line["report"].contains(field)) o[field] = line["report"][field];
  return o;
}

bool succeeded(const nlohmann::json& line) { return line.value("status", "") == "ok"; }

}  // namespace

ResultsFile read_results(const std::string& path) {
  ResultsFile results;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return results;
  const std::string text = read_file(path, "results file");
  size_t from = 0;
  int64_t number = 0;
  while (from < text.size()) {
    const size_t end = text.find('\n', from);
    if (end == std::string::npos) {  // a partial last line: the write never completed
      results.torn_tail = true;
      break;
    }
    ++number;
    const std::string line = text.substr(from, end - from);
    from = end + 1;
    if (line.empty()) continue;
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
    }
    require(json.is_object() && json.contains("key") && json["key"].is_string(),
            "results file " + path + ", line " + std::to_string(number) +
                ": not a sweep result (a JSON object with \"key\"); is this the right file?");
    results.keys.insert(json["key"].get<std::string>());
    results.lines.push_back(std::move(json));
  }
  return results;
}

void append_result(const std::string& path, const nlohmann::json& line) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error::bad_input(system_error("open results file", path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // A partial last line (the machine went down mid-write) is cut off so the new line starts
  // on a line of its own.
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw Error::internal(system_error("stat", path));
  if (info.st_size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, info.st_size - 1) != 1) throw Error::internal(system_error("read", path));
    if (last != '\n') {
      off_t keep = info.st_size - 1;
      for (; keep > 0; --keep) {
        char c = 0;
        if (::pread(fd, &c, 1, keep - 1) != 1) throw Error::internal(system_error("read", path));
        if (c == '\n') break;
      }
      if (::ftruncate(fd, keep) != 0) throw Error::internal(system_error("truncate", path));
    }
  }
  // One write() of the whole line on an O_APPEND descriptor: a kill lands before or after it,
  // and concurrent writers never interleave inside a line.
  const std::string text = line.dump() + "\n";
  const ssize_t written = ::write(fd, text.data(), text.size());
  if (written != static_cast<ssize_t>(text.size()))
    throw Error::internal(system_error("append to", path));
  if (::fsync(fd) != 0) throw Error::internal(system_error("sync", path));
}

nlohmann::json MergeSummary::to_json() const {
  return {{"lines", lines}, {"points", points}, {"duplicates", duplicates}, {"conflicts", conflicts}};
}

MergeSummary merge_results(const std::vector<std::string>& inputs, const std::string& output) {
  require(!inputs.empty(), "nothing to merge: give the shards' results files");
  MergeSummary summary;
  std::map<std::string, nlohmann::json> kept;
  std::vector<std::string> order;
  for (const std::string& input : inputs) {
    require(std::filesystem::exists(input), "cannot merge " + input + ": no such file");
    require(std::filesystem::absolute(input) != std::filesystem::absolute(output),
            "--merge writes " + output + ", which is also an input; give another output file");
    for (nlohmann::json& line : read_results(input).lines) {
      ++summary.lines;
      const std::string key = line["key"].get<std::string>();
      auto found = kept.find(key);
      if (found == kept.end()) {
        order.push_back(key);
        kept.emplace(key, std::move(line));
      } else if (outcome(found->second) == outcome(line)) {
        ++summary.duplicates;
      } else if (!succeeded(found->second) && succeeded(line)) {
        found->second = std::move(line);  // a retry that worked
      } else if (succeeded(found->second) && !succeeded(line)) {
        ++summary.duplicates;
      } else if (std::find(summary.conflicts.begin(), summary.conflicts.end(), key) == summary.conflicts.end()) {
        summary.conflicts.push_back(key);
      }
    }
  }
  std::vector<const nlohmann::json*> lines;
  for (const std::string& key : order) lines.push_back(&kept.at(key));
  std::stable_sort(lines.begin(), lines.end(), [](const nlohmann::json* a, const nlohmann::json* b) {
    return a->value("index", int64_t{0}) < b->value("index", int64_t{0});
  });
  std::string text;
  for (const nlohmann::json* line : lines) text += line->dump() + "\n";
  write_file_atomic(output, text);
  summary.points = static_cast<int64_t>(lines.size());
  return summary;
}

}  // namespace shrink
