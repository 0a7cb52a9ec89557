// The sidecar lock file (see lock_file.hpp for the protocol).
#include "scorefarm/io/lock_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>

namespace scorefarm::io {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::string read_all(int fd) {
  std::string text;
  char block[256];
  off_t at = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, block, sizeof block, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(block, static_cast<std::size_t>(n));
    at += n;
    if (text.size() > 4096) break;
  }
  return text;
}

struct Holder {
  std::string host;
  long pid = 0;
  bool known = false;
  std::string describe() const {
    if (!known) return "an unknown process";
    return "host " + host + ", pid " + std::to_string(pid);
  }
};

Holder parse_holder(const std::string& text) {
  Holder holder;
  std::istringstream in(text);
  if (in >> holder.host >> holder.pid && holder.pid > 0) holder.known = true;
  return holder;
}

bool process_alive(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) == 0) return true;
  return errno == EPERM;  // exists, owned by someone else
}

bool flock_unsupported(int error) {
  return error == ENOLCK || error == ENOSYS || error == EOPNOTSUPP || error == EINVAL;
}

}  // namespace

std::string lock_path(const std::string& output) { return output + ".lock"; }

std::string host_name() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

LockFile LockFile::acquire(const std::string& output, std::string* message) {
  const std::string path = lock_path(output);
  if (message) message->clear();
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int error = errno;
      throw std::runtime_error("cannot create the lock file " + path + " (" + errno_text(error) +
                               "): is the output folder writable?");
    }
    const Holder previous = parse_holder(read_all(fd));
    bool ours = false;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      ours = true;
    } else if (errno == EWOULDBLOCK) {
      ::close(fd);
      throw LockHeld(output + " is being written by " + previous.describe() + " (lock file " + path +
                     "); wait for that run to end, or stop it, before running again");
    } else if (flock_unsupported(errno)) {
      // No flock on this file system: judge the holder from the content and the file's age.
      struct stat st {};
      ::fstat(fd, &st);
      const double age = std::difftime(std::time(nullptr), st.st_mtime);
      bool alive = false;
      if (previous.known) {
        alive = previous.host == host_name() ? process_alive(previous.pid) : age < stale_after_seconds;
      }
      if (alive) {
        ::close(fd);
        throw LockHeld(output + " is being written by " + previous.describe() + " (lock file " + path +
                       "); wait for that run to end, or stop it, before running again");
      }
      ours = true;
    } else {
      const int error = errno;
      ::close(fd);
      throw std::runtime_error("cannot lock " + path + ": " + errno_text(error));
    }
    // The path must still name the inode we locked (a releasing holder unlinks it first).
    struct stat by_fd {}, by_path {};
    if (ours && ::fstat(fd, &by_fd) == 0 && ::stat(path.c_str(), &by_path) == 0 &&
        by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino) {
      if (previous.known && message) {
        *message = "took over the stale lock " + path + " left by " + previous.describe() +
                   " (that process no longer holds it: it was killed or its node was lost)";
      }
      const std::string content = host_name() + " " + std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 ||
          ::pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size()) ||
          ::fsync(fd) != 0) {
        const int error = errno;
        ::unlink(path.c_str());
        ::close(fd);
        throw std::runtime_error("cannot write the lock file " + path + ": " + errno_text(error));
      }
      LockFile lock;
      lock.fd_ = fd;
      lock.path_ = path;
      return lock;
    }
    ::close(fd);  // lost a race with a release or another taker: try again
  }
  throw std::runtime_error("cannot take the lock " + path + ": it keeps changing under us");
}

LockFile::LockFile(LockFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

LockFile& LockFile::operator=(LockFile&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

void LockFile::refresh() {
  if (fd_ >= 0) ::futimens(fd_, nullptr);
}

void LockFile::release() noexcept {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // before unlocking: see lock_file.hpp
  ::close(fd_);             // drops the flock
  fd_ = -1;
}

}  // namespace scorefarm::io
