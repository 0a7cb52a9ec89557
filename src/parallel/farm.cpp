// The master/worker farm (farm.hpp).
//
// Protocol, on a private duplicate of the caller's communicator (so that no message of the caller
// can ever match ours):
//   worker -> master  tag_request  Report (+ error text): what the worker's last chunk achieved
//                                  (trials written, their cost, compute seconds, a signal seen, an
//                                  error) and, implicitly, a request for the next chunk.
//   master -> worker  tag_chunk    [flags, n, (cell, first, count) × n]: the next chunk, or with
//                                  flag_final set, "no more work": the worker leaves the farm.
//                                  flag_stop_sent tells that a stop notice was sent before it.
//   master -> worker  tag_stop     sent once, during a stop, to every worker that holds a chunk.
// A worker only ever waits for the master (which answers between trials of its own, each short by
// construction), and the master never waits for anyone: every wait is MPI_Iprobe + a short sleep.
// The only collective calls (Comm_dup at the start, the result broadcast and Comm_free at the end)
// happen when no rank computes.
#include "scorefarm/parallel/farm.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "scorefarm/io/fault.hpp"
#include "scorefarm/parallel/mpi.hpp"
#include "scorefarm/parallel/progress.hpp"
#include "scorefarm/parallel/signals.hpp"
#include "scorefarm/parallel/work_list.hpp"

namespace scorefarm::parallel {

namespace {

using clock = std::chrono::steady_clock;

constexpr int tag_request = 101;
constexpr int tag_chunk = 102;
constexpr int tag_stop = 103;

constexpr std::uint64_t flag_final = 1;
constexpr std::uint64_t flag_stop_sent = 2;

constexpr auto master_idle_sleep = std::chrono::microseconds(200);
constexpr auto worker_wait_sleep = std::chrono::microseconds(100);
constexpr double stop_poll_seconds = 0.001;  // a worker probes for the stop notice this often

double since(clock::time_point start) { return std::chrono::duration<double>(clock::now() - start).count(); }

// Sent as raw bytes: every rank runs the same executable.
struct Report {
  std::uint64_t trials = 0;  // trials of the last chunk written (they count now)
  double cost = 0.0;         // their cost units
  double seconds = 0.0;      // compute seconds spent on them
  std::int32_t signal = 0;   // a stop signal this worker saw (0: none)
  std::int32_t has_error = 0;
};

std::vector<std::uint64_t> encode(const Chunk& chunk, std::uint64_t flags) {
  std::vector<std::uint64_t> out{flags, chunk.segments.size()};
  for (const io::Segment& s : chunk.segments) {
    out.push_back(s.cell);
    out.push_back(s.first);
    out.push_back(s.count);
  }
  return out;
}

// The first `trials` trials of `segments`.
std::vector<io::Segment> prefix(const std::vector<io::Segment>& segments, std::uint64_t trials) {
  std::vector<io::Segment> out;
  for (const io::Segment& s : segments) {
    if (trials == 0) break;
    const std::uint64_t take = std::min(trials, s.count);
    out.push_back({s.cell, s.first, take});
    trials -= take;
  }
  return out;
}

// The trials of `segments` after the first `trials`.
std::vector<io::Segment> suffix(const std::vector<io::Segment>& segments, std::uint64_t trials) {
  std::vector<io::Segment> out;
  for (const io::Segment& s : segments) {
    if (trials >= s.count) {
      trials -= s.count;
      continue;
    }
    out.push_back({s.cell, s.first + trials, s.count - trials});
    trials = 0;
  }
  return out;
}

std::string trial_error(std::size_t cell, std::uint64_t trial, const std::string& what) {
  return "trial " + std::to_string(trial) + " of cell " + std::to_string(cell) + " failed: " + what;
}

// The CheckpointSink of one rank (FarmOptions::checkpoints): runs a checkpointable trial from its
// saved state, if any, and answers the trial at each checkpoint point: stop (when `stop` says so:
// the state is saved first), save (every checkpoint_seconds), or go on.
class Checkpointer final : public CheckpointSink {
 public:
  Checkpointer(const FarmOptions& options, int rank, std::function<bool()> stop)
      : files_(options.checkpoints),
        interval_(options.checkpoint_seconds),
        log_(options.progress_out),
        rank_(rank),
        stop_(std::move(stop)) {}

  bool applies_to(const TrialRunner& runner) const { return files_ != nullptr && runner.checkpointable(); }

