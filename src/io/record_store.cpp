// The study file: creation, verification, /runs bookkeeping and raw record I/O (record_store.hpp).
#include "scorefarm/io/record_store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>

#include "scorefarm/core/status.hpp"
#include "scorefarm/io/fault.hpp"
#include "scorefarm/io/journal.hpp"
#include "scorefarm/io/lock_file.hpp"
#include "scorefarm/version.hpp"

namespace scorefarm::io {

using h5::Handle;
using h5::Kind;

namespace {

std::string errno_text(int error) { return std::strerror(error); }

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("opening " + path + " to sync it: " + errno_text(errno));
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (result != 0) throw std::runtime_error("fsync " + path + ": " + errno_text(error));
}

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (std::size_t i = 0; i < lines.size(); ++i) text += (i ? "\n" : "") + lines[i];
  return text;
}

// The documentation of /records/status bits, from core/status.hpp.
std::string status_bits_text() {
  std::string text;
  for (int bit = 0; bit < 32; ++bit) {
    const std::uint32_t mask = 1u << bit;
    const std::string name = describe_status(mask);
    if (name.empty() || name.find("bit") != std::string::npos || name == "ok") continue;
    text += "bit " + std::to_string(bit) + " (" + std::to_string(mask) + "): " + name + "\n";
  }
  text += "0 = ok. A record counts as failed (errors +inf) when status & " +
          std::to_string(status::failure_mask) + " != 0.";
  return text;
}

// Object-creation property list without timestamps, so that two files of the same study differ
// only in the attributes that say when and where they were made.
Handle creation_plist(hid_t cls) {
  Handle plist = h5::plist(cls);
  h5::check(H5Pset_obj_track_times(plist, false), "turning object timestamps off");
  return plist;
}

Handle preallocated_dcpl(hid_t mem_type, const void* fill) {
  Handle dcpl = creation_plist(H5P_DATASET_CREATE);
  h5::check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "choosing the contiguous layout");
  // Space allocated (and filled) at creation: during a run only raw data is written, at offsets
  // that never change, so HDF5 metadata is never dirty mid-run and a full disk shows at creation.
  h5::check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "choosing early allocation");
  h5::check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC), "choosing fill at allocation");
  h5::check(H5Pset_fill_value(dcpl, mem_type, fill), "setting the fill value");
  return dcpl;
}

Handle create_dataset(hid_t loc, const std::string& name, hid_t file_type, const std::vector<hsize_t>& dims,
                      hid_t dcpl, const std::string& file) {
  Handle space = h5::simple_space(dims);
  Handle lcpl = h5::plist(H5P_LINK_CREATE);
  return h5::own(H5Dcreate2(loc, name.c_str(), file_type, space, lcpl, dcpl, H5P_DEFAULT), Kind::dataset,
                 "creating dataset " + name, file);
}

Handle create_group_plain(hid_t loc, const std::string& name, const std::string& file) {
  Handle gcpl = creation_plist(H5P_GROUP_CREATE);
  return h5::own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), Kind::group,
                 "creating group " + name, file);
}

std::vector<hsize_t> field_dims(std::size_t n_cells, std::uint64_t n_trials, std::size_t length) {
  std::vector<hsize_t> dims{static_cast<hsize_t>(n_cells), static_cast<hsize_t>(n_trials)};
  if (length > 1) dims.push_back(static_cast<hsize_t>(length));
  return dims;
}

std::string quote(const std::string& text) { return "'" + text + "'"; }

}  // namespace

std::string creating_path(const std::string& path) { return path + ".creating"; }

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<std::size_t>(std::max(0, length)));
  const auto newline = version.find_first_of("\r\n");
  if (newline != std::string::npos) version.resize(newline);
  while (!version.empty() && (version.back() == ',' || version.back() == ' ' || version.back() == '\0'))
    version.pop_back();
  return version;
}

std::vector<std::string> prepare_output(const std::string& path) {
  std::vector<std::string> notes;
  const std::string journal_note = recover_journal(path);
  if (!journal_note.empty()) notes.push_back(journal_note);
  const std::string creating = creating_path(path);
  if (exists(creating)) {
    if (::unlink(creating.c_str()) != 0)
      throw std::runtime_error("removing the half-built " + creating + ": " + errno_text(errno));
    notes.push_back("removed " + creating + ", left half-built by a run killed while creating " + path);
  }
  return notes;
}

