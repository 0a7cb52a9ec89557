#pragma once
// The master's bookkeeping: which (cell, trial) records are still missing, and how big a chunk of
// them each worker gets.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "scorefarm/io/record_store.hpp"

namespace scorefarm::parallel {

struct Chunk {
  std::vector<io::Segment> segments;
  std::uint64_t trials() const;
  double cost = 0.0;  // Σ TrialRunner::cost over its trials
  bool empty() const { return segments.empty(); }
};

// The records whose done flag is not 1, in (cell, trial) order, handed out front to back.
class WorkList {
 public:
  // `done`: n_cells × n_trials flags, row-major. `cost(cell)`: work units of one trial (> 0).
  WorkList(const std::vector<std::uint8_t>& done, std::size_t n_cells, std::uint64_t n_trials,
           const std::function<double(std::size_t)>& cost);

  bool empty() const { return remaining_trials_ == 0; }
  std::uint64_t remaining_trials() const { return remaining_trials_; }
  double remaining_cost() const { return remaining_cost_; }

  // The next trials, as many as fit in `cost_budget` (at least one when any remain), at most
  // `max_trials`, spanning at most `max_segments` runs.
  Chunk take(double cost_budget, std::uint64_t max_trials, std::size_t max_segments = 64);

 private:
  std::vector<io::Segment> runs_;  // maximal runs of missing trials
  std::vector<double> cell_cost_;
  std::size_t next_ = 0;           // first run not fully handed out
  std::uint64_t offset_ = 0;       // trials of runs_[next_] already handed out
  std::uint64_t remaining_trials_ = 0;
  double remaining_cost_ = 0.0;
};

// Adaptive chunk sizes. Each computing rank's throughput (cost units per second) is measured from
// its finished chunks; its next chunk is sized for `target_seconds` of work, so that the master
// answers about one request per worker per target_seconds — never a bottleneck (see the dispatch
// benchmark) — while a stop signal is honoured within about that time. Bounds:
//   - the first chunk is a probe of a few trials (nothing is known yet);
//   - a chunk grows at most 8x over the previous one of that rank (no overshoot on noisy timings);
//   - never more than remaining_cost / (4 · computing ranks): the tail stays short, since the last
//     chunks shrink as the work runs out and every rank finishes within about one small chunk;
//   - at most `max_trials` (memory: records of a chunk are held until written).
class ChunkSizer {
 public:
  ChunkSizer(int ranks, double target_seconds, std::uint64_t max_trials);
  // Budget (cost units) and trial cap of the next chunk of `rank`.
  double budget(int rank, double remaining_cost, int computing_ranks) const;
  std::uint64_t max_trials(int rank) const;
  // A finished chunk of `rank`: `cost` units in `seconds`.
  void record(int rank, double cost, std::uint64_t trials, double seconds);
  double rate(int rank) const { return state_[static_cast<std::size_t>(rank)].rate; }

  static constexpr std::uint64_t probe_trials = 4;
  static constexpr double growth = 8.0;
  static constexpr double tail_factor = 4.0;

 private:
  struct State {
    double rate = 0.0;  // cost units per second, 0 = unknown
    double last_cost = 0.0;
    std::uint64_t last_trials = 0;
  };
  std::vector<State> state_;
  double target_seconds_;
  std::uint64_t max_trials_;
};

}  // namespace scorefarm::parallel
