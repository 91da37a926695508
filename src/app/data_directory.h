#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace herald::app {

// The data directory of one `herald serve`, held for the life of the process:
//  - created if missing;
//  - locked (flock on `herald.lock`, which holds the server's pid): a second `herald serve` on
//    the same directory refuses to start instead of writing the same database;
//  - home of the server key (`herald.key`, 32 random bytes made at the first start, mode 0600):
//    the secret of the dialog tokens in Herald's Record-Route, which must survive restarts.
// The `herald user` and `herald presence` commands use the directory without the lock.
class DataDirectory {
 public:
  // On failure returns nullptr and sets `error` to one line naming the path and the cause
  // ("… is used by another herald serve (pid 1234)").
  static std::unique_ptr<DataDirectory> open(const std::filesystem::path& path, std::string& error);
  ~DataDirectory();
  DataDirectory(const DataDirectory&) = delete;
  DataDirectory& operator=(const DataDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::string& key() const { return key_; }

 private:
  DataDirectory(std::filesystem::path path, int lock_fd, std::string key)
      : path_(std::move(path)), lock_fd_(lock_fd), key_(std::move(key)) {}

  std::filesystem::path path_;
  int lock_fd_;  // open, and flock()ed, until destruction
  std::string key_;
};

}  // namespace herald::app
