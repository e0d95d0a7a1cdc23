#include "shrink/core/error.hpp"
#include "shrink/core/file.hpp"
#include "support/errors.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>

namespace shrink {
namespace {

namespace fs = std::filesystem;

using testing::bad_input_message;

std::vector<std::string> entries(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(File, WriteThenReadGivesTheSameBytes) {
  testing::TempDir dir;
  std::string bytes = "binary\0data\xff\x01 with a NUL";
  bytes += std::string(200000, 'x');  // more than one read buffer
  write_file_atomic(dir.file("a.bin"), bytes);
  EXPECT_EQ(read_file(dir.file("a.bin")), bytes);
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"a.bin"});
}

TEST(File, EmptyFileRoundTrips) {
  testing::TempDir dir;
  write_file_atomic(dir.file("empty"), "");
  EXPECT_EQ(read_file(dir.file("empty")), "");
}

TEST(File, OverwriteReplacesTheOldContentsAndLeavesNoTemporary) {
  testing::TempDir dir;
  write_file_atomic(dir.file("a.txt"), "a much longer first version");
  write_file_atomic(dir.file("a.txt"), "short");
  EXPECT_EQ(read_file(dir.file("a.txt")), "short");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"a.txt"});
}

TEST(File, MissingFileNamesThePathAndTheReason) {
  testing::TempDir dir;
  const std::string path = dir.file("nope.shrk");
  EXPECT_EQ(bad_input_message([&] { read_file(path, "model file"); }),
            "cannot open model file " + path + ": No such file or directory");
  EXPECT_EQ(bad_input_message([&] { read_file(path); }),
            "cannot open file " + path + ": No such file or directory");
}

TEST(File, ReadingADirectoryIsBadInput) {
  testing::TempDir dir;
  EXPECT_EQ(bad_input_message([&] { read_file(dir.path().string(), "model file"); }),
            "cannot read model file " + dir.path().string() + ": it is a directory, not a file");
}

TEST(File, WriteIntoAMissingDirectoryFailsNamingThePath) {
  testing::TempDir dir;
  const std::string path = dir.file("missing/out.shrk");
  const std::string message = bad_input_message([&] { write_file_atomic(path, "x"); });
  EXPECT_NE(message.find("cannot write " + path), std::string::npos) << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  EXPECT_EQ(message.find(".tmp-"), std::string::npos) << "the temporary name leaks: " << message;
  EXPECT_TRUE(entries(dir.path()).empty());
}

TEST(File, WriteOverADirectoryFailsAndRemovesTheTemporary) {
  testing::TempDir dir;
  const std::string path = dir.file("taken");
  fs::create_directory(path);
  const std::string message = bad_input_message([&] { write_file_atomic(path, "x"); });
  EXPECT_EQ(message, "cannot write " + path + ": it is a directory");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"taken"});
  EXPECT_TRUE(fs::is_directory(path));
}

TEST(File, AFailedWriteKeepsTheOldFile) {
  testing::TempDir dir;
  const std::string path = dir.file("keep.txt");
  write_file_atomic(path, "old");
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  // Root ignores directory permissions; only check the failure where it can happen.
  bool failed = false;
  try {
    write_file_atomic(path, "new");
  } catch (const Error& e) {
    failed = true;
    EXPECT_NE(std::string(e.what()).find("cannot write " + path), std::string::npos) << e.what();
  }
  fs::permissions(dir.path(), fs::perms::owner_all);
  EXPECT_EQ(read_file(path), failed ? "old" : "new");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"keep.txt"});
}

TEST(File, CheckWritableAcceptsWhatWriteWouldAccept) {
  testing::TempDir dir;
  check_writable(dir.file("new.json"), "report");
  write_file_atomic(dir.file("old.json"), "x");
  check_writable(dir.file("old.json"), "report");
  EXPECT_TRUE(entries(dir.path()) == std::vector<std::string>{"old.json"});  // no probe left
}

TEST(File, CheckWritableNamesTheFileAndWhy) {
  testing::TempDir dir;
  const std::string missing = dir.file("no/such/r.json");
  EXPECT_EQ(bad_input_message([&] { check_writable(missing, "report"); }),
            "cannot write report " + missing + ": directory " + dir.file("no/such") +
                " does not exist");
  EXPECT_EQ(bad_input_message([&] { check_writable(dir.path().string(), "report"); }),
            "cannot write report " + dir.path().string() + ": it is a directory");
  EXPECT_EQ(bad_input_message([&] { check_writable("", "report"); }),
            "cannot write report: the path is empty");
  // A read-only file system refuses even root.
  if (fs::is_directory("/proc/self"))
    EXPECT_NE(bad_input_message([&] { check_writable("/proc/self/r.json", "report"); })
                  .find("cannot create files in /proc/self"),
              std::string::npos);
}

}  // namespace
}  // namespace shrink
