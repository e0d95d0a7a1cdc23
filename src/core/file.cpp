#include "shrink/core/file.hpp"

#include "shrink/core/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

namespace shrink {
namespace {

std::string system_reason(int error_number) { return std::strerror(error_number); }

// Closes a descriptor when it goes out of scope unless released first.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error close() found (delayed write errors surface here).
  int close_checked() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string temporary_name(const std::string& path) {
  std::random_device device;
  const uint64_t random = (uint64_t{device()} << 32) ^ device();
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".tmp-%ld-%016llx", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(random));
  return path + suffix;
}

// The directory holding `path`, so the rename itself can be made durable.
std::string parent_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

std::string read_file(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path;
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error::bad_input("cannot open " + name + ": " + system_reason(errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0)
    throw Error::bad_input("cannot read " + name + ": " + system_reason(errno));
  if (S_ISDIR(info.st_mode))
    throw Error::bad_input("cannot read " + name + ": it is a directory, not a file");

  std::string bytes;
  if (S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error::bad_input("cannot read " + name + ": " + system_reason(errno));
    }
    if (got == 0) break;
    bytes.append(buffer, static_cast<size_t>(got));
  }
  return bytes;
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  require(!path.empty(), "cannot write a file with an empty path");
  const std::string temporary = temporary_name(path);
  // 0666 lets the umask decide, as for any file the user creates.
  FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  // The temporary file's name is ours, not the user's: the message names only `path`.
  if (fd.get() < 0) throw Error::bad_input("cannot write " + path + ": " + system_reason(errno));

  auto fail = [&](const std::string& step, int error_number) {
    ::unlink(temporary.c_str());
    return Error::bad_input("cannot write " + path + ": " + step + " failed: " +
                            system_reason(error_number));
  };

  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t put = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
    if (put < 0) {
      if (errno == EINTR) continue;
      throw fail("write", errno);
    }
    written += static_cast<size_t>(put);
  }
  if (::fsync(fd.get()) != 0) throw fail("fsync", errno);
  if (const int error_number = fd.close_checked(); error_number != 0)
    throw fail("close", error_number);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    if (error_number == EISDIR)
      throw Error::bad_input("cannot write " + path + ": it is a directory");
    throw Error::bad_input("cannot write " + path + ": rename failed: " +
                           system_reason(error_number));
  }
  // Makes the new directory entry durable; the file is complete either way, so a failure here
  // (some file systems refuse fsync on directories) is not worth failing the save for.
  const int directory = ::open(parent_directory(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory >= 0) {
    ::fsync(directory);
    ::close(directory);
  }
}

void check_writable(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path;
  require(!path.empty(), "cannot write " + std::string(what) + ": the path is empty");
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
    throw Error::bad_input("cannot write " + name + ": it is a directory");
  const std::string directory = parent_directory(path);
  if (::stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    throw Error::bad_input("cannot write " + name + ": directory " + directory +
                           " does not exist");
  if (::access(directory.c_str(), W_OK | X_OK) != 0)
    throw Error::bad_input("cannot write " + name + ": cannot create files in " + directory +
                           ": " + system_reason(errno));
}

}  // namespace shrink
