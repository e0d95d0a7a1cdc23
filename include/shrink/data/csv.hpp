#pragma once
// CSV reader for tabular classification data: numeric feature columns plus one integer label.
#include "shrink/data/dataset.hpp"

#include <istream>
#include <string>

namespace shrink {

struct CsvOptions {
  // 0-based column index ("-1" = last), or a header name when `header` is set.
  std::string label_column = "-1";
  bool header = false;  // the first non-empty line names the columns
};

// Parses CSV text: comma separated, surrounding blanks and a trailing '\r' ignored, empty lines
// skipped. Every row needs the same number of columns, every feature cell a finite number, every
// label a non-negative integer; num_classes = max label + 1. Errors name `source`, line and column.
Dataset parse_csv(std::istream& in, const std::string& source, const CsvOptions& options,
                  std::string name);
// Reads and parses the file at `path` (errors name the path).
Dataset read_csv(const std::string& path, const CsvOptions& options, std::string name = "");

}  // namespace shrink
