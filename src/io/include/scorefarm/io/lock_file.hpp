#pragma once
// The sidecar lock `<out>.lock`: one writer per output file.
//
// The lock file holds "host pid\n" of its holder, for humans and for the messages below. Ownership
// itself is an flock(LOCK_EX) held on the lock file for the whole run, so the kernel releases it
// when the holder dies, however it dies (kill -9 included). Taking the lock:
//   - the lock file is created if missing;
//   - flock(LOCK_EX|LOCK_NB) succeeds     -> ours. If the file already named a holder, that holder is
//                                            gone: a stale lock, taken over with a message;
//   - flock fails with EWOULDBLOCK        -> a live holder: LockHeld("... is being written by host H,
//                                            pid P ...").
//   - the file system has no flock (ENOLCK/ENOSYS/EOPNOTSUPP): fall back to the content. A holder on
//     this host is alive iff kill(pid, 0) finds its process; a holder on another host is presumed
//     alive while the lock file's modification time is younger than `stale_after_seconds` (the
//     holder touches it about once a second through refresh(), from the farm's heartbeat).
// Release unlinks the file before dropping the flock, so a waiting taker never keeps an unlinked
// inode (it re-checks that the path still names the inode it locked).
#include <stdexcept>
#include <string>

namespace scorefarm::io {

// The output is being written by someone else.
class LockHeld : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LockFile {
 public:
  static constexpr double stale_after_seconds = 600.0;

  LockFile() = default;
  // Takes the lock of `output` (the lock file is output + ".lock"). Throws LockHeld when a live holder
  // has it, std::runtime_error when the lock file cannot be created (e.g. read-only folder).
  // `message` receives a note when a stale lock was taken over ("" otherwise).
  static LockFile acquire(const std::string& output, std::string* message = nullptr);

  LockFile(LockFile&& other) noexcept;
  LockFile& operator=(LockFile&& other) noexcept;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile() { release(); }

  bool held() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  // Updates the lock file's modification time (proof of life for the no-flock fallback).
  void refresh();
  void release() noexcept;

 private:
  int fd_ = -1;
  std::string path_;
};

std::string lock_path(const std::string& output);  // output + ".lock"
std::string host_name();

}  // namespace scorefarm::io
