#include "shrink/jobs/sweep.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "shrink/core/threading.hpp"
#include "shrink/jobs/jobs.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace shrink {
namespace {

namespace fs = std::filesystem;

// Every placeholder name used in `value` ("${name}" anywhere inside a string).
void collect_placeholders(const nlohmann::json& value, std::set<std::string>& names) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    for (size_t at = text.find("${"); at != std::string::npos; at = text.find("${", at + 2)) {
      const size_t end = text.find('}', at);
      if (end == std::string::npos) break;
      names.insert(text.substr(at + 2, end - at - 2));
    }
  } else if (value.is_structured()) {
    for (const auto& item : value) collect_placeholders(item, names);
  }
}

nlohmann::json substitute(const nlohmann::json& value, const nlohmann::json& options) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    // A whole-string placeholder keeps the value's type: "${sparsity}" -> 0.9, not "0.9".
    if (text.size() > 3 && text.rfind("${", 0) == 0 && text.find('}') == text.size() - 1)
      return options.at(text.substr(2, text.size() - 3));
    std::string out;
    size_t from = 0;
    for (size_t at = text.find("${"); at != std::string::npos; at = text.find("${", from)) {
      const size_t end = text.find('}', at);
      if (end == std::string::npos) break;
      const nlohmann::json& v = options.at(text.substr(at + 2, end - at - 2));
      out += text.substr(from, at - from) + (v.is_string() ? v.get<std::string>() : v.dump());
      from = end + 1;
    }
    return out + text.substr(from);
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : value.items()) out[k] = substitute(v, options);
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(substitute(v, options));
    return out;
  }
  return value;
}

std::string resolve(const std::string& path, const std::string& sweep_path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(sweep_path).parent_path() / path).lexically_normal().string();
}

int environment_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  require(end && *end == '\0' && value >= 0 && value < (1 << 30),
          std::string(name) + "=" + text + " is not a task number");
  return static_cast<int>(value);
}

}  // namespace

Sweep parse_sweep(const nlohmann::json& json, const std::string& path) {
  const std::string where = "sweep " + path + ": ";
  require(json.is_object(), where + "expected a JSON object with \"model\", \"recipe\" and \"grid\"");
  static const std::set<std::string> kKnown = {"model",  "data",       "recipe",          "grid",
                                               "points", "threads",    "latency_batches", "models_dir",
                                               "name",   "description"};
  for (const auto& item : json.items())
    require(kKnown.count(item.key()) > 0, where + "unknown field \"" + item.key() +
                                     "\" (known: model, data, recipe, grid, points, threads, latency_batches, "
                                     "models_dir, name, description)");
  Sweep sweep;
  sweep.path = path;
  require(json.contains("model") && json["model"].is_string(), where + "\"model\" (the base model file) is missing");
  sweep.model = resolve(json["model"].get<std::string>(), path);
  if (json.contains("data")) {
    require(json["data"].is_string(), where + "\"data\" must be a dataset spec string");
    sweep.data = json["data"].get<std::string>();
  }
  require(json.contains("recipe") && json["recipe"].is_object(),
          where + "\"recipe\" (an object with \"passes\") is missing");
  sweep.recipe = json["recipe"];
  if (json.contains("threads")) {
    require(json["threads"].is_number_integer() && json["threads"].get<int>() >= 0,
            where + "\"threads\" must be a whole number >= 0 (0: every core)");
    sweep.threads = json["threads"].get<int>();
  }
  if (json.contains("latency_batches")) {
    const nlohmann::json& batches = json["latency_batches"];
    bool ok = batches.is_array();
    for (const auto& b : batches) ok = ok && b.is_number_integer() && b.get<int64_t>() >= 1;
    require(ok, where + "\"latency_batches\" must be a list of batch sizes >= 1 ([] for no timing), got " +
                    batches.dump());
    sweep.latency_batches = batches.get<std::vector<int64_t>>();
  }
  if (json.contains("models_dir")) {
    require(json["models_dir"].is_string(), where + "\"models_dir\" must be a directory path");
    sweep.models_dir = resolve(json["models_dir"].get<std::string>(), path);
  }

  std::vector<nlohmann::json> options;
  if (json.contains("grid")) {
    const nlohmann::json& grid = json["grid"];
    require(grid.is_object() && !grid.empty(), where + "\"grid\" must map option names to lists of values");
    options.push_back(nlohmann::json::object());
    // nlohmann::json keeps object keys sorted; the last key varies fastest.
    for (const auto& [name, values] : grid.items()) {
      require(values.is_array() && !values.empty(),
              where + "grid option \"" + name + "\" must be a non-empty list of values");
      std::vector<nlohmann::json> next;
      for (const nlohmann::json& partial : options)
        for (const nlohmann::json& value : values) {
          nlohmann::json o = partial;
          o[name] = value;
          next.push_back(std::move(o));
        }
      options = std::move(next);
    }
  }
  if (json.contains("points")) {
    require(json["points"].is_array(), where + "\"points\" must be a list of option objects");
    for (const nlohmann::json& point : json["points"]) {
      require(point.is_object(), where + "every entry of \"points\" must be an object of options");
      options.push_back(point);
    }
  }
  require(!options.empty(), where + "no points: give a \"grid\" of option values or a list of \"points\"");

  std::set<std::string> placeholders;
  collect_placeholders(sweep.recipe, placeholders);
  std::set<std::string> keys;
  for (size_t i = 0; i < options.size(); ++i) {
    SweepPoint point;
    point.index = static_cast<int64_t>(i);
    point.options = options[i];
    point.key = point.options.dump();
    for (const std::string& name : placeholders)
      require(point.options.contains(name), where + "the recipe uses ${" + name + "} but point " +
                                                point.key + " gives no value for it");
    for (const auto& [name, value] : point.options.items()) {
      require(name == "seed" || placeholders.count(name) > 0,
              where + "option \"" + name + "\" is used nowhere in the recipe (write \"${" + name +
                  "}\" where it belongs)");
      if (name == "seed")
        require(value.is_number_integer() && value.get<int64_t>() >= 0,
                where + "\"seed\" must be a whole number >= 0, got " + value.dump());
    }
    require(keys.insert(point.key).second, where + "point " + point.key + " appears twice");
    sweep.points.push_back(std::move(point));
  }
  // The recipe must be valid for every point before anything runs.
  for (const SweepPoint& point : sweep.points) {
    try {
      Recipe::from_json(point_recipe(sweep, point));
    } catch (Error& e) {
      throw e.add_context(where + "point " + point.key);
    }
  }
  return sweep;
}

