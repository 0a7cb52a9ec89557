#pragma once
// The study file: one HDF5 file per study, its layout fixed at creation (brief.md, "HDF5 output
// schema"; README "The output file"). One record per (cell, trial), preallocated, plus a done flag
// per record.
//
// Life of a file, and what survives kill -9 at each step:
//   create_study_file   builds the whole layout in <out>.creating (serial HDF5), fsyncs it and
//                       renames it to <out>. A kill leaves at most <out>.creating, which the next run
//                       deletes (prepare_output) and rebuilds: <out> either does not exist or is whole.
//   begin_run/end_run   the only metadata changes after creation (/runs/<k>), made through the redo
//                       journal of journal.hpp: all or nothing.
//   RecordStore         the run itself (parallel HDF5, MPI-IO, independent writes). Only raw data
//                       is written, at offsets fixed at creation (contiguous, allocated early), so no
//                       HDF5 metadata is ever dirty during a run. Each worker writes its own records:
//                       data fields and status first, then (after fdatasync) the done flags.
//                       A record counts only when done = 1, and done is written after its data, so a
//                       kill at any instant leaves every done = 1 record whole; records killed half
//                       written have done = 0 and are simply recomputed by the rerun, at the same
//                       place, with the same bytes (trials are pure functions).
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "scorefarm/core/trial.hpp"
#include "scorefarm/io/hdf5.hpp"

namespace scorefarm::io {

inline constexpr std::int64_t schema_version = 1;

// What the file records about the study that made it (from the config loader).
struct StudyMetadata {
  std::string kind;                    // "estimator" | "training"
  std::string config_text;             // the config file, verbatim
  std::vector<std::string> overrides;  // --set strings, in order
  std::string effective_yaml;          // canonical YAML after overrides
  std::string hash;                    // 16 hex digits: identifies the study
  std::uint64_t seed = 0;
};

// The existing output cannot be used; it was not modified. The message says why and what to do.
// Drivers map it to exit code 2 (bad input).
class StoreRefused : public std::runtime_error {
 public:
  enum class Reason { not_hdf5, damaged, not_a_study, schema, other_config, layout };
  StoreRefused(Reason reason, const std::string& message) : std::runtime_error(message), reason_(reason) {}
  Reason reason() const { return reason_; }

 private:
  Reason reason_;
};

// A run of trials inside one cell: trials first, first + 1, ..., first + count - 1.
struct Segment {
  std::size_t cell = 0;
  std::uint64_t first = 0;
  std::uint64_t count = 0;
};

// ---- serial steps (one process, holding the lock file) ----

// "<out>.creating"
std::string creating_path(const std::string& path);

// Clears what an interrupted earlier run left: completes or discards a metadata journal and removes
// a half-built <out>.creating. Returns one note per thing done (for the log).
std::vector<std::string> prepare_output(const std::string& path);

// Creates <out> with the full layout (see the top of this file). Throws if <out> exists.
void create_study_file(const std::string& path, const TrialRunner& runner, const StudyMetadata& study);

// Checks, read-only, that <out> is a scorefarm study file of this schema, made from this study
// (config_hash) with the layout this runner expects: record datasets of the right shape, type and
// contiguous storage wholly inside the file (not truncated), /cells equal to this config's cell
// table, /runs readable. Runs in a forked child process (it never touches MPI), so that a file
// corrupted enough to crash the HDF5 library is refused instead. Throws StoreRefused; never
// modifies the file.
void verify_study_file(const std::string& path, const TrialRunner& runner, const StudyMetadata& study);

// Reads, in a forked child process, every piece of HDF5 metadata of `path` a reader may touch: every
// object, every attribute, every variable-length string dataset (their text lives in the global
// heap, where a corrupted file crashed HDF5). Throws StoreRefused(damaged) when HDF5 fails or
// crashes on it; never modifies the file. For readers such as `scorefarm aggregate`.
void probe_readable(const std::string& path);

// Appends /runs/<k> (started, ended "", ranks, trials_completed 0, outcome "running", ...) and
// returns k. Earlier runs still marked "running" (killed runs) are marked "killed".
int begin_run(const std::string& path, int ranks, std::uint64_t trials_done_before);
// Marks every /runs/<k> still "running" as "killed" (their run never reached end_run: under the
// lock file no other run can be alive). Writes, through the journal, only when there is one;
// returns how many were marked. begin_run does the same for the runs before it.
int mark_killed_runs(const std::string& path);
// Fills in /runs/<k> at the end of a run. outcome: "complete" | "incomplete" | "failed".
void end_run(const std::string& path, int run, std::uint64_t trials_completed, const std::string& outcome);

// Number of done records (serial read of /records/done).
std::uint64_t count_done(const std::string& path);

// "2025-01-31T12:34:56Z"
std::string utc_now();
// The first line of MPI_Get_library_version.
std::string mpi_library_version();

// ---- the run: raw records through MPI-IO ----

struct StoreOptions {
  // fdatasync between a chunk's data and its done flags, so that the order also holds across a
  // power loss or node crash, not only a killed process (~1 ms per chunk on a local disk).
  bool sync_before_done = true;
  // Test hook: called with "data" after a chunk's data and status are written, before its done flags.
  std::function<void(const char* stage)> after_stage;
};

class RecordStore {
 public:
  // Collective over `comm`: opens an existing, verified study file for raw reads and writes.
  static RecordStore open(const std::string& path, const TrialRunner& runner, MPI_Comm comm,
                          StoreOptions options = {});
  RecordStore() = default;
  RecordStore(RecordStore&&) noexcept;
  RecordStore& operator=(RecordStore&&) noexcept;
  ~RecordStore();  // closes (best effort; call close() to see errors)

  std::size_t cell_count() const { return n_cells_; }
  std::uint64_t trials_per_cell() const { return n_trials_; }
  const std::string& path() const { return path_; }

  // The whole (n_cells × n_trials) done-flag array, row-major. Independent (any one rank).
  std::vector<std::uint8_t> read_done() const;

  // Writes records[i] for the trials of `segments` in order (Σ count = records.size()): every data
  // field and status, then fdatasync, then the done flags. Independent: only the calling rank.
  void write(const std::vector<Segment>& segments, const std::vector<Record>& records);

  // Reads back the records of one segment (tests, tools). Independent.
  std::vector<Record> read(const Segment& segment) const;

  // Collective close.
  void close();

 private:
  std::string path_;
  std::size_t n_cells_ = 0;
  std::uint64_t n_trials_ = 0;
  std::vector<FieldSpec> fields_;
  std::size_t width_ = 0;
  h5::Handle file_;
  std::vector<h5::Handle> field_sets_;
  h5::Handle status_set_, done_set_, transfer_;
  int sync_fd_ = -1;
  StoreOptions options_;
};

// ---- collective error propagation ----

// Runs `step` on rank 0 of `comm` only and makes every rank of `comm` see its outcome: when it
// throws, every rank throws the same kind of exception (StoreRefused, LockHeld, or
// std::runtime_error) with the same message. Collective.
void on_root_then_share(MPI_Comm comm, const std::function<void()>& step);

}  // namespace scorefarm::io
