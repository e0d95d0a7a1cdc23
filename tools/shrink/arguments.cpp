#include "arguments.hpp"

#include <algorithm>
#include <cstdlib>

namespace shrink::cli {
namespace {

// Edits (insert, delete, substitute, swap two neighbours) that turn a into b: "trian" is one
// edit from "train".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

bool is_number(const std::string& text) {
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// "--threads=2" -> "--threads"; "-v" -> "-v"; anything that is not a flag -> "".
std::string flag_name(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-' || is_number(arg)) return "";
  return arg.substr(0, arg.find('='));
}

std::vector<std::string> flag_names(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const auto& name : option.get_snames()) names.push_back("-" + name);
  for (const auto& name : option.get_lnames()) names.push_back("--" + name);
  return names;
}

const CLI::Option* find_flag(const CLI::App& command, const std::string& name) {
  for (const CLI::Option* option : command.get_options()) {
    const auto names = flag_names(*option);
    if (std::find(names.begin(), names.end(), name) != names.end()) return option;
  }
  return nullptr;
}

std::vector<const CLI::App*> commands_of(const CLI::App& app) {
  std::vector<const CLI::App*> commands;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; }))
    commands.push_back(command);
  return commands;
}

// A flag of the commands' shared set (--threads, --seed, -v, -q, --report), or null. Any command
// that takes it will do: a command without it (sweep has no --threads) refuses it by name once
// the flag has moved after it.
const CLI::Option* common_flag(const CLI::App& app, const std::string& name) {
  if (name.empty()) return nullptr;
  for (const CLI::App* command : commands_of(app))
    if (const CLI::Option* flag = find_flag(*command, name)) return flag;
  return nullptr;
}

// How many arguments `arg`, a use of `flag`, takes up: "--threads 2" two, "--threads=2" and
// "-v" one.
size_t width(const CLI::Option& flag, const std::string& arg) {
  return flag.get_items_expected_min() > 0 && arg.find('=') == std::string::npos ? 2 : 1;
}

bool is_command(const CLI::App& app, const std::string& word) {
  for (const CLI::App* command : commands_of(app))
    if (command->get_name() == word) return true;
  return false;
}

std::string command_list(const CLI::App& app) {
  std::string names;
  for (const CLI::App* command : commands_of(app))
    names += (names.empty() ? "" : ", ") + command->get_name();
  return names;
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  const size_t allowed = std::clamp<size_t>(word.size() / 3, 1, 3);
  std::string best;
  size_t best_distance = allowed + 1;
  for (const auto& candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::vector<std::string> move_common_flags_after_command(const CLI::App& app,
                                                          std::vector<std::string> args) {
  std::vector<std::string> before;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const CLI::Option* flag = common_flag(app, flag_name(args[i]));
    if (flag == nullptr) break;
    before.push_back(args[i]);
    if (width(*flag, args[i]) == 2 && i + 1 < args.size()) before.push_back(args[++i]);
  }
  if (before.empty() || i == args.size() || !is_command(app, args[i])) return args;
  std::vector<std::string> moved{args[i]};
  moved.insert(moved.end(), before.begin(), before.end());
  moved.insert(moved.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  return moved;
}

std::string explain_unexpected_arguments(const CLI::App& app,
                                         const std::vector<std::string>& args) {
  const std::string help = "'shrink --help' lists the commands";
  // The first argument that is not one of the common flags (or their values) names the command.
  size_t position = 0;
  while (position < args.size()) {
    const CLI::Option* flag = common_flag(app, flag_name(args[position]));
    if (flag == nullptr) break;
    position += width(*flag, args[position]);
  }
  if (position >= args.size()) return "no command given; commands: " + command_list(app) + " (" + help + ")";
  const std::string& word = args[position];
  if (!is_command(app, word)) {
    std::vector<std::string> names;
    for (const CLI::App* command : commands_of(app)) names.push_back(command->get_name());
    const std::string guess = closest_match(word, names);
    const std::string kind = flag_name(word).empty() ? "command" : "flag";
    return "unknown " + kind + " '" + word + "'" +
           (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (commands: " +
           command_list(app) + "; " + help + ")";
  }

  const CLI::App& command = *app.get_subcommand(word);
  std::vector<std::string> known;
  for (const CLI::Option* option : command.get_options())
    for (const auto& name : flag_names(*option)) known.push_back(name);
  for (size_t i = position + 1; i < args.size(); ++i) {
    const std::string name = flag_name(args[i]);
    if (name.empty() || name == "--" || find_flag(command, name) != nullptr) continue;
    const std::string guess = closest_match(name, known);
    return "unknown flag " + name + " for 'shrink " + word + "'" +
           (guess.empty() ? "" : "; did you mean " + guess + "?") + " ('shrink " + word +
           " --help' lists its flags)";
  }
  return "";
}

}  // namespace shrink::cli