Sweep read_sweep(const std::string& path) {
  const std::string text = read_file(path, "sweep file");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error::bad_input("sweep " + path + " is not valid JSON: " + e.what());
  }
  return parse_sweep(json, path);
}

nlohmann::json point_recipe(const Sweep& sweep, const SweepPoint& point) {
  return substitute(sweep.recipe, point.options);
}

Shard parse_shard(const std::string& text, const std::string& flag) {
  const size_t slash = text.find('/');
  Shard shard;
  bool ok = slash != std::string::npos;
  if (ok) {
    try {
      size_t used_index = 0, used_count = 0;
      shard.index = std::stoi(text.substr(0, slash), &used_index);
      shard.count = std::stoi(text.substr(slash + 1), &used_count);
      ok = used_index == slash && used_count == text.size() - slash - 1;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  require(ok && shard.count >= 1 && shard.index >= 0 && shard.index < shard.count,
          flag + " " + text + ": write it as INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4");
  return shard;
}

Shard shard_from_environment() {
  const int count = environment_int("SLURM_ARRAY_TASK_COUNT", 0);
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  if (count == 0 || !id || !*id) return {};
  const int task = environment_int("SLURM_ARRAY_TASK_ID", 0) - environment_int("SLURM_ARRAY_TASK_MIN", 0);
  require(task >= 0 && task < count,
          "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN = " + std::to_string(task) + " is not in [0, " +
              std::to_string(count) + "): use a contiguous array such as --array=0-" + std::to_string(count - 1));
  return {task, count};
}

std::vector<SweepPoint> shard_points(const std::vector<SweepPoint>& points, const Shard& shard) {
  std::vector<SweepPoint> mine;
  for (const SweepPoint& point : points)
    if (point.index % shard.count == shard.index) mine.push_back(point);
  return mine;
}

nlohmann::json run_sweep_point(const Sweep& sweep, const SweepPoint& point) {
  const auto start = std::chrono::steady_clock::now();
  nlohmann::json line = {{"key", point.key}, {"index", point.index}, {"point", point.options},
                         {"threads", sweep.threads}};
  // The model goes where the user keeps it, or to a temporary file removed afterwards.
  const bool keep = !sweep.models_dir.empty();
  const fs::path output = keep ? fs::path(sweep.models_dir) / ("point-" + std::to_string(point.index) + ".shrk")
                               : fs::temp_directory_path() / ("shrink-sweep-" + std::to_string(::getpid()) +
                                                              "-" + std::to_string(point.index) + ".shrk");
  try {
    set_num_threads(sweep.threads);
    if (keep) fs::create_directories(sweep.models_dir);
    CompressJob job;
    job.model = sweep.model;
    job.output = output.string();
    job.data = sweep.data;
    job.recipe = Recipe::from_json(point_recipe(sweep, point));
    job.latency_batches = sweep.latency_batches;
    job.finetune.lr = 0.001f;  // compress's defaults for fine-tuning passes
    job.finetune.momentum = 0.9f;
    job.finetune.seed = point.options.contains("seed") ? point.options["seed"].get<uint64_t>() : 0;
    nlohmann::json report = run_compress_job(job);
    if (!keep) report.erase("output");
    line["status"] = "ok";
    line["report"] = std::move(report);
  } catch (const Error& e) {
    line["status"] = "failed";
    line["error"] = e.what();
  } catch (const std::exception& e) {
    line["status"] = "failed";
    line["error"] = std::string("internal failure: ") + e.what();
  }
  std::error_code ignored;
  if (!keep) fs::remove(output, ignored);
  line["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return line;
}

}  // namespace shrink
