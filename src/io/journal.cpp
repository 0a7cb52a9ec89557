// The "scorefarm_journal" HDF5 virtual file driver and the redo journal it commits through.
// See journal.hpp for the protocol and why it makes /runs updates survive kill -9 at any instant.
#include "scorefarm/io/journal.hpp"
#include "scorefarm/io/fault.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <H5FDpublic.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace scorefarm::io {

namespace {

constexpr char journal_magic[8] = {'S', 'F', 'J', 'O', 'U', 'R', 'N', '1'};
constexpr char journal_end[8] = {'S', 'F', 'J', 'E', 'N', 'D', '0', '1'};

std::string errno_text(int error) { return std::strerror(error); }

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes a rename/unlink/create in the folder of `path` durable.
void sync_directory(const std::string& path) {
  const int fd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::uint64_t fnv1a64(const unsigned char* data, std::size_t size, std::uint64_t hash) {
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 1099511628211ull;
  }
  return hash;
}
constexpr std::uint64_t fnv_offset = 14695981039346656037ull;

void put_u64(std::vector<unsigned char>& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(value >> (8 * i)));
}
std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

void write_all(int fd, const unsigned char* data, std::size_t size, off_t offset, const std::string& what) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(what + ": " + errno_text(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
}

// ---- the journal file ----

struct Journal {
  std::uint64_t final_size = 0;
  std::map<std::uint64_t, std::vector<unsigned char>> writes;  // address -> bytes, disjoint
};

std::vector<unsigned char> encode(const Journal& journal) {
  std::vector<unsigned char> out(journal_magic, journal_magic + 8);
  put_u64(out, journal.final_size);
  put_u64(out, journal.writes.size());
  for (const auto& [address, bytes] : journal.writes) {
    put_u64(out, address);
    put_u64(out, bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  put_u64(out, fnv1a64(out.data(), out.size(), fnv_offset));
  out.insert(out.end(), journal_end, journal_end + 8);
  return out;
}

// Parses a journal; false when it is incomplete or damaged (a commit killed while writing it).
bool decode(const std::vector<unsigned char>& in, Journal& journal) {
  if (in.size() < 8 + 16 + 16 || std::memcmp(in.data(), journal_magic, 8) != 0) return false;
  if (std::memcmp(in.data() + in.size() - 8, journal_end, 8) != 0) return false;
  const std::size_t body = in.size() - 16;
  if (get_u64(in.data() + body) != fnv1a64(in.data(), body, fnv_offset)) return false;
  journal.final_size = get_u64(in.data() + 8);
  const std::uint64_t count = get_u64(in.data() + 16);
  std::size_t at = 24;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (at + 16 > body) return false;
    const std::uint64_t address = get_u64(in.data() + at);
    const std::uint64_t length = get_u64(in.data() + at + 8);
    at += 16;
    if (length > body - at) return false;
    journal.writes[address].assign(in.begin() + static_cast<std::ptrdiff_t>(at),
                                   in.begin() + static_cast<std::ptrdiff_t>(at + length));
    at += length;
  }
  return at == body;
}

// Step 2 of the protocol: apply to the file in place and make it durable.
void apply_journal(const std::string& path, const Journal& journal) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("applying the journal to " + path + ": " + errno_text(errno));
  try {
    bool first = true;
    for (const auto& [address, bytes] : journal.writes) {
      write_all(fd, bytes.data(), bytes.size(), static_cast<off_t>(address),
                "applying the journal to " + path);
      if (first) fault_point("journal:apply-partial");
      first = false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::runtime_error("stat " + path + ": " + errno_text(errno));
    if (journal.final_size > static_cast<std::uint64_t>(st.st_size) &&
        ::ftruncate(fd, static_cast<off_t>(journal.final_size)) != 0)
      throw std::runtime_error("extending " + path + ": " + errno_text(errno));
    if (::fsync(fd) != 0) throw std::runtime_error("fsync " + path + ": " + errno_text(errno));
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

std::string last_driver_error;
testing::CommitHook commit_hook = nullptr;  // the journal driver's message for the failing H5Fclose

void commit_journal(const std::string& path, const Journal& journal) {
  const std::string jpath = journal_path(path);
  const std::vector<unsigned char> bytes = encode(journal);
  const int fd = ::open(jpath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("creating the journal " + jpath + ": " + errno_text(errno));
  try {
    const std::size_t half = bytes.size() / 2;
    write_all(fd, bytes.data(), half, 0, "writing the journal " + jpath);
    fault_point("journal:partial");
    write_all(fd, bytes.data() + half, bytes.size() - half, static_cast<off_t>(half),
              "writing the journal " + jpath);
    if (::fsync(fd) != 0) throw std::runtime_error("fsync " + jpath + ": " + errno_text(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(jpath.c_str());  // incomplete: the file itself was not touched
    throw;
  }
  ::close(fd);
  sync_directory(jpath);
  if (commit_hook) commit_hook("journal-written");
  fault_point("journal:written");
  apply_journal(path, journal);  // a failure here leaves a complete journal: the next open replays it
  if (commit_hook) commit_hook("applied");
  fault_point("journal:applied");
  ::unlink(jpath.c_str());
  sync_directory(jpath);
}

// ---- the driver ----

struct JournalFile {
  H5FD_t pub;  // must come first: HDF5 sees the H5FD_t part
  int fd = -1;
  std::string path;
  dev_t device = 0;
  ino_t inode = 0;
  haddr_t eoa = 0;
  std::uint64_t disk_size = 0;
  Journal pending;
};

bool discard_next_close = false;  // set by ~JournaledFile so that an abandoned update is dropped

std::uint64_t pending_end(const JournalFile& f) {
  if (f.pending.writes.empty()) return 0;
  const auto& last = *f.pending.writes.rbegin();
  return last.first + last.second.size();
}

H5FD_t* driver_open(const char* name, unsigned flags, hid_t /*fapl*/, haddr_t maxaddr) {
  if (!name || !*name || maxaddr == 0 || maxaddr == HADDR_UNDEF) return nullptr;
  if (flags & (H5F_ACC_CREAT | H5F_ACC_TRUNC | H5F_ACC_EXCL)) return nullptr;  // existing files only
  const int fd = ::open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return nullptr;
  }
  auto* file = new JournalFile{};
  file->fd = fd;
  file->path = name;
  file->device = st.st_dev;
  file->inode = st.st_ino;
  file->disk_size = static_cast<std::uint64_t>(st.st_size);
  file->pending.final_size = file->disk_size;
  return &file->pub;
}

herr_t driver_close(H5FD_t* handle) {
  auto* file = reinterpret_cast<JournalFile*>(handle);
  const bool changed = !file->pending.writes.empty() || file->pending.final_size > file->disk_size;
  if (changed && !discard_next_close) {
    try {
      commit_journal(file->path, file->pending);
    } catch (const std::exception& e) {
      last_driver_error = e.what();  // JournaledFile::commit throws it
    }
  }
  ::close(file->fd);
  delete file;
  // Always success for HDF5: a failed close would leave HDF5 holding a file whose driver is gone,
  // and HDF5's shutdown (at MPI_Finalize) then crashed (SIGSEGV; a journal that did not fit on a
  // full disk, tests/reliability). The commit's failure reaches the caller through commit().
  return 0;
}

int driver_cmp(const H5FD_t* a, const H5FD_t* b) {
  const auto* x = reinterpret_cast<const JournalFile*>(a);
  const auto* y = reinterpret_cast<const JournalFile*>(b);
  if (x->device != y->device) return x->device < y->device ? -1 : 1;
  if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
  return 0;
}

herr_t driver_query(const H5FD_t*, unsigned long* flags) {
  if (flags)
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
  return 0;
}

haddr_t driver_get_eoa(const H5FD_t* handle, H5FD_mem_t) {
  return reinterpret_cast<const JournalFile*>(handle)->eoa;
}

herr_t driver_set_eoa(H5FD_t* handle, H5FD_mem_t, haddr_t address) {
  reinterpret_cast<JournalFile*>(handle)->eoa = address;
  return 0;
}

haddr_t driver_get_eof(const H5FD_t* handle, H5FD_mem_t) {
  const auto* file = reinterpret_cast<const JournalFile*>(handle);
  return std::max<std::uint64_t>(file->disk_size, pending_end(*file));
}

herr_t driver_get_handle(H5FD_t* handle, hid_t, void** file_handle) {
  if (!file_handle) return -1;
  *file_handle = &reinterpret_cast<JournalFile*>(handle)->fd;
  return 0;
}

herr_t driver_read(H5FD_t* handle, H5FD_mem_t, hid_t, haddr_t address, size_t size, void* buffer) {
  auto* file = reinterpret_cast<JournalFile*>(handle);
  auto* out = static_cast<unsigned char*>(buffer);
  // The file's bytes (zeros past its end), then the pending writes on top.
  std::size_t done = 0;
  while (done < size) {
    const std::uint64_t at = address + done;
    if (at >= file->disk_size) {
      std::memset(out + done, 0, size - done);
      break;
    }
    const ssize_t n = ::pread(file->fd, out + done, size - done, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) {
      std::memset(out + done, 0, size - done);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  const std::uint64_t begin = address, end = address + size;
  auto it = file->pending.writes.upper_bound(begin);
  if (it != file->pending.writes.begin()) --it;
  for (; it != file->pending.writes.end() && it->first < end; ++it) {
    const std::uint64_t wbegin = it->first, wend = it->first + it->second.size();
    const std::uint64_t from = std::max(begin, wbegin), to = std::min(end, wend);
    if (from < to) std::memcpy(out + (from - begin), it->second.data() + (from - wbegin), to - from);
  }
  return 0;
}

herr_t driver_write(H5FD_t* handle, H5FD_mem_t, hid_t, haddr_t address, size_t size, const void* buffer) {
  auto* file = reinterpret_cast<JournalFile*>(handle);
  auto& writes = file->pending.writes;
  const auto* in = static_cast<const unsigned char*>(buffer);
  std::uint64_t begin = address, end = address + size;
  // Merge with every pending write that overlaps or touches [begin, end).
  auto first = writes.upper_bound(begin);
  if (first != writes.begin()) {
    auto previous = std::prev(first);
    if (previous->first + previous->second.size() >= begin) first = previous;
  }
  auto last = first;
  while (last != writes.end() && last->first <= end) ++last;
  if (first != last) {
    begin = std::min(begin, first->first);
    const auto& tail = *std::prev(last);
    end = std::max(end, tail.first + tail.second.size());
  }
  std::vector<unsigned char> merged(end - begin);
  for (auto it = first; it != last; ++it)
    std::memcpy(merged.data() + (it->first - begin), it->second.data(), it->second.size());
  std::memcpy(merged.data() + (address - begin), in, size);
  writes.erase(first, last);
  writes.emplace(begin, std::move(merged));
  file->pending.final_size = std::max<std::uint64_t>(file->pending.final_size, end);
  return 0;
}

herr_t driver_flush(H5FD_t*, hid_t, hbool_t) { return 0; }  // durability comes with commit

herr_t driver_truncate(H5FD_t* handle, hid_t, hbool_t) {
  // The file never shrinks (an end of file past the end of allocation is valid HDF5); it grows to
  // the end of allocation so that space HDF5 allocated but left unwritten exists.
  auto* file = reinterpret_cast<JournalFile*>(handle);
  file->pending.final_size = std::max<std::uint64_t>(file->pending.final_size, file->eoa);
  return 0;
}

herr_t driver_lock(H5FD_t*, hbool_t) { return 0; }  // the lock file serialises writers
herr_t driver_unlock(H5FD_t*) { return 0; }

hid_t driver_id() {
  static hid_t id = -1;
  static std::once_flag once;
  std::call_once(once, [] {
    h5::init();
    static H5FD_class_t cls{};
    cls.name = "scorefarm_journal";
    cls.maxaddr = static_cast<haddr_t>(std::numeric_limits<off_t>::max());
    cls.fc_degree = H5F_CLOSE_STRONG;
    cls.open = driver_open;
    cls.close = driver_close;
    cls.cmp = driver_cmp;
    cls.query = driver_query;
    cls.get_eoa = driver_get_eoa;
    cls.set_eoa = driver_set_eoa;
    cls.get_eof = driver_get_eof;
    cls.get_handle = driver_get_handle;
    cls.read = driver_read;
    cls.write = driver_write;
    cls.flush = driver_flush;
    cls.truncate = driver_truncate;
    cls.lock = driver_lock;
    cls.unlock = driver_unlock;
    const H5FD_mem_t map[H5FD_MEM_NTYPES] = H5FD_FLMAP_DICHOTOMY;
    std::memcpy(cls.fl_map, map, sizeof map);
    id = H5FDregister(&cls);
  });
  if (id < 0) throw Hdf5Error("registering the journal driver", "", h5::take_error_stack());
  return id;
}

}  // namespace

void testing::set_commit_hook(CommitHook hook) { commit_hook = hook; }

std::string journal_path(const std::string& path) { return path + ".journal"; }

std::string recover_journal(const std::string& path) {
  const std::string jpath = journal_path(path);
  const int fd = ::open(jpath.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return "";
    throw std::runtime_error("reading the journal " + jpath + ": " + errno_text(errno));
  }
  std::vector<unsigned char> bytes;
  unsigned char block[65536];
  for (;;) {
    const ssize_t n = ::read(fd, block, sizeof block);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      throw std::runtime_error("reading the journal " + jpath + ": " + errno_text(error));
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), block, block + n);
  }
  ::close(fd);
  Journal journal;
  std::string message;
  if (decode(bytes, journal)) {
    apply_journal(path, journal);
    message = "completed an interrupted metadata update of " + path + " from " + jpath;
  } else {
    message = "discarded the incomplete journal " + jpath + " of an interrupted update (" + path +
              " was not modified by it)";
  }
  if (::unlink(jpath.c_str()) != 0)
    throw std::runtime_error("removing the journal " + jpath + ": " + errno_text(errno));
  sync_directory(jpath);
  return message;
}

JournaledFile::JournaledFile(const std::string& path) : path_(path) {
  recover_journal(path);
  h5::Handle fapl = h5::plist(H5P_FILE_ACCESS);
  h5::check(H5Pset_driver(fapl, driver_id(), nullptr), "selecting the journal driver", path);
  h5::check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "setting the close degree", path);
  discard_next_close = false;
  file_ = h5::open_file(path, H5F_ACC_RDWR, fapl);
}

void JournaledFile::commit() {
  last_driver_error.clear();
  discard_next_close = false;
  // Release ownership first: a failed close must not be retried by the destructor.
  h5::Handle file = std::move(file_);
  try {
    file.close("committing changes", path_);
  } catch (const Hdf5Error& e) {
    if (!last_driver_error.empty()) throw Hdf5Error("committing changes", path_, last_driver_error);
    throw;
  }
  if (!last_driver_error.empty()) throw Hdf5Error("committing changes", path_, last_driver_error);
}

JournaledFile::~JournaledFile() {
  if (file_.valid()) {
    discard_next_close = true;  // an update abandoned by an exception is dropped, never half-applied
    file_.reset();
    discard_next_close = false;
  }
}

}  // namespace scorefarm::io
