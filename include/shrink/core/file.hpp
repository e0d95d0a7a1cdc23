#pragma once
// Whole-file reads and crash-safe writes. Every error is a bad-input Error naming the path, so a
// caller can pass it straight up to the user.
#include <string>
#include <string_view>

namespace shrink {

// Reads the whole file. `what` names the file in messages ("model file" gives
// "cannot open model file x.shrk: No such file or directory").
std::string read_file(const std::string& path, std::string_view what = "file");

// Writes `bytes` to "<path>.tmp-<pid>-<random>" in the same directory, flushes it to disk and
// renames it over `path`, so readers see either the old file or the complete new one, never a
// half-written file. The temporary file is removed when anything fails.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Throws a bad-input Error unless write_file_atomic(path) could succeed now: the directory
// exists and this process may create files in it, and `path` is not a directory. Commands call
// it before long work, so a typo in an output path does not cost a training run. `what` names
// the file in the message ("cannot write report r.json: ...").
void check_writable(const std::string& path, std::string_view what = "file");

}  // namespace shrink