  // nullopt: stopped at a checkpoint point, its state saved. `had_state`: a checkpoint file of this
  // trial exists now or existed (to be removed once the record is written).
  std::optional<Record> run(const TrialRunner& runner, std::size_t cell, std::uint64_t trial, bool& had_state) {
    cell_ = cell;
    trial_ = trial;
    last_save_ = clock::now();
    saved_ = false;
    std::string note;
    const std::optional<std::vector<unsigned char>> state = files_->load(cell, trial, &note);
    if (!note.empty()) say(note);
    if (state) say("trial " + std::to_string(trial) + " of cell " + std::to_string(cell) + " resumes from its checkpoint");
    std::optional<Record> record = runner.run_checkpointed(cell, trial, state ? &*state : nullptr, *this);
    had_state = state.has_value() || saved_;
    return record;
  }

  Action at_checkpoint() override {
    if (stop_()) return Action::save_and_stop;
    if (since(last_save_) >= interval_) return Action::save;
    return Action::go_on;
  }

  void save(const std::vector<unsigned char>& state) override {
    last_save_ = clock::now();
    try {
      files_->save(cell_, trial_, state);
      saved_ = true;
      io::fault_point("farm:checkpoint-saved");
    } catch (const std::exception& e) {
      // A checkpoint is an optimisation: the trial goes on, and a stop before the next good save
      // only costs the trial's progress, never a record.
      if (!warned_) say(std::string("warning: ") + e.what() + " (the trial goes on without checkpoints)");
      warned_ = true;
    }
  }

  void forget(const std::vector<std::pair<std::size_t, std::uint64_t>>& trials) const {
    for (const auto& [cell, trial] : trials) files_->remove(cell, trial);
  }

 private:
  void say(const std::string& text) const {
    if (log_) std::fprintf(log_, "scorefarm: rank %d: %s\n", rank_, text.c_str());
  }

  io::CheckpointFiles* files_;
  double interval_;
  std::FILE* log_;
  int rank_;
  std::function<bool()> stop_;
  std::size_t cell_ = 0;
  std::uint64_t trial_ = 0;
  clock::time_point last_save_;
  bool saved_ = false, warned_ = false;
};

// A chunk being computed one trial at a time (the master's own, and the worker's).
struct Computation {
  std::vector<io::Segment> segments;
  double cost_per_trial_sum = 0.0;  // cost of the finished trials
  std::size_t segment = 0;
  std::uint64_t offset = 0;
  std::vector<Record> records;
  double seconds = 0.0;  // compute time of the finished trials
  std::vector<std::pair<std::size_t, std::uint64_t>> checkpointed;  // finished trials with a checkpoint file

