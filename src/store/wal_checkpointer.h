#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite_handle.h"
#include "store/status.h"

namespace herald::store::sqlite {

// Checkpoints an SQLite database in WAL mode from a thread and a connection of its own, so
// that the writer's thread (a shard's event loop) seldom waits for a checkpoint's fsyncs:
// with synchronous=NORMAL a commit does not sync, but the automatic checkpoint that a commit
// runs every 1,000 WAL pages syncs the WAL and the database, which held the loop 10-20 ms
// each time.
//
// Every `interval` it runs a PASSIVE checkpoint: it copies what it can without waiting for
// readers or writers, who go on meanwhile. While the writer keeps adding frames it comes
// back after interval / 10, so that little is left uncopied. A writer that finds the WAL
// fully copied starts it again from the beginning; one that never pauses for the length of
// a checkpoint never finds it so, and the WAL would grow without end (measured: 147 MB in
// 10 s of 4,000 REGISTERs/s). The writer therefore keeps its own automatic checkpoint at a
// large size (SqliteStore's wal_limit_pages): reached, its commit copies the little that is
// left and syncs, and the next write starts the WAL again.
//
// Threading: start() and the destructor on the owner's thread; the work on the thread it
// starts. Errors of a checkpoint are logged and the next one is tried at the next interval.
class WalCheckpointer {
 public:
  WalCheckpointer() = default;
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;
  // Stops the thread (a checkpoint under way finishes first) and closes its connection.
  ~WalCheckpointer();

  // Opens `file` (which must exist, in WAL mode) and starts the thread. An error naming the
  // file when it cannot be opened or read; nothing is started then. Called at most once.
  Status start(const std::string& file, std::chrono::milliseconds interval);

 private:
  void run(std::chrono::milliseconds interval);

  std::string file_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  DbHandle db_;  // its own connection, used only by thread_ once started
};

}  // namespace herald::store::sqlite
