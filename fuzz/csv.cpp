// CSV datasets, with and without a header row (the first input byte chooses).
#include "fuzz_support.hpp"
#include "shrink/data/csv.hpp"

#include <sstream>

SHRINK_FUZZ_TARGET {
  if (input.empty()) return;
  shrink::CsvOptions options;
  options.header = input[0] & 1;
  if (options.header && input.size() > 1) options.label_column = "label";
  std::istringstream text(std::string(input.substr(1)));
  shrink::parse_csv(text, "fuzz input", options, "fuzz");
}
