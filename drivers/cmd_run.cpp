// scorefarm run study.yaml -o out.h5 [--set k=v]... [--chunk-seconds S] [--quiet]
// Under any `mpirun -np N` (N = 1 included, or no mpirun at all). Computes every missing record of
// the study into out.h5 (created if missing, resumed if it holds records of the same study).
//
//   1. rank 0 loads and validates the config: a ConfigError ends the run here (exit 2), before
//      anything is written or even opened; every rank then loads the same text;
//   2. rank 0 checks the output folder, takes out.h5.lock (a live holder -> refused, exit 2; a dead
//      one's stale lock is taken over), clears what a killed run left (prepare_output), creates or
//      verifies the study file (another study's file -> refused, exit 2, file untouched) and
//      appends /runs/<k>;
//   3. all ranks open the record store and run the farm (parallel/farm.hpp);
//   4. close, /runs/<k> gets its outcome; exit 0 complete, 75 stopped by SIGTERM/SIGUSR1/SIGINT
//      (rerun the same command to resume), 1 on error. Training trials in progress at a stop are
//      saved in <out>.checkpoints/ and resumed mid-trial by the rerun (io/checkpoint_files.hpp);
//      the folder goes once the study is complete.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "scorefarm/io/checkpoint_files.hpp"
#include "scorefarm/io/fault.hpp"
#include "scorefarm/io/lock_file.hpp"
#include "scorefarm/io/record_store.hpp"
#include "scorefarm/parallel/farm.hpp"
#include "scorefarm/parallel/mpi.hpp"
#include "scorefarm/parallel/progress.hpp"
#include "scorefarm/parallel/signals.hpp"
#include "scorefarm/study/study_config.hpp"

