#include "store/wal_checkpointer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace herald::store::sqlite {

WalCheckpointer::~WalCheckpointer() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Status WalCheckpointer::start(const std::string& file, std::chrono::milliseconds interval) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return error_status(db.get(), rc, file, "open for checkpoints");
  // Its own automatic checkpoints off too: it checkpoints on its schedule only.
  if (Status s = exec(db.get(), file, "PRAGMA wal_autocheckpoint = 0"); !s.ok()) return s;
  // A checkpoint on a connection that has not read the database yet does nothing: it does
  // not know the file is in WAL mode until its first read.
  if (Status s = exec(db.get(), file, "SELECT count(*) FROM sqlite_schema"); !s.ok()) return s;
  file_ = file;
  db_ = std::move(db);
  thread_ = std::thread([this, interval] { run(interval); });
  return {};
}

void WalCheckpointer::run(std::chrono::milliseconds interval) {
  pthread_setname_np(pthread_self(), "herald-wal");  // seen in top -H, perf, /proc
  std::unique_lock<std::mutex> lock(mutex_);
  std::chrono::milliseconds wait = interval;
  int last_frames = 0;
  while (!wake_.wait_for(lock, wait, [this] { return stopping_; })) {
    lock.unlock();
    int wal_frames = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &wal_frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("store: checkpoint of {} failed: {}", file_, sqlite3_errmsg(db_.get()));
    }
    // Frames added since the last run: the writer is busy, so come back sooner.
    wait = wal_frames != last_frames ? interval / 10 : interval;
    last_frames = wal_frames;
    lock.lock();
  }
}

}  // namespace herald::store::sqlite