  bool active() const { return !segments.empty(); }
  bool finished() const { return segment >= segments.size(); }
  std::uint64_t done() const { return records.size(); }
  void start(std::vector<io::Segment> s) {
    segments = std::move(s);
    segment = 0;
    offset = 0;
    records.clear();
    checkpointed.clear();
    cost_per_trial_sum = 0.0;
    seconds = 0.0;
    while (segment < segments.size() && segments[segment].count == 0) ++segment;
  }
  std::size_t next_cell() const { return segments[segment].cell; }
  // Computes the next trial, through `checkpointer` when it applies. Returns false when the trial
  // stopped at a checkpoint (it stays the next one). Throws what the runner throws (located).
  bool step(const TrialRunner& runner, Checkpointer* checkpointer) {
    const io::Segment& s = segments[segment];
    const std::uint64_t trial = s.first + offset;
    const auto t0 = clock::now();
    try {
      if (checkpointer && checkpointer->applies_to(runner)) {
        bool had_state = false;
        std::optional<Record> record = checkpointer->run(runner, s.cell, trial, had_state);
        if (!record) return false;
        if (had_state) checkpointed.emplace_back(s.cell, trial);
        records.push_back(std::move(*record));
      } else {
        records.push_back(runner.run(s.cell, trial));
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(trial_error(s.cell, trial, e.what()));
    } catch (...) {
      throw std::runtime_error(trial_error(s.cell, trial, "unknown exception"));
    }
    seconds += since(t0);
    cost_per_trial_sum += runner.cost(s.cell);
    if (++offset == s.count) {
      offset = 0;
      ++segment;
      while (segment < segments.size() && segments[segment].count == 0) ++segment;
    }
    return true;
  }
  // Writes the finished trials; returns how many now count. Throws on write errors. Their
  // checkpoints are removed once the records are written (and only then).
  std::uint64_t write(io::RecordStore& store, const Checkpointer* checkpointer) {
    const std::uint64_t n = done();
    if (n > 0) store.write(prefix(segments, n), records);
    if (checkpointer) checkpointer->forget(checkpointed);
    return n;
  }
  void clear() { start({}); }
};

struct ResultWire {
  std::uint64_t total, done_before, completed, chunks;
  double seconds;
  std::int32_t stopped, signal, computing_ranks, pad;
};

FarmResult share_result(MPI_Comm comm, const FarmResult& mine) {
  ResultWire wire{mine.total,
                  mine.done_before,
                  mine.completed,
                  mine.chunks,
                  mine.seconds,
                  mine.stopped ? 1 : 0,
                  mine.signal,
                  mine.computing_ranks,
                  0};
  check(MPI_Bcast(&wire, sizeof wire, MPI_BYTE, 0, comm), "MPI_Bcast (farm result)");
  FarmResult out;
  out.total = wire.total;
  out.done_before = wire.done_before;
  out.completed = wire.completed;
  out.chunks = wire.chunks;
  out.seconds = wire.seconds;
  out.stopped = wire.stopped != 0;
  out.signal = wire.signal;
  out.computing_ranks = wire.computing_ranks;
  out.error = broadcast(comm, mine.error, 0);
  return out;
}

// ---- worker ----

void run_worker(const TrialRunner& runner, io::RecordStore& store, MPI_Comm comm, const FarmOptions& options,
                const std::function<bool()>& stop_requested, const std::function<int()>& stop_signal) {
  Report report;
  std::string error;
  bool stop_notice = false;
  Computation work;
  auto last_probe = clock::now();
  // Between trials, and inside a checkpointable trial at its checkpoint points.
  auto should_stop = [&]() -> bool {
    if (stop_notice) return true;
    if (stop_requested()) {
      report.signal = stop_signal();
      if (report.signal == 0) report.signal = -1;  // a stop without a signal number
      return true;
    }
    if (since(last_probe) >= stop_poll_seconds) {
      last_probe = clock::now();
      int flag = 0;
      check(MPI_Iprobe(0, tag_stop, comm, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe (stop)");
      if (flag) {
        check(MPI_Recv(nullptr, 0, MPI_BYTE, 0, tag_stop, comm, MPI_STATUS_IGNORE), "MPI_Recv (stop)");
        stop_notice = true;
        return true;
      }
    }
    return false;
  };
  Checkpointer checkpointer(options, rank_of(comm), should_stop);
  for (;;) {
    // Report the last chunk and ask for the next.
    std::vector<char> message(sizeof(Report) + error.size());
    report.has_error = error.empty() ? 0 : 1;
    std::memcpy(message.data(), &report, sizeof report);
    std::memcpy(message.data() + sizeof report, error.data(), error.size());
    check(MPI_Send(message.data(), static_cast<int>(message.size()), MPI_BYTE, 0, tag_request, comm),
          "MPI_Send (request)");
    report = Report{};
    error.clear();

    // Wait for the answer (and take a stop notice that may come first).
    std::vector<std::uint64_t> answer;
    for (;;) {
      int flag = 0;
      MPI_Status status;
      check(MPI_Iprobe(0, MPI_ANY_TAG, comm, &flag, &status), "MPI_Iprobe");
      if (!flag) {
        std::this_thread::sleep_for(worker_wait_sleep);
        continue;
      }
      if (status.MPI_TAG == tag_stop) {
        check(MPI_Recv(nullptr, 0, MPI_BYTE, 0, tag_stop, comm, MPI_STATUS_IGNORE), "MPI_Recv (stop)");
        stop_notice = true;
        continue;
      }
      int count = 0;
      check(MPI_Get_count(&status, MPI_UINT64_T, &count), "MPI_Get_count");
      answer.resize(static_cast<std::size_t>(count));
      check(MPI_Recv(answer.data(), count, MPI_UINT64_T, 0, tag_chunk, comm, MPI_STATUS_IGNORE),
            "MPI_Recv (chunk)");
      break;
    }
    const std::uint64_t flags = answer.at(0);
    if (flags & flag_final) {
      if ((flags & flag_stop_sent) && !stop_notice)
        check(MPI_Recv(nullptr, 0, MPI_BYTE, 0, tag_stop, comm, MPI_STATUS_IGNORE), "MPI_Recv (stop)");
      return;
    }
    std::vector<io::Segment> segments(answer.at(1));
    for (std::size_t i = 0; i < segments.size(); ++i)
      segments[i] = {static_cast<std::size_t>(answer.at(2 + 3 * i)), answer.at(3 + 3 * i), answer.at(4 + 3 * i)};

    // Compute, checking for a stop between trials.
    work.start(std::move(segments));
    last_probe = clock::now();
    while (!work.finished()) {
      if (should_stop()) break;
      try {
        if (!work.step(runner, &checkpointer)) break;  // stopped mid-trial, its state saved
      } catch (const std::exception& e) {
        error = e.what();
        break;
      }
    }
    // Write what is finished: completed trials are never thrown away.
    try {
      report.trials = work.write(store, &checkpointer);
      report.cost = work.cost_per_trial_sum;
      report.seconds = work.seconds;
    } catch (const std::exception& e) {
      report.trials = 0;
      report.cost = 0.0;
      report.seconds = 0.0;
      if (error.empty()) error = std::string("writing records: ") + e.what();
    }
    work.clear();
  }
}

// ---- master ----

class Master {
 public:
  Master(const TrialRunner& runner, io::RecordStore& store, MPI_Comm comm, const FarmOptions& options,
         std::function<bool()> stop_requested, std::function<int()> stop_signal)
      : runner_(runner),
        store_(store),
        comm_(comm),
        options_(options),
        stop_requested_(std::move(stop_requested)),
        stop_signal_(std::move(stop_signal)),
        size_(size_of(comm)),
        n_cells_(store.cell_count()),
        n_trials_(store.trials_per_cell()),
        list_(store.read_done(), n_cells_, n_trials_, [&](std::size_t cell) { return runner.cost(cell); }),
        sizer_(size_, options.target_chunk_seconds, max_chunk_trials(runner, options)),
        busy_(static_cast<std::size_t>(size_), false),
        stop_sent_(static_cast<std::size_t>(size_), false),
        computed_(static_cast<std::size_t>(size_), 0),
        checkpointer_(options, 0, [this] { return stopping_ || stop_requested_(); }) {
    result_.total = static_cast<std::uint64_t>(n_cells_) * n_trials_;
    result_.done_before = result_.total - list_.remaining_trials();
    max_cost_ = 0.0;
    for (std::size_t c = 0; c < n_cells_; ++c) {
      const double cost = runner.cost(c);
      max_cost_ = std::max(max_cost_, std::isfinite(cost) && cost > 0 ? cost : 1.0);
    }
    active_workers_ = size_ - 1;
  }

  FarmResult run() {
    const auto start = clock::now();
    Progress progress(options_.progress_out, result_.total, result_.done_before,
                      options_.progress_interval_seconds, options_.progress_live);
    auto last_heartbeat = start;
    for (;;) {
      if (!stopping_ && stop_requested_()) begin_stop(stop_signal_());
      if (stopping_) notify_workers();

      bool handled = false;
      for (;;) {
        int flag = 0;
        MPI_Status status;
        check(MPI_Iprobe(MPI_ANY_SOURCE, tag_request, comm_, &flag, &status), "MPI_Iprobe (requests)");
        if (!flag) break;
        serve(status);
        handled = true;
      }
      if (since(last_heartbeat) >= 1.0) {
        last_heartbeat = clock::now();
        if (options_.heartbeat) options_.heartbeat();
      }
      progress.update(result_.done_before + result_.completed);

      if (stopping_ && own_.active()) flush_own();
      if (active_workers_ == 0 && !own_.active() && (stopping_ || no_work_left())) break;

      if (!stopping_ && own_.active()) {
        compute_one();
      } else if (!stopping_ && master_should_compute() && !no_work_left()) {
        Chunk chunk = next_chunk(0);
        if (!chunk.empty()) {
          ++result_.chunks;
          own_.start(chunk.segments);
          compute_one();
        }
      } else if (!handled) {
        std::this_thread::sleep_for(master_idle_sleep);
      }
    }
    result_.seconds = since(start);
    int computing = 0;
    for (std::uint64_t n : computed_) computing += n > 0 ? 1 : 0;
    result_.computing_ranks = std::max(computing, 1);
    progress.finish(result_.done_before + result_.completed);
    return result_;
  }

 private:
  static std::uint64_t max_chunk_trials(const TrialRunner& runner, const FarmOptions& options) {
    const std::size_t bytes = runner.record_width() * sizeof(double) + sizeof(Record);
    return std::max<std::uint64_t>(1, options.max_chunk_bytes / std::max<std::size_t>(bytes, 1));
  }

  bool no_work_left() const { return list_.empty() && returned_.empty(); }

  int computing_ranks() const { return (size_ - 1) + (master_computes_ ? 1 : 0); }

  void begin_stop(int signal) {
    if (stopping_) return;
    stopping_ = true;
    result_.stopped = true;
    result_.signal = signal;
  }

  void fail(const std::string& error) {
    if (result_.error.empty()) result_.error = error;
    stopping_ = true;
  }

  void notify_workers() {
    for (int r = 1; r < size_; ++r) {
      const auto i = static_cast<std::size_t>(r);
      if (busy_[i] && !stop_sent_[i]) {
        check(MPI_Send(nullptr, 0, MPI_BYTE, r, tag_stop, comm_), "MPI_Send (stop)");
        stop_sent_[i] = true;
      }
    }
  }

  // Automatic: rank 0 computes when a trial is short enough not to delay the workers' requests,
  // judged from the measured rates (its own, else the workers'), for the dearest cell.
  bool master_should_compute() {
    if (size_ == 1) return master_computes_ = true;
    switch (options_.master_work) {
      case FarmOptions::MasterWork::always: return master_computes_ = true;
      case FarmOptions::MasterWork::never: return master_computes_ = false;
      case FarmOptions::MasterWork::automatic: break;
    }
    if (master_disabled_) return master_computes_ = false;
    double rate = sizer_.rate(0);
    if (rate <= 0) {
      double sum = 0.0;
      int known = 0;
      for (int r = 1; r < size_; ++r)
        if (sizer_.rate(r) > 0) {
          sum += sizer_.rate(r);
          ++known;
        }
      if (known == 0) return master_computes_ = false;  // nothing measured yet: serve first
      rate = sum / known;
    }
    master_computes_ = max_cost_ / rate <= options_.master_max_trial_seconds;
    return master_computes_;
  }

  Chunk next_chunk(int rank) {
    if (!returned_.empty()) {
      Chunk chunk = std::move(returned_.back());
      returned_.pop_back();
      return chunk;
    }
    return list_.take(sizer_.budget(rank, list_.remaining_cost(), computing_ranks()), sizer_.max_trials(rank));
  }

  void compute_one() {
    const auto t0 = clock::now();
    try {
      if (!own_.step(runner_, &checkpointer_)) {  // stopped mid-trial, its state saved
        flush_own();
        return;
      }
    } catch (const std::exception& e) {
      fail(e.what());
      flush_own();
      return;
    }
    const double seconds = since(t0);
    // Only while a worker is still in the farm to take the rest: once every worker has been let go
    // (the work list ran dry while rank 0 held its chunk), returned trials would wait forever for
    // a taker, and rank 0, disabled, would never compute them (a hang at the end of the run).
    if (size_ > 1 && options_.master_work == FarmOptions::MasterWork::automatic &&
        seconds > options_.master_max_trial_seconds && active_workers_ > 0) {
      // Too slow to share with dispatching: give the rest of the chunk to the workers.
      master_disabled_ = true;
      master_computes_ = false;
      Chunk rest;
      rest.segments = suffix(own_.segments, own_.done());
      for (const auto& s : rest.segments) rest.cost += runner_.cost(s.cell) * static_cast<double>(s.count);
      if (!rest.segments.empty()) returned_.push_back(std::move(rest));
      flush_own();
      return;
    }
    if (own_.finished()) flush_own();
  }

  // Writes rank 0's finished trials and drops the rest of its chunk.
  void flush_own() {
    try {
      const std::uint64_t n = own_.write(store_, &checkpointer_);
      result_.completed += n;
      computed_[0] += n;
      sizer_.record(0, own_.cost_per_trial_sum, n, own_.seconds);
    } catch (const std::exception& e) {
      fail(std::string("writing records: ") + e.what());
    }
    own_.clear();
  }

  void serve(const MPI_Status& status) {
    const int source = status.MPI_SOURCE;
    const auto i = static_cast<std::size_t>(source);
    int count = 0;
    check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    std::vector<char> message(static_cast<std::size_t>(count));
    check(MPI_Recv(message.data(), count, MPI_BYTE, source, tag_request, comm_, MPI_STATUS_IGNORE),
          "MPI_Recv (request)");
    Report report;
    std::memcpy(&report, message.data(), sizeof report);
    busy_[i] = false;
    if (report.trials > 0) {
      result_.completed += report.trials;
      computed_[i] += report.trials;
      sizer_.record(source, report.cost, report.trials, report.seconds);
    }
    if (report.has_error)
      fail("rank " + std::to_string(source) + ": " +
           std::string(message.data() + sizeof report, message.size() - sizeof report));
    if (report.signal != 0) begin_stop(report.signal > 0 ? report.signal : 0);

    Chunk chunk;
    if (!stopping_) chunk = next_chunk(source);
    std::uint64_t flags = 0;
    if (chunk.empty()) {
      flags = flag_final | (stop_sent_[i] ? flag_stop_sent : 0);
      --active_workers_;
    } else {
      ++result_.chunks;
      busy_[i] = true;
    }
    const std::vector<std::uint64_t> wire = encode(chunk, flags);
    check(MPI_Send(wire.data(), static_cast<int>(wire.size()), MPI_UINT64_T, source, tag_chunk, comm_),
          "MPI_Send (chunk)");
    if (!chunk.empty()) io::fault_point("farm:chunk-sent");
  }

  const TrialRunner& runner_;
  io::RecordStore& store_;
  MPI_Comm comm_;
  const FarmOptions& options_;
  std::function<bool()> stop_requested_;
  std::function<int()> stop_signal_;
  int size_;
  std::size_t n_cells_;
  std::uint64_t n_trials_;
  WorkList list_;
  ChunkSizer sizer_;
  std::vector<Chunk> returned_;  // rank 0's abandoned trials, handed out before the list
  std::vector<bool> busy_, stop_sent_;
  std::vector<std::uint64_t> computed_;
  int active_workers_ = 0;
  bool stopping_ = false;
  bool master_computes_ = false;
  bool master_disabled_ = false;
  double max_cost_ = 1.0;
  Computation own_;
  Checkpointer checkpointer_;
  FarmResult result_;
};

// Answers every worker's first request with "no more work" (the master could not start).
void release_workers(MPI_Comm comm) {
  const int size = size_of(comm);
  for (int released = 1; released < size; ++released) {
    MPI_Status status;
    for (;;) {
      int flag = 0;
      check(MPI_Iprobe(MPI_ANY_SOURCE, tag_request, comm, &flag, &status), "MPI_Iprobe (requests)");
      if (flag) break;
      std::this_thread::sleep_for(master_idle_sleep);
    }
    int count = 0;
    check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    std::vector<char> message(static_cast<std::size_t>(count));
    check(MPI_Recv(message.data(), count, MPI_BYTE, status.MPI_SOURCE, tag_request, comm, MPI_STATUS_IGNORE),
          "MPI_Recv (request)");
    const std::vector<std::uint64_t> wire = encode(Chunk{}, flag_final);
    check(MPI_Send(wire.data(), static_cast<int>(wire.size()), MPI_UINT64_T, status.MPI_SOURCE, tag_chunk, comm),
          "MPI_Send (chunk)");
  }
}

}  // namespace

FarmResult run_farm(const TrialRunner& runner, io::RecordStore& store, MPI_Comm comm, const FarmOptions& options) {
  std::function<bool()> stop_requested = options.stop_requested;
  if (!stop_requested) stop_requested = [] { return StopSignals::requested(); };
  std::function<int()> stop_signal = options.stop_signal;
  if (!stop_signal) stop_signal = [] { return StopSignals::signal_number(); };

  MPI_Comm farm = MPI_COMM_NULL;
  check(MPI_Comm_dup(comm, &farm), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(farm, MPI_ERRORS_RETURN);
  FarmResult mine;
  try {
    if (rank_of(farm) == 0) {
      std::unique_ptr<Master> master;
      try {
        master = std::make_unique<Master>(runner, store, farm, options, stop_requested, stop_signal);
      } catch (const MpiError&) {
        throw;
      } catch (const std::exception& e) {
        // E.g. the done flags cannot be read: no work is handed out, every worker is let go.
        mine.error = std::string("reading the done flags: ") + e.what();
        release_workers(farm);
      }
      if (master) mine = master->run();
    } else {
      run_worker(runner, store, farm, options, stop_requested, stop_signal);
    }
  } catch (const MpiError&) {
    MPI_Comm_free(&farm);
    throw;
  }
  FarmResult result = share_result(farm, mine);
  MPI_Comm_free(&farm);
  return result;
}

}  // namespace scorefarm::parallel
