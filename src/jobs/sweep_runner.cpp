// Running a sweep's pending points, several at once, each result appended as it arrives; and
// the runner that gives each point its own child process, so a crash or a kill costs only the
// points in flight.
#include "shrink/jobs/sweep.hpp"
#include "shrink/jobs/sweep_results.hpp"

#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

namespace shrink {
namespace {

nlohmann::json failed_line(const SweepPoint& point, const std::string& error) {
  return {{"key", point.key}, {"index", point.index}, {"point", point.options},
          {"status", "failed"}, {"error", error}};
}

// How a child ended, for a failed line.
std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return "the point's process was killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "the point's process exited with code " + std::to_string(WEXITSTATUS(status)) + " without a result";
}

std::string crc32_hex(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes at most 4 GiB a call.
  for (size_t at = 0; at < bytes.size(); at += 1u << 30) {
    const size_t n = std::min<size_t>(bytes.size() - at, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
  }
  char text[9];
  std::snprintf(text, sizeof text, "%08lx", static_cast<unsigned long>(crc));
  return text;
}

bool same_base(const nlohmann::json& a, const nlohmann::json& b) {
  for (const char* field : {"model_bytes", "model_crc32", "recipe_crc32"})
    if (a.value(field, nlohmann::json()) != b.value(field, nlohmann::json())) return false;
  return true;
}

}  // namespace

nlohmann::json sweep_base(const Sweep& sweep) {
  const std::string model = read_file(sweep.model, "base model");
  return {{"model", sweep.model},
          {"model_bytes", static_cast<int64_t>(model.size())},
          {"model_crc32", crc32_hex(model)},
          {"recipe_crc32", crc32_hex(sweep.recipe.dump())}};
}

SweepSummary run_sweep(const Sweep& sweep, const SweepRun& run) {
  require(!run.out.empty(), "a sweep needs a results file (--out FILE.jsonl)");
  require(run.jobs >= 1, "--jobs must be at least 1");
  const std::vector<SweepPoint> mine = shard_points(sweep.points, run.shard);
  const ResultsFile done = read_results(run.out);
  const nlohmann::json base = sweep_base(sweep);
  for (const nlohmann::json& line : done.lines)
    require(!line.contains("base") || same_base(line["base"], base),
            "results file " + run.out + " holds results of another base model or recipe (" +
                line["base"].value("model", std::string("?")) + ") than this sweep's (" + sweep.model +
                "): give each model or recipe its own --out file");
  std::vector<SweepPoint> pending;
  for (const SweepPoint& point : mine)
    if (!done.keys.count(point.key)) pending.push_back(point);

  SweepSummary summary;
  summary.points = static_cast<int64_t>(mine.size());
  summary.skipped = summary.points - static_cast<int64_t>(pending.size());
  std::atomic<size_t> next{0};
  std::mutex append;
  std::exception_ptr failure;  // an error writing the results stops the sweep
  auto worker = [&] {
    for (size_t i = next++; i < pending.size(); i = next++) {
      nlohmann::json line = run.runner(pending[i]);
      line["base"] = base;
      const std::lock_guard<std::mutex> lock(append);
      if (failure) return;
      try {
        append_result(run.out, line);
      } catch (...) {
        failure = std::current_exception();
        next = pending.size();
        return;
      }
      ++summary.ran;
      summary.failed += line.value("status", "") != "ok";
      if (run.on_result) run.on_result(line, summary.skipped + summary.ran, summary.points);
    }
  };
  const int workers = static_cast<int>(std::min<size_t>(static_cast<size_t>(run.jobs), pending.size()));
  if (workers <= 1) {
    worker();
  } else {
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
    for (std::thread& t : threads) t.join();
  }
  if (failure) std::rethrow_exception(failure);
  return summary;
}

std::function<nlohmann::json(const SweepPoint&)> child_process_runner(std::vector<std::string> command) {
  return [command = std::move(command)](const SweepPoint& point) -> nlohmann::json {
    std::vector<std::string> args = command;
    args.push_back("--point");
    args.push_back(std::to_string(point.index));
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
      throw Error::internal(std::string("cannot create a pipe: ") + std::strerror(errno));
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) {
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      throw Error::internal(std::string("cannot start a process: ") + std::strerror(errno));
    }
    if (child == 0) {
      // Only async-signal-safe calls between fork and exec. The child dies with this thread,
      // so killing the sweep never leaves points running.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    std::string out;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
      if (n > 0) {
        out.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    ::close(pipe_fds[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    // The child prints its result line last.
    const size_t end = out.find_last_not_of('\n');
    const size_t begin = end == std::string::npos ? std::string::npos : out.rfind('\n', end);
    if (end != std::string::npos) {
      const std::string last = out.substr(begin == std::string::npos ? 0 : begin + 1,
                                          end - (begin == std::string::npos ? 0 : begin + 1) + 1);
      try {
        nlohmann::json line = nlohmann::json::parse(last);
        if (line.is_object() && line.value("key", "") == point.key) return line;
      } catch (const nlohmann::json::exception&) {
      }
    }
    return failed_line(point, describe_exit(status));
  };
}

}  // namespace shrink
