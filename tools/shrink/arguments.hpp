#pragma once
// What main() does to the arguments around CLI11: the flags every subcommand takes may come
// before the subcommand's name, and a mistyped flag or command gets a "did you mean".
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace shrink::cli {

// Moves the flags every subcommand of `app` takes (-v, --threads 2, --report r.json ...) from
// before the subcommand's name to just after it: "shrink -v eval m.shrk" means
// "shrink eval -v m.shrk". `args` excludes the program name; other arguments keep their order.
std::vector<std::string> move_common_flags_after_command(const CLI::App& app,
                                                          std::vector<std::string> args);

// The message for arguments CLI11 could not place: an unknown flag names the subcommand and
// the closest known flag, an unknown command the closest command, and no command at all points
// to --help. Empty when `args` show none of these (CLI11's own message is then the best).
std::string explain_unexpected_arguments(const CLI::App& app, const std::vector<std::string>& args);

// The candidate a typo most likely meant: the closest by edit distance, if it is within a
// third of the word's length (at least 1, at most 3 edits); "" otherwise.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace shrink::cli
