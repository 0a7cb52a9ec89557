#pragma once
// The master/worker farm: runs every missing trial of a study exactly as TrialRunner::run(cell,
// trial) and has each record written, by the rank that computed it, at its own place in the study
// file. Since every record is a pure function written at a fixed place, the record datasets do not
// depend on the number of ranks, the chunking, the order or on how many resumes it took.
//
// Roles. Rank 0 is the master: it reads the done flags, keeps the list of missing trials and hands
// out chunks on request (sizes from ChunkSizer). Ranks 1..N-1 are workers: request, compute, write,
// request again. The master computes trials itself too, one at a time between looking after the
// workers, as long as a trial is short enough (≤ master_max_trial_seconds) not to delay the
// workers' requests; with N = 1 it is the only rank and does everything. Waiting ranks poll with
// short sleeps (≤ 1 ms) rather than spinning, so an oversubscribed machine is not slowed down.
//
// Stopping. A stop (signal on any rank, or an error) makes the master hand out no more work and
// send every worker a stop notice. A worker checks for the notice (and its own signals) between
// trials, abandons the rest of its chunk, writes the trials it finished and reports. Completed
// trials are never thrown away; the one trial in progress on each rank is. Then every rank returns
// the same FarmResult; the caller closes the file collectively. A checkpointable trial (training) in
// progress is not thrown away but stopped at its next checkpoint point, its state saved
// (FarmOptions::checkpoints), and resumed from there by a later run. No collective call happens while a
// rank may be computing, so no signal pattern can deadlock the job.
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "scorefarm/core/trial.hpp"
#include "scorefarm/io/checkpoint_files.hpp"
#include "scorefarm/io/record_store.hpp"

namespace scorefarm::parallel {

struct FarmOptions {
  double target_chunk_seconds = 1.0;           // work per chunk (see ChunkSizer)
  std::size_t max_chunk_bytes = 64u << 20;     // records held in memory per chunk
  enum class MasterWork { automatic, always, never };
  MasterWork master_work = MasterWork::automatic;
  double master_max_trial_seconds = 0.05;      // automatic: rank 0 computes only trials this short
  // Progress (rank 0). nullptr: silent.
  std::FILE* progress_out = stderr;
  double progress_interval_seconds = 10.0;     // plain lines (not a terminal)
  int progress_live = -1;                      // -1: live line iff progress_out is a terminal
  // Polled between trials on every rank; default: a stop signal was received (StopSignals).
  std::function<bool()> stop_requested;
  std::function<int()> stop_signal;            // which signal (for messages); default StopSignals
  // Called by rank 0 about once a second while the farm runs (e.g. to refresh the lock file).
  std::function<void()> heartbeat;
  // Mid-trial checkpoints of checkpointable runners (TrialRunner::checkpointable; nullptr: none).
  // A rank computing such a trial saves its state every checkpoint_seconds and when a stop arrives
  // (then stops mid-trial); a later run resumes the trial from it. Removed once the record is written.
  io::CheckpointFiles* checkpoints = nullptr;
  double checkpoint_seconds = 60.0;
};

struct FarmResult {
  std::uint64_t total = 0;        // n_cells × n_trials
  std::uint64_t done_before = 0;  // records done when the run started
  std::uint64_t completed = 0;    // records completed by this run (all ranks)
  std::uint64_t chunks = 0;       // chunks handed out (including rank 0's own)
  double seconds = 0.0;           // wall time of the farm
  bool stopped = false;           // a stop was requested (signal)
  int signal = 0;                 // the first stop signal seen, 0 if none
  std::string error;              // first error on any rank ("" if none)
  int computing_ranks = 1;        // ranks that computed trials (rank 0 included when it did)
  std::uint64_t done() const { return done_before + completed; }
  bool complete() const { return done() == total; }
};

// Collective over `comm` (store opened on `comm`). Returns the same result on every rank; never
// throws for trial or write errors (they are in result.error), only for MPI failures.
FarmResult run_farm(const TrialRunner& runner, io::RecordStore& store, MPI_Comm comm,
                    const FarmOptions& options = {});

}  // namespace scorefarm::parallel
