#include "app/data_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include "services/auth/hmac.h"

namespace herald::app {
namespace {

constexpr std::size_t kKeySize = 32;

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// The pid written in a lock file, for the message; empty when none can be read.
std::string pid_in(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return {};
  std::string text(buffer, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Reads the key file, or makes it (O_EXCL, 0600) when it does not exist.
std::optional<std::string> load_key(const std::filesystem::path& file, std::string& error) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    const std::string key = services::auth::random_bytes(kKeySize);
    const bool written = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
    const int write_error = errno;
    ::close(fd);
    if (!written) {
      std::filesystem::remove(file);
      error = "cannot write " + file.string() + ": " + errno_text(write_error);
      return std::nullopt;
    }
    return key;
  }
  if (errno != EEXIST) {
    error = "cannot create " + file.string() + ": " + errno_text(errno);
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    error = "cannot read " + file.string();
    return std::nullopt;
  }
  if (key.size() != kKeySize) {
    error = file.string() + " holds " + std::to_string(key.size()) + " bytes, not the " + std::to_string(kKeySize) +
            " of a server key: remove it to make a new one (dialogs set up before then break)";
    return std::nullopt;
  }
  return key;
}

}  // namespace

std::unique_ptr<DataDirectory> DataDirectory::open(const std::filesystem::path& path, std::string& error) {
  std::error_code fs_error;
  std::filesystem::create_directories(path, fs_error);
  if (fs_error) {
    error = "cannot create data directory " + path.string() + ": " + fs_error.message();
    return nullptr;
  }
  const std::filesystem::path lock_file = path / "herald.lock";
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + lock_file.string() + ": " + errno_text(errno);
    return nullptr;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_error = errno;
    const std::string pid = pid_in(fd);
    ::close(fd);
    error = lock_error == EWOULDBLOCK
                ? "data directory " + path.string() + " is used by another herald serve" +
                      (pid.empty() ? std::string() : " (pid " + pid + ")")
                : "cannot lock " + lock_file.string() + ": " + errno_text(lock_error);
    return nullptr;
  }
  // The pid is only for a second server's message: the lock holds without it.
  const std::string pid = std::to_string(::getpid()) + "\n";
  [[maybe_unused]] const bool pid_written =
      ::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size());
  auto key = load_key(path / "herald.key", error);
  if (!key) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<DataDirectory>(new DataDirectory(path, fd, std::move(*key)));
}

DataDirectory::~DataDirectory() { ::close(lock_fd_); }

}  // namespace herald::app
