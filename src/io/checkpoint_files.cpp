#include "scorefarm/io/checkpoint_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "scorefarm/io/lock_file.hpp"

namespace scorefarm::io {
namespace {

constexpr char kMagic[8] = {'S', 'F', 'C', 'K', 'P', 'T', '0', '1'};
constexpr std::size_t kHashBytes = 16;
constexpr std::size_t kHeaderBytes = sizeof kMagic + kHashBytes + 4 * sizeof(std::uint64_t);

std::uint64_t fnv1a(const unsigned char* data, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

void put(std::vector<unsigned char>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

std::uint64_t get(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string errno_text(int e) { return std::strerror(e); }

// Writes all of `data` or throws.
void write_all(int fd, const unsigned char* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("writing checkpoint " + path + ": " + errno_text(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void sync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool is_checkpoint_name(const char* name) {
  const std::size_t n = std::strlen(name);
  return n > 5 && name[0] == 'c' && (std::strcmp(name + n - 5, ".ckpt") == 0 || std::strstr(name, ".ckpt.tmp."));
}

}  // namespace

std::string checkpoint_folder(const std::string& study_path) { return study_path + ".checkpoints"; }

CheckpointFiles::CheckpointFiles(const std::string& study_path, std::string config_hash)
    : folder_(checkpoint_folder(study_path)), hash_(std::move(config_hash)) {
  if (hash_.size() != kHashBytes)
    throw std::invalid_argument("checkpoint files: config hash must have 16 characters, got '" + hash_ + "'");
}

std::string CheckpointFiles::path(std::size_t cell, std::uint64_t trial) const {
  return folder_ + "/c" + std::to_string(cell) + "-t" + std::to_string(trial) + ".ckpt";
}

std::optional<std::vector<unsigned char>> CheckpointFiles::load(std::size_t cell, std::uint64_t trial,
                                                                std::string* note) const {
  const std::string file = path(cell, trial);
  auto unusable = [&](const std::string& why) -> std::optional<std::vector<unsigned char>> {
    if (note) *note = "checkpoint " + file + " " + why + "; the trial starts from the beginning";
    return std::nullopt;
  };
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return unusable("cannot be opened (" + errno_text(errno) + ")");
  }
  std::vector<unsigned char> bytes;
  unsigned char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return unusable("cannot be read (" + errno_text(e) + ")");
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(fd);
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return unusable("is not a scorefarm checkpoint");
  const unsigned char* p = bytes.data() + sizeof kMagic;
  if (std::memcmp(p, hash_.data(), kHashBytes) != 0)
    return unusable("belongs to another study (config " + std::string(reinterpret_cast<const char*>(p), kHashBytes) + ")");
  p += kHashBytes;
  if (get(p) != cell || get(p + 8) != trial) return unusable("names another trial");
  const std::uint64_t size = get(p + 16), sum = get(p + 24);
  if (size != bytes.size() - kHeaderBytes) return unusable("is truncated");
  if (fnv1a(bytes.data() + kHeaderBytes, size) != sum) return unusable("is damaged (checksum)");
  return std::vector<unsigned char>(bytes.begin() + kHeaderBytes, bytes.end());
}

void CheckpointFiles::save(std::size_t cell, std::uint64_t trial, const std::vector<unsigned char>& state) const {
  if (::mkdir(folder_.c_str(), 0777) != 0 && errno != EEXIST)
    throw std::runtime_error("creating checkpoint folder " + folder_ + ": " + errno_text(errno));
  std::vector<unsigned char> bytes(kMagic, kMagic + sizeof kMagic);
  bytes.insert(bytes.end(), hash_.begin(), hash_.end());
  put(bytes, cell);
  put(bytes, trial);
  put(bytes, state.size());
  put(bytes, fnv1a(state.data(), state.size()));
  bytes.insert(bytes.end(), state.begin(), state.end());

  const std::string file = path(cell, trial);
  // Unique per process, so that two processes never share a temporary file.
  const std::string temporary = file + ".tmp." + host_name() + "." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error("creating checkpoint " + temporary + ": " + errno_text(errno));
  try {
    write_all(fd, bytes.data(), bytes.size(), temporary);
    if (::fsync(fd) != 0) throw std::runtime_error("fsync checkpoint " + temporary + ": " + errno_text(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(temporary.c_str());
    throw std::runtime_error("closing checkpoint " + temporary + ": " + errno_text(e));
  }
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const int e = errno;
    ::unlink(temporary.c_str());
    throw std::runtime_error("renaming checkpoint " + temporary + ": " + errno_text(e));
  }
  sync_folder(folder_);
}

void CheckpointFiles::remove(std::size_t cell, std::uint64_t trial) const noexcept {
  ::unlink(path(cell, trial).c_str());
}

bool CheckpointFiles::remove_all() const noexcept {
  DIR* dir = ::opendir(folder_.c_str());
  if (!dir) return errno == ENOENT;
  bool ok = true;
  while (const dirent* entry = ::readdir(dir)) {
    if (!is_checkpoint_name(entry->d_name)) continue;
    if (::unlink((folder_ + "/" + entry->d_name).c_str()) != 0) ok = false;
  }
  ::closedir(dir);
  // Left in place when it holds anything that is not ours.
  if (::rmdir(folder_.c_str()) != 0) ok = false;
  return ok;
}

std::size_t CheckpointFiles::count() const {
  DIR* dir = ::opendir(folder_.c_str());
  if (!dir) return 0;
  std::size_t n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::size_t len = std::strlen(entry->d_name);
    if (entry->d_name[0] == 'c' && len > 5 && std::strcmp(entry->d_name + len - 5, ".ckpt") == 0) ++n;
  }
  ::closedir(dir);
  return n;
}

}  // namespace scorefarm::io
