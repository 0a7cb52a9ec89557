#pragma once
// Planning a study before running it: sizes, work, and a run-time estimate from a short serial
// calibration run (`scorefarm plan`). Works for every trial kind: it only uses TrialRunner.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "scorefarm/core/trial.hpp"

namespace scorefarm {

struct PlanOptions {
  int ranks = 1;                          // MPI ranks the estimate is for
  bool calibrate = true;                  // false: sizes only, no timing
  double calibration_seconds = 2.0;       // total time budget of the calibration run
  std::size_t max_calibration_cells = 12; // cells timed; the others are fitted
};

struct CellEstimate {
  double cost = 0.0;                  // TrialRunner::cost: sample evaluations per trial
  double seconds_per_trial = 0.0;     // measured, or from the fit t = a + b·cost
  bool measured = false;
  std::uint64_t calibration_trials = 0;
  std::uint64_t calibration_failures = 0;  // trials whose status has a failure bit
};

struct StudyPlan {
  std::size_t cells = 0;
  std::uint64_t trials_per_cell = 0;
  std::uint64_t total_trials = 0;      // cells × trials_per_cell
  double sample_evaluations = 0.0;     // Σ_cells cost × trials_per_cell
  int ranks = 1;
  int workers = 1;                     // worker_count(ranks)
  bool calibrated = false;
  std::vector<CellEstimate> per_cell;
  double fit_overhead_seconds = 0.0;   // a in t = a + b·cost
  double fit_seconds_per_cost = 0.0;   // b
  std::uint64_t calibration_trials = 0;
  std::uint64_t calibration_failures = 0;
  double calibration_wall_seconds = 0.0;
  double serial_seconds = 0.0;         // Σ_cells trials_per_cell × seconds_per_trial
  double estimated_seconds = 0.0;      // serial_seconds / workers
};

// Ranks that compute trials in `scorefarm run -np N`: with N = 1 the single rank is master and
// worker; with N > 1 rank 0 only dispatches and writes, so N − 1 ranks compute.
int worker_count(int ranks);

// The cells timed by the calibration: all of them when there are at most `max_cells`, otherwise
// `max_cells` spread evenly over the cells sorted by cost (the cheapest and dearest included).
std::vector<std::size_t> calibration_cells(const TrialRunner& runner, std::size_t max_cells);

// Sizes always; with options.calibrate, runs trials 0, 1, 2, ... of the calibration cells serially
// in this process (the trials are pure, nothing is written) until each cell's share of the budget
// is spent or all its trials_per_cell trials ran, fits t = a + b·cost to the measured cells (a, b ≥ 0) and extrapolates:
// estimated_seconds = Σ_cells trials × t_cell / workers. At least one trial is always timed.
StudyPlan plan_study(const TrialRunner& runner, const PlanOptions& options);

}  // namespace scorefarm
