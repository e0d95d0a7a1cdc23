#pragma once
// Floats in JSON as people wrote them. nlohmann::json stores every number as a double and
// prints the shortest decimal that reads back as that double, so the float 0.01f comes out as
// 0.009999999776482582. Reports and metadata show what a user typed instead.
#include <nlohmann/json.hpp>

namespace shrink {

// Every number in `json` (at any depth) that is exactly a float becomes the shortest decimal
// that reads back as that float: 0.009999999776482582 -> 0.01. A double that no float equals
// keeps all its digits, so no measurement loses precision; integers are untouched.
nlohmann::json with_short_floats(nlohmann::json json);

}  // namespace shrink