namespace scorefarm::cli {
namespace {

struct RunArgs {
  std::string config;
  std::string output;
  std::vector<std::string> overrides;
  double chunk_seconds = 1.0;
  double checkpoint_seconds = 60.0;
  bool quiet = false;
};

// An outcome every rank agrees on: exit code and the message rank 0 prints.
struct Shared {
  int code = exit_ok;
  std::string message;
};

// Runs `step` on rank 0; every rank of `comm` gets its outcome. Collective.
Shared on_root(MPI_Comm comm, const std::function<void()>& step) {
  Shared out;
  if (parallel::rank_of(comm) == 0) {
    try {
      step();
    } catch (const ConfigError& e) {
      out = {exit_bad_input, e.what()};
    } catch (const io::StoreRefused& e) {
      out = {exit_bad_input, e.what()};
    } catch (const io::LockHeld& e) {
      out = {exit_bad_input, e.what()};
    } catch (const BadInput& e) {
      out = {exit_bad_input, e.what()};
    } catch (const std::exception& e) {
      out = {exit_error, e.what()};
    }
  }
  out.code = parallel::broadcast(comm, out.code);
  if (out.code != exit_ok) out.message = parallel::broadcast(comm, out.message);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += item + '\n';
  return text;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> items;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    items.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return items;
}

// The canonical YAML has the seed on a top-level line "seed: <integer>".
std::uint64_t seed_of(const std::string& effective_yaml) {
  std::size_t at = 0;
  while (at < effective_yaml.size()) {
    std::size_t end = effective_yaml.find('\n', at);
    if (end == std::string::npos) end = effective_yaml.size();
    const std::string line = effective_yaml.substr(at, end - at);
    if (line.rfind("seed:", 0) == 0) return std::strtoull(line.c_str() + 5, nullptr, 10);
    at = end + 1;
  }
  return 0;
}

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Clear messages for an output that cannot be written, before any work is spent on it.
void check_output_path(const std::string& output) {
  if (output.empty()) throw BadInput("-o: empty output path");
  const std::string folder = folder_of(output);
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0)
    throw BadInput("output folder " + folder + " of " + output + ": " + std::strerror(errno) +
                   " (create it first)");
  if (!S_ISDIR(st.st_mode)) throw BadInput("output folder " + folder + " of " + output + " is not a folder");
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    throw BadInput("output folder " + folder + " is not writable (" + std::strerror(errno) +
                   "): choose another -o");
  if (::stat(output.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw BadInput(output + " is a folder; -o names the study file (.h5)");
    if (::access(output.c_str(), R_OK | W_OK) != 0)
      throw BadInput(output + " exists but is not writable (" + std::string(std::strerror(errno)) +
                     "): cannot resume into it");
  }
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

int run_study(const RunArgs& args) {
  parallel::MpiSession session;
  parallel::StopSignals signals;
  const MPI_Comm comm = session.world();
  const int rank = session.rank();
  const int size = session.size();
  auto say = [&](const std::string& text) {
    if (rank == 0) std::fprintf(stderr, "scorefarm: %s\n", text.c_str());
  };
  auto fail = [&](const Shared& shared) {
    if (rank == 0) std::fprintf(stderr, "scorefarm: error: %s\n", shared.message.c_str());
    return shared.code;
  };

  try {
    // 1. The config, validated before any file is touched.
    LoadedStudy study;
    Shared step = on_root(comm, [&] { study = load_study_file(args.config, args.overrides); });
    if (step.code != exit_ok) return fail(step);
    const std::string text = parallel::broadcast(comm, study.text);
    const std::string overrides = parallel::broadcast(comm, join(study.overrides));
    const std::string hash = parallel::broadcast(comm, study.hash);
    if (rank != 0) {
      try {
        study = load_study_text(text, args.config, split(overrides));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "scorefarm: error: rank %d: %s\n", rank, e.what());
        session.abort(exit_error);  // cannot happen: rank 0 loaded the same text
      }
      if (study.hash != hash) {
        std::fprintf(stderr, "scorefarm: error: rank %d loaded config hash %s, rank 0 %s\n", rank,
                     study.hash.c_str(), hash.c_str());
        session.abort(exit_error);
      }
    }
    const TrialRunner& runner = *study.runner;
    const std::uint64_t total = static_cast<std::uint64_t>(runner.cell_count()) * runner.trials_per_cell();

    // 2. The output: lock, recovery, creation or verification, /runs/<k>. Rank 0 only.
    std::optional<io::LockFile> lock;
    int run_index = -1;
    std::uint64_t done_before = 0;
    bool created = false;
    step = on_root(comm, [&] {
      check_output_path(args.output);
      std::string note;
      lock = io::LockFile::acquire(args.output, &note);
      if (!note.empty()) say(note);
      io::fault_point("run:locked");
      for (const std::string& n : io::prepare_output(args.output)) say(n);
      io::StudyMetadata metadata;
      metadata.kind = study.kind;
      metadata.config_text = study.text;
      metadata.overrides = study.overrides;
      metadata.effective_yaml = study.effective_yaml;
      metadata.hash = study.hash;
      metadata.seed = seed_of(study.effective_yaml);
      if (file_exists(args.output)) {
        io::verify_study_file(args.output, runner, metadata);
      } else {
        io::create_study_file(args.output, runner, metadata);
        created = true;
      }
      done_before = io::count_done(args.output);
      if (done_before < total) {
        try {
          run_index = io::begin_run(args.output, size, done_before);
        } catch (const std::exception& e) {
          throw std::runtime_error(std::string(e.what()) + ". Recording this run in /runs of " + args.output +
                                   " failed before any trial was computed; the file is unchanged. Fix the "
                                   "problem (e.g. free disk space) and rerun the same command");
        }
      } else {
        io::mark_killed_runs(args.output);  // a run killed after its last record, before end_run
      }
    });
    if (step.code != exit_ok) return fail(step);
    {
      unsigned long long wire[2] = {done_before, created ? 1ull : 0ull};
      parallel::check(MPI_Bcast(wire, 2, MPI_UNSIGNED_LONG_LONG, 0, comm), "MPI_Bcast");
      done_before = wire[0];
      created = wire[1] != 0;
    }
    if (done_before == total) {
      if (!args.quiet)
        say(fmt::format("{} is complete ({} records of config {}): nothing to do", args.output, total,
                        study.hash));
      return exit_ok;
    }
    if (!args.quiet)
      say(fmt::format("{} {}: {} cells x {} trials, {} done before, {} rank{}, config {}", args.output,
                      created ? "created" : "resumed", runner.cell_count(), runner.trials_per_cell(),
                      done_before, size, size == 1 ? "" : "s", study.hash));

    // 3. The farm.
    std::string error;
    parallel::FarmResult result;
    std::optional<io::CheckpointFiles> checkpoints;
    {
      io::RecordStore store;
      int opened = 1;
      try {
        store = io::RecordStore::open(args.output, runner, comm);
      } catch (const std::exception& e) {
        opened = 0;
        error = fmt::format("rank {}: opening {} for the run: {}", rank, args.output, e.what());
      }
      int all_opened = 0;
      parallel::check(MPI_Allreduce(&opened, &all_opened, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
      if (all_opened) {
        io::fault_point("run:opened");
        parallel::FarmOptions options;
        options.target_chunk_seconds = args.chunk_seconds;
        options.progress_out = args.quiet ? nullptr : stderr;
        options.heartbeat = [&lock] {
          if (lock) lock->refresh();
        };
        if (runner.checkpointable()) {
          checkpoints.emplace(args.output, study.hash);
          options.checkpoints = &*checkpoints;
          options.checkpoint_seconds = args.checkpoint_seconds;
        }
        result = parallel::run_farm(runner, store, comm, options);
        if (!result.error.empty()) error = result.error;
        try {
          store.close();
        } catch (const std::exception& e) {
          if (error.empty()) error = fmt::format("rank {}: closing {}: {}", rank, args.output, e.what());
        }
      } else if (error.empty()) {
        error = "another rank could not open " + args.output;
      }
    }
    // Every rank's error reaches rank 0 (the first one in rank order).
    int failed_rank = error.empty() ? size : rank;
    int first = size;
    parallel::check(MPI_Allreduce(&failed_rank, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
    if (first < size && first != 0) {
      if (rank == first) {
        const int length = static_cast<int>(error.size());
        parallel::check(MPI_Send(&length, 1, MPI_INT, 0, 7, comm), "MPI_Send");
        parallel::check(MPI_Send(error.data(), length, MPI_CHAR, 0, 8, comm), "MPI_Send");
      } else if (rank == 0) {
        int length = 0;
        parallel::check(MPI_Recv(&length, 1, MPI_INT, first, 7, comm, MPI_STATUS_IGNORE), "MPI_Recv");
        error.assign(static_cast<std::size_t>(length), '\0');
        parallel::check(MPI_Recv(error.data(), length, MPI_CHAR, first, 8, comm, MPI_STATUS_IGNORE), "MPI_Recv");
      }
    }

    // 4. The outcome, in /runs/<k> and in the exit code.
    const bool complete = error.empty() && result.complete();
    if (complete && checkpoints && rank == 0 && !checkpoints->remove_all())
      say("note: could not remove every file of " + checkpoints->folder() + " (no longer needed)");
    const std::string outcome = !error.empty() ? "failed" : complete ? "complete" : "incomplete";
    if (rank == 0) io::fault_point("run:before-end");
    step = on_root(comm, [&] { io::end_run(args.output, run_index, result.completed, outcome); });
    if (rank == 0) io::fault_point("run:after-end");
    if (rank == 0) lock.reset();  // releases the lock file
    if (!error.empty()) {
      say("error: " + error);
      say(fmt::format("{}/{} records are done in {}; fix the problem and rerun the same command to "
                      "resume", result.done(), total, args.output));
      return exit_error;
    }
    if (step.code != exit_ok) {
      if (rank == 0)
        std::fprintf(stderr,
                     "scorefarm: error: %s\nscorefarm: every finished record is written (%llu/%llu done "
                     "in %s); only the /runs bookkeeping of this run failed. Fix the problem (e.g. free disk "
                     "space) and rerun the same command\n",
                     step.message.c_str(), static_cast<unsigned long long>(result.done()),
                     static_cast<unsigned long long>(total), args.output.c_str());
      return step.code;
    }
    const double rate = result.seconds > 0 ? static_cast<double>(result.completed) / result.seconds : 0.0;
    if (complete) {
      if (!args.quiet)
        say(fmt::format("complete: {} ({} records; this run {} in {} with {} computing rank{}, {}, {} chunks)",
                        args.output, total, result.completed, parallel::Progress::duration(result.seconds),
                        result.computing_ranks, result.computing_ranks == 1 ? "" : "s",
                        parallel::Progress::rate(rate), result.chunks));
      return exit_ok;
    }
    say(fmt::format("stopped by {}: {}/{} records done in {} (this run {}); rerun the same command to "
                    "resume",
                    parallel::signal_name(result.signal), result.done(), total, args.output, result.completed));
    return exit_incomplete;
  } catch (const parallel::MpiError& e) {
    std::fprintf(stderr, "scorefarm: error: rank %d: %s\n", rank, e.what());
    session.abort(exit_error);
  }
}

CommandRegistration registration{
    "run",
    "Run (or resume) a study under mpirun: every missing record into the study file. Exit 0 "
    "complete, 75 stopped by a signal (rerun to resume), 2 bad input, 1 error",
    [](CLI::App& sub) -> Runner {
      auto args = std::make_shared<RunArgs>();
      sub.add_option("config", args->config, "Study config (YAML)")->required();
      sub.add_option("-o,--output", args->output,
                     "Study file (HDF5): created if missing, resumed if it holds this study")
          ->required();
      sub.add_option("--set", args->overrides,
                     "Override a scalar of the config by dotted path, e.g. --set trials=100 (repeatable; "
                     "part of the study's identity: a resume needs the same --set options)");
      sub.add_option("--chunk-seconds", args->chunk_seconds,
                     "Work per chunk handed to a rank; also about how long a stop takes (default 1)")
          ->check(CLI::Range(1e-3, 3600.0));
      sub.add_option("--checkpoint-seconds", args->checkpoint_seconds,
                     "Training trials: save a trial's state this often (and at a stop) in "
                     "<output>.checkpoints/, so that a rerun resumes it mid-trial (default 60)")
          ->check(CLI::Range(0.0, 1e9));
      sub.add_flag("--quiet,-q", args->quiet, "No progress or summary lines (errors only)");
      return [args] { return run_study(*args); };
    }};

}  // namespace
}  // namespace scorefarm::cli