namespace {

// Runs `body` in a forked child process and rethrows what it threw (StoreRefused with its reason,
// anything else as std::runtime_error). Returns the signal that killed the child, 0 if none.
// Why: HDF5 1.10 trusts its files and its own state. A corrupted file can crash it (SIGSEGV in
// H5HG_read), and a file whose creation failed half-way (ENOSPC) cannot be closed and crashes
// HDF5's shutdown at MPI_Finalize (H5F__close_cb). Both were found by tests/reliability; in a child,
// neither can take the run down, and the parent's HDF5 state stays clean. The child never touches
// MPI and leaves with _exit.
int run_isolated(const std::function<void()>& body) {
  int channel[2];
  if (::pipe(channel) != 0) throw std::runtime_error("pipe: " + errno_text(errno));
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    const int error = errno;
    ::close(channel[0]);
    ::close(channel[1]);
    throw std::runtime_error("fork: " + errno_text(error));
  }
  if (child == 0) {
    ::close(channel[0]);
    fault_in_child();
    // A crash is reported by the parent, in one line: not by Open MPI's backtrace handler.
    for (int crash : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(crash, SIG_DFL);
    std::string verdict;  // "" ok, else "R <reason>\n<message>" or "E 0\n<message>"
    try {
      body();
    } catch (const StoreRefused& e) {
      verdict = "R " + std::to_string(static_cast<int>(e.reason())) + "\n" + e.what();
    } catch (const std::exception& e) {
      verdict = "E 0\n" + std::string(e.what());
    } catch (...) {
      verdict = "E 0\nunknown exception";
    }
    std::size_t at = 0;
    while (at < verdict.size()) {
      const ssize_t n = ::write(channel[1], verdict.data() + at, verdict.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(channel[1]);
  std::string verdict;
  char block[4096];
  for (;;) {
    const ssize_t n = ::read(channel[0], block, sizeof block);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    verdict.append(block, static_cast<std::size_t>(n));
  }
  ::close(channel[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return WTERMSIG(status);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return SIGABRT;
  if (verdict.empty()) return 0;
  const std::size_t newline = verdict.find('\n');
  const std::string head = verdict.substr(0, newline);
  const std::string message = newline == std::string::npos ? "" : verdict.substr(newline + 1);
  if (head.rfind("R ", 0) == 0)
    throw StoreRefused(static_cast<StoreRefused::Reason>(std::atoi(head.c_str() + 2)), message);
  throw std::runtime_error(message);
}

// Bytes of the study file, nearly all of them allocated (and written) at creation.
std::uint64_t study_file_bytes(const TrialRunner& runner) {
  std::uint64_t per_record = 4 + 1;  // status, done
  for (const FieldSpec& field : runner.fields()) per_record += 8 * field.length;
  return per_record * runner.cell_count() * runner.trials_per_cell() + (64u << 10);  // + metadata
}

std::string megabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

// The message for a creation that ran out of space (a preflight check, or ENOSPC on the way).
std::string no_space(const std::string& path, std::uint64_t needed, std::uint64_t available) {
  return "no space left on device for " + path + ": the study file is allocated in full when it is "
         "created and needs about " + megabytes(needed) + "; its file system has " + megabytes(available) +
         " free. Free some space or choose another -o (nothing was written).";
}

std::uint64_t available_bytes(const std::string& folder) {
  struct statvfs fs {};
  if (::statvfs(folder.c_str(), &fs) != 0) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

void build_study_file(const std::string& temporary, const TrialRunner& runner, const StudyMetadata& study);

}  // namespace

void create_study_file(const std::string& path, const TrialRunner& runner, const StudyMetadata& study) {
  h5::init();
  if (exists(path)) throw std::runtime_error("refusing to create " + path + ": it exists");
  const std::string temporary = creating_path(path);
  const std::uint64_t needed = study_file_bytes(runner);
  const std::uint64_t available = available_bytes(directory_of(path));
  if (needed > available) throw std::runtime_error(no_space(path, needed, available));
  fault_point("create:checked");
  try {
    // Built and synced by a child process (run_isolated); here only the rename.
    const int crash = run_isolated([&] { build_study_file(temporary, runner, study); });
    if (crash != 0)
      throw std::runtime_error("creating " + path + ": the process building it died (signal " +
                               std::to_string(crash) + "); nothing was written");
    fault_point("create:closed");
    if (::rename(temporary.c_str(), path.c_str()) != 0)
      throw std::runtime_error("renaming " + temporary + " to " + path + ": " + errno_text(errno));
    sync_path(directory_of(path), true);
    fault_point("create:renamed");
  } catch (const std::exception& e) {
    ::unlink(temporary.c_str());  // ours (created with EXCL under the lock): never the real output
    const std::string what = e.what();
    if (what.find("No space left on device") != std::string::npos ||
        what.find("errno = 28") != std::string::npos)
      throw std::runtime_error(no_space(path, needed, available_bytes(directory_of(path))) +
                               " (HDF5: " + what.substr(0, 300) + "...)");
    throw;
  }
}

namespace {

void build_study_file(const std::string& temporary, const TrialRunner& runner, const StudyMetadata& study) {
  const std::size_t n_cells = runner.cell_count();
  const std::uint64_t n_trials = runner.trials_per_cell();
  const std::vector<FieldSpec> fields = runner.fields();
  try {
    Handle fcpl = h5::plist(H5P_FILE_CREATE);
    Handle fapl = h5::file_access_serial();
    // H5F_ACC_EXCL: never truncate anything, even a file that appeared since the check above.
    Handle file = h5::create_file(temporary, H5F_ACC_EXCL, fcpl, fapl);

    h5::write_attribute_i64(file, "scorefarm_schema", schema_version, temporary);
    h5::write_attribute(file, "kind", study.kind, temporary);
    h5::write_attribute(file, "config_text", study.config_text, temporary);
    h5::write_attribute(file, "config_overrides", join(study.overrides), temporary);
    h5::write_attribute(file, "config_effective", study.effective_yaml, temporary);
    h5::write_attribute(file, "config_hash", study.hash, temporary);
    h5::write_attribute(file, "scorefarm_version", std::string(scorefarm::version), temporary);
    h5::write_attribute(file, "git_commit", std::string(scorefarm::git_commit), temporary);
    h5::write_attribute(file, "hdf5_version", h5::library_version(), temporary);
    h5::write_attribute(file, "mpi_version", mpi_library_version(), temporary);
    h5::write_attribute(file, "created", utc_now(), temporary);
    h5::write_attribute_i64(file, "n_cells", static_cast<std::int64_t>(n_cells), temporary);
    h5::write_attribute_i64(file, "n_trials", static_cast<std::int64_t>(n_trials), temporary);
    h5::write_attribute_u64(file, "seed", study.seed, temporary);
    fault_point("create:attributes");

    {  // /cells: the cell table, one column per axis
      Handle cells = create_group_plain(file, "cells", temporary);
      std::vector<std::string> axes;
      Handle dcpl = creation_plist(H5P_DATASET_CREATE);
      for (const CellColumn& column : runner.cell_table()) {
        axes.push_back(column.name);
        if (column.is_text) {
          if (column.texts.size() != n_cells)
            throw std::runtime_error("cell table column " + column.name + " has the wrong length");
          Handle type = h5::vlen_utf8_type();
          Handle set = create_dataset(cells, column.name, type, {static_cast<hsize_t>(n_cells)}, dcpl,
                                      temporary);
          std::vector<const char*> pointers;
          for (const auto& text : column.texts) pointers.push_back(text.c_str());
          h5::check(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
                    "writing /cells/" + column.name, temporary);
        } else {
          if (column.numbers.size() != n_cells)
            throw std::runtime_error("cell table column " + column.name + " has the wrong length");
          Handle set = create_dataset(cells, column.name, H5T_IEEE_F64LE, {static_cast<hsize_t>(n_cells)},
                                      dcpl, temporary);
          h5::check(H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, column.numbers.data()),
                    "writing /cells/" + column.name, temporary);
        }
      }
      h5::write_attribute(cells, "axes", axes, temporary);
    }

    {  // /records: one preallocated record per (cell, trial)
      Handle records = create_group_plain(file, "records", temporary);
      const double nan = std::numeric_limits<double>::quiet_NaN();
      Handle field_dcpl = preallocated_dcpl(H5T_NATIVE_DOUBLE, &nan);
      std::vector<std::string> names;
      for (const FieldSpec& field : fields) {
        names.push_back(field.name);
        Handle set = create_dataset(records, field.name, H5T_IEEE_F64LE,
                                    field_dims(n_cells, n_trials, field.length), field_dcpl, temporary);
        h5::write_attribute(set, "description", field.description, temporary);
      }
      h5::write_attribute(records, "fields", names, temporary);
      const std::uint32_t zero32 = 0;
      Handle status_dcpl = preallocated_dcpl(H5T_NATIVE_UINT32, &zero32);
      Handle status = create_dataset(records, "status", H5T_STD_U32LE, field_dims(n_cells, n_trials, 1),
                                     status_dcpl, temporary);
      h5::write_attribute(status, "description", "status bits of each trial (0 = ok)", temporary);
      h5::write_attribute(status, "bits", status_bits_text(), temporary);
      const std::uint8_t zero8 = 0;
      Handle done_dcpl = preallocated_dcpl(H5T_NATIVE_UINT8, &zero8);
      Handle done = create_dataset(records, "done", H5T_STD_U8LE, field_dims(n_cells, n_trials, 1),
                                   done_dcpl, temporary);
      h5::write_attribute(done, "description",
                          "1 once the record's data is written (written after the data); records with "
                          "done = 0 hold fill values (NaN, status 0) and are computed by the next run",
                          temporary);
    }
    create_group_plain(file, "runs", temporary);
    fault_point("create:datasets");
    file.close("closing the new study file", temporary);
    sync_path(temporary, false);
  } catch (...) {
    ::unlink(temporary.c_str());  // ours (created with EXCL under the lock): never the real output
    throw;
  }
}

// The checks of verify_study_file, in this process (see verify_study_file for why a child runs them).
void verify_in_process(const std::string& path, const TrialRunner& runner, const StudyMetadata& study) {
  using Reason = StoreRefused::Reason;
  h5::init();
  const std::string untouched = " The file was not modified.";
  if (!h5::is_hdf5(path)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw StoreRefused(Reason::not_hdf5, path + " exists and is not a regular file; choose another -o.");
    throw StoreRefused(Reason::not_hdf5,
                       path + " exists but is not an HDF5 file (no HDF5 signature): scorefarm will not "
                              "overwrite it. Move it away or choose another -o." + untouched);
  }
  Handle file;
  try {
    Handle fapl = h5::file_access_serial();
    file = h5::open_file(path, H5F_ACC_RDONLY, fapl);
  } catch (const Hdf5Error& e) {
    throw StoreRefused(Reason::damaged,
                       path + " is damaged: HDF5 cannot open it (" + e.stack() +
                           "). It may have been truncated or overwritten by something else. Move it "
                           "away and rerun to start afresh, or restore it from a copy." + untouched);
  }
  try {
    if (!h5::attribute_exists(file, "scorefarm_schema", path))
      throw StoreRefused(Reason::not_a_study, path + " is an HDF5 file but not a scorefarm study file (it has "
                                                     "no scorefarm_schema attribute); choose another -o." +
                                                  untouched);
    const std::int64_t schema = h5::read_i64_attribute(file, "scorefarm_schema", path);
    if (schema != schema_version)
      throw StoreRefused(Reason::schema, path + " has file schema " + std::to_string(schema) +
                                             "; this scorefarm writes schema " +
                                             std::to_string(schema_version) + ". Use another -o." + untouched);
    const std::string hash = h5::read_string_attribute(file, "config_hash", path);
    if (hash != study.hash)
      throw StoreRefused(Reason::other_config,
                         path + " was made from a different study config (config_hash " + hash +
                             " in the file, " + study.hash +
                             " for this config and --set options): refusing to mix two studies in one "
                             "file. Rerun with the config that made it (it is stored in the file: h5dump "
                             "-a config_text " + path + "), or choose another -o." + untouched);
    auto layout_error = [&](const std::string& what) {
      return StoreRefused(Reason::layout, path + ": " + what +
                                              ", although its config_hash matches (made by another "
                                              "scorefarm version?). Choose another -o." + untouched);
    };
    const std::string kind = h5::read_string_attribute(file, "kind", path);
    if (kind != runner.kind()) throw layout_error("kind is " + quote(kind) + ", not " + quote(runner.kind()));
    const std::int64_t n_cells = h5::read_i64_attribute(file, "n_cells", path);
    const std::int64_t n_trials = h5::read_i64_attribute(file, "n_trials", path);
    if (n_cells != static_cast<std::int64_t>(runner.cell_count()) ||
        n_trials != static_cast<std::int64_t>(runner.trials_per_cell()))
      throw layout_error("it has " + std::to_string(n_cells) + " cells x " + std::to_string(n_trials) +
                         " trials, the config " + std::to_string(runner.cell_count()) + " x " +
                         std::to_string(runner.trials_per_cell()));
    std::vector<FieldSpec> fields = runner.fields();
    fields.push_back({"status", 1, ""});
    fields.push_back({"done", 1, ""});
    for (const FieldSpec& field : fields) {
      const std::string name = "records/" + field.name;
      if (!h5::link_exists(file, "records", path) || !h5::link_exists(file, name, path))
        throw layout_error("/" + name + " is missing");
      Handle set = h5::open_dataset(file, name, path);
      if (h5::dataset_dims(set, path) != field_dims(runner.cell_count(), runner.trials_per_cell(), field.length))
        throw layout_error("/" + name + " has the wrong shape");
    }
    if (!h5::link_exists(file, "runs", path)) throw layout_error("/runs is missing");

    // Damage the layout checks above cannot see (tests/reliability, reliability_damaged):
    auto damaged = [&](const std::string& what) {
      return StoreRefused(Reason::damaged,
                          path + " is damaged: " + what + ". Restore it from a copy, or move it away and "
                          "rerun to start afresh." + untouched);
    };
    // 1. Every record dataset has its file type, is contiguous and lies wholly inside the file: a
    //    corrupted type would silently convert the records, a truncated file would lose them.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw damaged("cannot stat it (" + errno_text(errno) + ")");
    const std::uint64_t file_size = static_cast<std::uint64_t>(st.st_size);
    for (const FieldSpec& field : fields) {
      const std::string name = "records/" + field.name;
      Handle set = h5::open_dataset(file, name, path);
      Handle type = h5::own(H5Dget_type(set), Kind::datatype, "reading the type of /" + name, path);
      const hid_t expected = field.name == "status" ? H5T_STD_U32LE
                             : field.name == "done" ? H5T_STD_U8LE
                                                    : H5T_IEEE_F64LE;
      if (H5Tequal(type, expected) <= 0) throw damaged("/" + name + " does not have its data type");
      Handle dcpl = h5::own(H5Dget_create_plist(set), Kind::plist, "reading /" + name, path);
      const haddr_t offset = H5Dget_offset(set);
      hsize_t elements = 1;
      for (hsize_t extent : h5::dataset_dims(set, path)) elements *= extent;
      const std::uint64_t bytes = elements * H5Tget_size(expected);
      if (H5Pget_layout(dcpl) != H5D_CONTIGUOUS || offset == HADDR_UNDEF ||
          H5Dget_storage_size(set) != bytes)
        throw damaged("/" + name + " is not laid out as a study file's records are (contiguous, " +
                      std::to_string(bytes) + " bytes, allocated at creation)");
      if (offset + bytes > file_size)
        throw damaged("it is truncated: it has " + std::to_string(file_size) + " bytes, /" + name +
                      " ends at byte " + std::to_string(offset + bytes));
    }
    // 2. /cells holds this config's cell table (its values are data, outside the config hash).
    for (const CellColumn& column : runner.cell_table()) {
      const std::string name = "cells/" + column.name;
      if (!h5::link_exists(file, "cells", path) || !h5::link_exists(file, name, path))
        throw layout_error("/" + name + " is missing");
      Handle set = h5::open_dataset(file, name, path);
      if (h5::dataset_dims(set, path) != std::vector<hsize_t>{static_cast<hsize_t>(runner.cell_count())})
        throw layout_error("/" + name + " has the wrong shape");
      bool same = true;
      if (column.is_text) {
        Handle type = h5::vlen_utf8_type();
        std::vector<char*> texts(runner.cell_count(), nullptr);
        h5::check(H5Dread(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data()), "reading /" + name, path);
        for (std::size_t i = 0; i < texts.size(); ++i) {
          same = same && texts[i] && column.texts[i] == texts[i];
          H5free_memory(texts[i]);
        }
      } else {
        std::vector<double> numbers(runner.cell_count());
        h5::check(H5Dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, numbers.data()),
                  "reading /" + name, path);
        same = std::memcmp(numbers.data(), column.numbers.data(), numbers.size() * sizeof(double)) == 0;
      }
      if (!same) throw damaged("/" + name + " does not hold this config's cell table");
    }
    // 3. The metadata a run reads and rewrites (the /runs bookkeeping) is readable.
    Handle runs = h5::open_group(file, "runs", path);
    for (const std::string& name : h5::child_names(runs, path)) {
      Handle run = h5::open_group(runs, name, path);
      if (h5::attribute_exists(run, "outcome", path)) h5::read_string_attribute(run, "outcome", path);
    }
  } catch (const Hdf5Error& e) {
    throw StoreRefused(Reason::damaged, path + " cannot be read as a scorefarm study file (" +
                                            std::string(e.what()) + ")." + untouched);
  }
}

}  // namespace

void verify_study_file(const std::string& path, const TrialRunner& runner, const StudyMetadata& study) {
  // In a child process (run_isolated): a file corrupted enough to crash HDF5 is refused, not fatal.
  const int crash = run_isolated([&] { verify_in_process(path, runner, study); });
  if (crash != 0)
    throw StoreRefused(StoreRefused::Reason::damaged,
                       path + " is damaged: reading its HDF5 metadata crashed the HDF5 library (signal " +
                           std::to_string(crash) + ", in a child process). Restore it from a copy, or move "
                           "it away and rerun to start afresh. The file was not modified.");
}

namespace {

// Reads an attribute or a variable-length dataset whole, in its native memory type.
void read_whole(hid_t object, bool attribute, const std::string& what, const std::string& path) {
  Handle type = h5::own(attribute ? H5Aget_type(object) : H5Dget_type(object), Kind::datatype,
                        "reading the type of " + what, path);
  Handle space = h5::own(attribute ? H5Aget_space(object) : H5Dget_space(object), Kind::dataspace,
                         "reading the shape of " + what, path);
  Handle memory = h5::own(H5Tget_native_type(type, H5T_DIR_ASCEND), Kind::datatype,
                          "reading the type of " + what, path);
  const hssize_t points = H5Sget_simple_extent_npoints(space);
  const std::size_t size = H5Tget_size(memory);
  if (points < 0 || size == 0) throw Hdf5Error("reading " + what, path, "bad shape or type");
  std::vector<unsigned char> buffer(static_cast<std::size_t>(points) * size);
  h5::check(attribute ? H5Aread(object, memory, buffer.data())
                      : H5Dread(object, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
            "reading " + what, path);
  if (H5Tdetect_class(memory, H5T_VLEN) > 0 || H5Tis_variable_str(memory) > 0)
    H5Dvlen_reclaim(memory, space, H5P_DEFAULT, buffer.data());
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

void probe_in_process(const std::string& path) {
  Handle fapl = h5::file_access_serial();
  Handle file = h5::open_file(path, H5F_ACC_RDONLY, fapl);
  std::vector<std::string> names{"."};
  h5::check(H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect_name, &names), "listing the objects", path);
  for (const std::string& name : names) {
    struct Object {  // any kind of object, closed with H5Oclose
      hid_t id;
      ~Object() {
        if (id >= 0) H5Oclose(id);
      }
    } owned{H5Oopen(file, name.c_str(), H5P_DEFAULT)};
    if (owned.id < 0) throw Hdf5Error("opening " + name, path, h5::take_error_stack());
    const H5I_type_t kind = H5Iget_type(owned.id);
    H5O_info_t info{};
    h5::check(H5Oget_info(owned.id, &info), "reading the header of " + name, path);
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
      Handle attribute = h5::own(H5Aopen_by_idx(owned.id, ".", H5_INDEX_NAME, H5_ITER_NATIVE, i,
                                                H5P_DEFAULT, H5P_DEFAULT),
                                 Kind::attribute, "opening an attribute of " + name, path);
      read_whole(attribute, true, "an attribute of " + name, path);
    }
    if (kind == H5I_DATASET) {
      Handle type = h5::own(H5Dget_type(owned.id), Kind::datatype, "reading the type of " + name, path);
      if (H5Tdetect_class(type, H5T_VLEN) > 0 || H5Tis_variable_str(type) > 0)
        read_whole(owned.id, false, name, path);
    }
  }
}

}  // namespace

void probe_readable(const std::string& path) {
  int crash = 0;
  try {
    crash = run_isolated([&] { probe_in_process(path); });
  } catch (const Hdf5Error& e) {
    throw StoreRefused(StoreRefused::Reason::damaged, path + " is damaged: " + e.what() +
                                                          ". Restore it from a copy. The file was not modified.");
  } catch (const std::runtime_error& e) {
    throw StoreRefused(StoreRefused::Reason::damaged, path + " is damaged: " + e.what() +
                                                          ". Restore it from a copy. The file was not modified.");
  }
  if (crash != 0)
    throw StoreRefused(StoreRefused::Reason::damaged,
                       path + " is damaged: reading its HDF5 metadata crashed the HDF5 library (signal " +
                           std::to_string(crash) + ", in a child process). Restore it from a copy. The file "
                           "was not modified.");
}

int begin_run(const std::string& path, int ranks, std::uint64_t trials_done_before) {
  JournaledFile file(path);
  int index = 0;
  {
    Handle runs = h5::open_group(file.id(), "runs", path);
    const std::vector<std::string> names = h5::child_names(runs, path);
    for (const std::string& name : names) {
      Handle run = h5::open_group(runs, name, path);
      if (h5::attribute_exists(run, "outcome", path) &&
          h5::read_string_attribute(run, "outcome", path) == "running")
        h5::write_attribute(run, "outcome", "killed", path);  // it never reached end_run
      try {
        index = std::max(index, std::stoi(name) + 1);
      } catch (const std::exception&) {
      }
    }
    Handle run = create_group_plain(runs, std::to_string(index), path);
    h5::write_attribute(run, "started", utc_now(), path);
    h5::write_attribute(run, "ended", "", path);
    h5::write_attribute_i64(run, "ranks", ranks, path);
    h5::write_attribute_i64(run, "trials_done_before", static_cast<std::int64_t>(trials_done_before), path);
    h5::write_attribute_i64(run, "trials_completed", 0, path);
    h5::write_attribute(run, "outcome", "running", path);
    h5::write_attribute(run, "host", host_name(), path);
    h5::write_attribute(run, "scorefarm_version", std::string(scorefarm::version), path);
    h5::write_attribute(run, "git_commit", std::string(scorefarm::git_commit), path);
    h5::write_attribute(run, "mpi_version", mpi_library_version(), path);
    h5::write_attribute(run, "hdf5_version", h5::library_version(), path);
  }
  file.commit();
  return index;
}

int mark_killed_runs(const std::string& path) {
  std::vector<std::string> running;
  {
    Handle fapl = h5::file_access_serial();
    Handle file = h5::open_file(path, H5F_ACC_RDONLY, fapl);
    Handle runs = h5::open_group(file, "runs", path);
    for (const std::string& name : h5::child_names(runs, path)) {
      Handle run = h5::open_group(runs, name, path);
      if (h5::attribute_exists(run, "outcome", path) &&
          h5::read_string_attribute(run, "outcome", path) == "running")
        running.push_back(name);
    }
  }
  if (running.empty()) return 0;
  JournaledFile file(path);
  {
    Handle runs = h5::open_group(file.id(), "runs", path);
    for (const std::string& name : running) {
      Handle run = h5::open_group(runs, name, path);
      h5::write_attribute(run, "outcome", "killed", path);
    }
  }
  file.commit();
  return static_cast<int>(running.size());
}

void end_run(const std::string& path, int run_index, std::uint64_t trials_completed, const std::string& outcome) {
  JournaledFile file(path);
  {
    Handle run = h5::open_group(file.id(), "runs/" + std::to_string(run_index), path);
    h5::write_attribute(run, "ended", utc_now(), path);
    h5::write_attribute_i64(run, "trials_completed", static_cast<std::int64_t>(trials_completed), path);
    h5::write_attribute(run, "outcome", outcome, path);
  }
  file.commit();
}

std::uint64_t count_done(const std::string& path) {
  Handle fapl = h5::file_access_serial();
  Handle file = h5::open_file(path, H5F_ACC_RDONLY, fapl);
  Handle done = h5::open_dataset(file, "records/done", path);
  const auto dims = h5::dataset_dims(done, path);
  std::vector<std::uint8_t> flags(static_cast<std::size_t>(dims.at(0) * dims.at(1)));
  if (!flags.empty())
    h5::check(H5Dread(done, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, flags.data()),
              "reading /records/done", path);
  std::uint64_t count = 0;
  for (std::uint8_t flag : flags) count += flag == 1;
  return count;
}

// ---- RecordStore ----

RecordStore RecordStore::open(const std::string& path, const TrialRunner& runner, MPI_Comm comm,
                              StoreOptions options) {
  h5::init();
  RecordStore store;
  store.path_ = path;
  store.n_cells_ = runner.cell_count();
  store.n_trials_ = runner.trials_per_cell();
  store.fields_ = runner.fields();
  store.width_ = runner.record_width();
  store.options_ = std::move(options);

  Handle fapl = h5::plist(H5P_FILE_ACCESS);
  h5::check(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL), "selecting the MPI-IO driver", path);
  store.file_ = h5::open_file(path, H5F_ACC_RDWR, fapl);
  for (const FieldSpec& field : store.fields_) {
    store.field_sets_.push_back(h5::open_dataset(store.file_, "records/" + field.name, path));
    if (h5::dataset_dims(store.field_sets_.back(), path) !=
        field_dims(store.n_cells_, store.n_trials_, field.length))
      throw Hdf5Error("checking /records/" + field.name, path, "wrong shape");
  }
  store.status_set_ = h5::open_dataset(store.file_, "records/status", path);
  store.done_set_ = h5::open_dataset(store.file_, "records/done", path);
  store.transfer_ = h5::plist(H5P_DATASET_XFER);
  // Independent I/O: each worker writes the records it computed, when it computed them.
  h5::check(H5Pset_dxpl_mpio(store.transfer_, H5FD_MPIO_INDEPENDENT), "choosing independent I/O", path);
  if (store.options_.sync_before_done) {
    // fdatasync on any descriptor of the file flushes the file's dirty pages (Linux, NFS, Lustre).
    store.sync_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (store.sync_fd_ < 0) throw std::runtime_error("opening " + path + ": " + errno_text(errno));
  }
  return store;
}

RecordStore::RecordStore(RecordStore&& other) noexcept { *this = std::move(other); }

RecordStore& RecordStore::operator=(RecordStore&& other) noexcept {
  if (this != &other) {
    path_ = std::move(other.path_);
    n_cells_ = other.n_cells_;
    n_trials_ = other.n_trials_;
    fields_ = std::move(other.fields_);
    width_ = other.width_;
    field_sets_ = std::move(other.field_sets_);
    status_set_ = std::move(other.status_set_);
    done_set_ = std::move(other.done_set_);
    transfer_ = std::move(other.transfer_);
    file_ = std::move(other.file_);
    if (sync_fd_ >= 0) ::close(sync_fd_);
    sync_fd_ = other.sync_fd_;
    other.sync_fd_ = -1;
    options_ = std::move(other.options_);
  }
  return *this;
}

RecordStore::~RecordStore() {
  field_sets_.clear();
  status_set_.reset();
  done_set_.reset();
  transfer_.reset();
  file_.reset();
  if (sync_fd_ >= 0) ::close(sync_fd_);
}

std::vector<std::uint8_t> RecordStore::read_done() const {
  std::vector<std::uint8_t> flags(n_cells_ * static_cast<std::size_t>(n_trials_));
  if (!flags.empty())
    h5::read_block(done_set_, {0, 0}, {static_cast<hsize_t>(n_cells_), static_cast<hsize_t>(n_trials_)},
                   H5T_NATIVE_UINT8, flags.data(), transfer_, "reading /records/done", path_);
  return flags;
}

void RecordStore::write(const std::vector<Segment>& segments, const std::vector<Record>& records) {
  std::uint64_t total = 0;
  for (const Segment& segment : segments) {
    if (segment.cell >= n_cells_ || segment.first + segment.count > n_trials_)
      throw std::out_of_range("record segment outside the study");
    total += segment.count;
  }
  if (total != records.size()) throw std::invalid_argument("RecordStore::write: records do not match segments");
  for (const Record& record : records)
    if (record.values.size() != width_)
      throw std::invalid_argument("RecordStore::write: a record has " + std::to_string(record.values.size()) +
                                  " values, the study's fields " + std::to_string(width_));

  // 1. Data fields, then status, segment by segment.
  std::vector<double> values;
  std::size_t offset = 0;
  for (std::size_t f = 0; f < fields_.size(); ++f) {
    const std::size_t length = fields_[f].length;
    std::size_t at = 0;
    for (const Segment& segment : segments) {
      values.resize(segment.count * length);
      for (std::uint64_t t = 0; t < segment.count; ++t)
        std::copy_n(records[at + t].values.begin() + static_cast<std::ptrdiff_t>(offset), length,
                    values.begin() + static_cast<std::ptrdiff_t>(t * length));
      std::vector<hsize_t> start{segment.cell, segment.first}, count{1, segment.count};
      if (length > 1) {
        start.push_back(0);
        count.push_back(length);
      }
      if (segment.count > 0)
        h5::write_block(field_sets_[f], start, count, H5T_NATIVE_DOUBLE, values.data(), transfer_,
                        "writing /records/" + fields_[f].name, path_);
      at += segment.count;
    }
    offset += length;
    if (f == 0) fault_point("records:field");
  }
  std::vector<std::uint32_t> status;
  std::size_t at = 0;
  for (const Segment& segment : segments) {
    status.resize(segment.count);
    for (std::uint64_t t = 0; t < segment.count; ++t) status[t] = records[at + t].status;
    if (segment.count > 0)
      h5::write_block(status_set_, {segment.cell, segment.first}, {1, segment.count}, H5T_NATIVE_UINT32,
                      status.data(), transfer_, "writing /records/status", path_);
    at += segment.count;
  }
  if (options_.after_stage) options_.after_stage("data");
  fault_point("records:status");

  // 2. The data reaches the disk before any of its done flags can (not only the page cache).
  if (sync_fd_ >= 0 && ::fdatasync(sync_fd_) != 0)
    throw std::runtime_error("fdatasync " + path_ + ": " + errno_text(errno));
  fault_point("records:synced");

  // 3. Done flags: from here on the records count.
  for (const Segment& segment : segments) {
    const std::vector<std::uint8_t> ones(segment.count, 1);
    if (segment.count > 0)
      h5::write_block(done_set_, {segment.cell, segment.first}, {1, segment.count}, H5T_NATIVE_UINT8,
                      ones.data(), transfer_, "writing /records/done", path_);
  }
  fault_point("records:done");
}

std::vector<Record> RecordStore::read(const Segment& segment) const {
  std::vector<Record> records(segment.count);
  for (auto& record : records) record.values.assign(width_, 0.0);
  if (segment.count == 0) return records;
  std::vector<double> values;
  std::size_t offset = 0;
  for (std::size_t f = 0; f < fields_.size(); ++f) {
    const std::size_t length = fields_[f].length;
    values.resize(segment.count * length);
    std::vector<hsize_t> start{segment.cell, segment.first}, count{1, segment.count};
    if (length > 1) {
      start.push_back(0);
      count.push_back(length);
    }
    h5::read_block(field_sets_[f], start, count, H5T_NATIVE_DOUBLE, values.data(), transfer_,
                   "reading /records/" + fields_[f].name, path_);
    for (std::uint64_t t = 0; t < segment.count; ++t)
      std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(t * length), length,
                  records[t].values.begin() + static_cast<std::ptrdiff_t>(offset));
    offset += length;
  }
  std::vector<std::uint32_t> status(segment.count);
  h5::read_block(status_set_, {segment.cell, segment.first}, {1, segment.count}, H5T_NATIVE_UINT32,
                 status.data(), transfer_, "reading /records/status", path_);
  for (std::uint64_t t = 0; t < segment.count; ++t) records[t].status = status[t];
  return records;
}

void RecordStore::close() {
  fault_point("store:close");
  field_sets_.clear();
  status_set_.reset();
  done_set_.reset();
  transfer_.reset();
  file_.close("closing the study file", path_);
  if (sync_fd_ >= 0) {
    ::close(sync_fd_);
    sync_fd_ = -1;
  }
}

// ---- collective error propagation ----

void on_root_then_share(MPI_Comm comm, const std::function<void()>& step) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  // code: 0 ok, 1 runtime_error, 2 StoreRefused (+ reason), 3 LockHeld
  int header[2] = {0, 0};
  std::string message;
  if (rank == 0) {
    try {
      step();
    } catch (const StoreRefused& e) {
      header[0] = 2;
      header[1] = static_cast<int>(e.reason());
      message = e.what();
    } catch (const LockHeld& e) {
      header[0] = 3;
      message = e.what();
    } catch (const std::exception& e) {
      header[0] = 1;
      message = e.what();
    }
  }
  MPI_Bcast(header, 2, MPI_INT, 0, comm);
  if (header[0] == 0) return;
  int length = static_cast<int>(message.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm);
  message.resize(static_cast<std::size_t>(length));
  if (length > 0) MPI_Bcast(message.data(), length, MPI_CHAR, 0, comm);
  switch (header[0]) {
    case 2: throw StoreRefused(static_cast<StoreRefused::Reason>(header[1]), message);
    case 3: throw LockHeld(message);
    default: throw std::runtime_error(message);
  }
}

}  // namespace scorefarm::io
