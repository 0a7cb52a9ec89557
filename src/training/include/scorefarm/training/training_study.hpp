#pragma once
// The `training` trial kind (paper §3–4, SPEC §6): a cell is one setting (input distribution,
// teacher, loss, optimiser); a trial is one seed, which fixes the teacher (when drawn per trial),
// the data and the initialisation. Analogous to EstimatorStudy / EstimatorRunner in core.
//
// Randomness of trial t of a cell (all scorefarm::Stream, counter-based):
//   Stream(seed, data_key,    t, 0)        training inputs, then labels' noise
//   Stream(seed, data_key,    t, 1)        initial A (Gaussian rows normalised to unit length)
//   Stream(seed, teacher_key, t or 0, 2)   teacher A*, w* (t for per: trial, 0 for per: cell)
//   Stream(seed, data_key,    t, 3)        test inputs and their noise
//   Stream(seed, data_key,    t, 16 + s)   minibatch of SGD step s
// data_key hashes only the data-defining settings (distribution, d, k, teacher), not the cell
// index: cells that differ only in loss or optimiser see the same teacher, data and initial A for
// the same trial, so their curves are paired comparisons (n and n_test only set how many points are
// drawn from those streams: a smaller n takes the first points of a larger one). Records depend only on
// (seed, cell settings, trial): never on the rank or the order in which trials are run.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/trial.hpp"
#include "scorefarm/training/training_spec.hpp"

namespace scorefarm {

// The mid-trial state of a long training run, so that a stopped job resumes mid-trial. Resuming
// from a checkpoint gives the same Record, bit for bit, as an uninterrupted run: the data are
// regenerated from the seed and SGD minibatches are keyed by the step number, so (A, w, step,
// partial record) is the whole state.
struct TrainingCheckpoint {
  std::uint64_t cell = 0;
  std::uint64_t trial = 0;
  std::int64_t iteration = 0;     // updates done
  std::uint32_t status = 0;
  std::vector<double> A;          // k x d, row-major
  std::vector<double> w;          // k
  std::vector<double> record;     // full record width; entries not yet logged are NaN
  std::vector<unsigned char> to_bytes() const;
  // Throws std::invalid_argument on a truncated or corrupt buffer.
  static TrainingCheckpoint from_bytes(const std::vector<unsigned char>& bytes);
};

class TrainingRunner final : public TrialRunner {
 public:
  explicit TrainingRunner(TrainingStudy study);  // validates; throws std::invalid_argument
  std::string kind() const override { return "training"; }
  // Series of length log_points: iteration, loss, e_A, e_A_strict, e_match, e_match_mean, test_l2.
  // Scalars: loss_final, e_A_final, e_A_strict_final, e_match_final, e_match_mean_final,
  // test_l2_final, iterations_done, sign (the data-part sign used: ±1; 0 for l2).
  std::vector<FieldSpec> fields() const override;
  std::size_t cell_count() const override { return study_.cells.size(); }
  std::uint64_t trials_per_cell() const override { return study_.trials; }
  std::vector<CellColumn> cell_table() const override;
  double cost(std::size_t cell) const override;
  Record run(std::size_t cell, std::uint64_t trial) const override;

  // Checkpoints: the sink is asked after every iteration (the state is k x d + k + record width
  // doubles, TrainingCheckpoint::to_bytes). A resumed trial regenerates its data from the seed.
  bool checkpointable() const override { return true; }
  std::optional<Record> run_checkpointed(std::size_t cell, std::uint64_t trial,
                                         const std::vector<unsigned char>* state,
                                         CheckpointSink& sink) const override;

  const TrainingStudy& study() const { return study_; }
  // The iterations at which series are logged for `cell` (log_points distinct values, 0 and last).
  std::vector<std::int64_t> log_iterations(std::size_t cell) const;
  // The data-part sign a cell uses (+1 or −1; 0 for l2), `automatic` resolved.
  int resolved_sign(std::size_t cell) const;

 private:
  std::optional<Record> train(std::size_t cell, std::uint64_t trial, const TrainingCheckpoint* resume,
                              CheckpointSink* sink) const;

  TrainingStudy study_;
  std::vector<int> signs_;                                    // per cell
  std::vector<std::unique_ptr<Distribution>> distributions_;  // per cell
  std::vector<std::uint64_t> data_keys_, teacher_keys_;       // per cell
};

}  // namespace scorefarm
