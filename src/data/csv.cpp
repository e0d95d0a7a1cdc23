#include "shrink/data/csv.hpp"

#include "shrink/core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>

namespace shrink {
namespace {

constexpr int64_t kMaxClasses = 1'000'000;

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

// Column names are 1-based in messages, as editors and spreadsheets count them.
std::string where(const std::string& source, int64_t line, size_t column) {
  return source + ":" + std::to_string(line) + ", column " + std::to_string(column + 1);
}

int64_t resolve_label_column(const CsvOptions& options, const std::vector<std::string_view>& header,
                             size_t columns, const std::string& source) {
  const std::string& spec = options.label_column;
  int64_t index = 0;
  const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), index);
  if (ec == std::errc() && end == spec.data() + spec.size()) {
    const int64_t resolved = index < 0 ? index + static_cast<int64_t>(columns) : index;
    if (resolved < 0 || resolved >= static_cast<int64_t>(columns))
      throw Error::bad_input("CSV " + source + ": label column " + spec + " is out of range for " +
                             std::to_string(columns) + " columns (give 0.." +
                             std::to_string(columns - 1) + " or a negative index from the end)");
    return resolved;
  }
  if (!options.header)
    throw Error::bad_input("CSV " + source + ": label column '" + spec +
                           "' is not an integer index; column names need the header option");
  const auto it = std::find(header.begin(), header.end(), std::string_view(spec));
  if (it == header.end()) {
    std::string names;
    for (auto h : header) names += (names.empty() ? "" : ", ") + std::string(h);
    throw Error::bad_input("CSV " + source + ": no column named '" + spec + "' in the header (" +
                           names + ")");
  }
  return it - header.begin();
}

}  // namespace

Dataset parse_csv(std::istream& in, const std::string& source, const CsvOptions& options,
                  std::string name) {
  std::vector<std::string_view> header_cells;
  std::string header_line;
  size_t columns = 0;
  int64_t label_column = -1;
  std::vector<float> features;
  std::vector<int32_t> labels;

  std::string line;
  int64_t line_number = 0;
  bool header_pending = options.header;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    if (header_pending) {
      header_line = line;
      header_cells = split_cells(header_line);
      columns = header_cells.size();
      header_pending = false;
      continue;
    }
    const auto cells = split_cells(line);
    if (columns == 0) columns = cells.size();
    if (label_column < 0) {
      if (columns < 2)
        throw Error::bad_input("CSV " + source + ":" + std::to_string(line_number) +
                               ": needs at least two columns (features and a label), found " +
                               std::to_string(columns));
      label_column = resolve_label_column(options, header_cells, columns, source);
    }
    if (cells.size() != columns)
      throw Error::bad_input("CSV " + source + ":" + std::to_string(line_number) + ": has " +
                             std::to_string(cells.size()) + " columns, expected " +
                             std::to_string(columns));
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string_view cell = cells[c];
      const char* first = cell.data();
      const char* last = cell.data() + cell.size();
      if (static_cast<int64_t>(c) == label_column) {
        int64_t value = 0;
        const auto [end, ec] = std::from_chars(first, last, value);
        if (cell.empty() || ec != std::errc() || end != last || value < 0)
          throw Error::bad_input("CSV " + where(source, line_number, c) + ": label '" +
                                 std::string(cell) +
                                 "' is not a non-negative integer class index");
        // Labels are class indices, so a huge one is a wrong label column, not a real class.
        if (value >= kMaxClasses)
          throw Error::bad_input("CSV " + where(source, line_number, c) + ": label " +
                                 std::string(cell) + " is too large (at most " +
                                 std::to_string(kMaxClasses) + " classes); is the label column "
                                 "right?");
        labels.push_back(static_cast<int32_t>(value));
      } else {
        // from_chars rejects a leading '+', which hand-written files use.
        if (first != last && *first == '+') ++first;
        float value = 0.0f;
        const auto [end, ec] = std::from_chars(first, last, value);
        if (cell.empty() || ec != std::errc() || end != last)
          throw Error::bad_input("CSV " + where(source, line_number, c) + ": '" +
                                 std::string(cell) + "' is not a number");
        if (!std::isfinite(value))
          throw Error::bad_input("CSV " + where(source, line_number, c) + ": '" +
                                 std::string(cell) + "' is not a finite number");
        features.push_back(value);
      }
    }
  }
  if (in.bad()) throw Error::bad_input("CSV " + source + ": read error");
  if (labels.empty())
    throw Error::bad_input("CSV " + source + " holds no data rows");

  const int num_classes = *std::max_element(labels.begin(), labels.end()) + 1;
  const int64_t feature_count = static_cast<int64_t>(columns) - 1;
  return Dataset::from_floats(std::move(name), {feature_count}, std::move(features),
                              std::move(labels), num_classes);
}

Dataset read_csv(const std::string& path, const CsvOptions& options, std::string name) {
  std::ifstream in(path);
  if (!in)
    throw Error::bad_input("cannot open CSV file " + path +
                           "; check the path in csv:FILE (relative paths start at the current "
                           "directory)");
  return parse_csv(in, path, options, name.empty() ? path : std::move(name));
}

}  // namespace shrink
