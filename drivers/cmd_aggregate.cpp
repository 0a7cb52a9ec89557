// `scorefarm aggregate out.h5`: percentiles, failure counts, completion and log-log slopes of a
// study file, printed and written to /summary (and optionally to CSV / JSON).
#include <fstream>
#include <iostream>
#include <optional>
#include <sys/stat.h>

#include "command.hpp"
#include "scorefarm/aggregate/h5file.hpp"
#include "scorefarm/aggregate/summary.hpp"
#include "scorefarm/io/journal.hpp"
#include "scorefarm/io/lock_file.hpp"
#include "scorefarm/io/record_store.hpp"

namespace scorefarm::cli {
namespace {

struct AggregateArgs {
  std::string file;
  std::string csv;
  std::string json;
  bool no_write = false;
  bool quiet = false;
  std::size_t replicates = 200;
  std::uint64_t seed = 0;
  bool seed_given = false;
};

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int run_aggregate(const AggregateArgs& args) {
  // Writing /summary: hold the study's lock file for the whole read-compute-write, so that no run
  // writes the file meanwhile (and we never write while a run does). A stale lock (its holder died)
  // is taken over by io::LockFile; a live one is refused.
  std::optional<io::LockFile> lock;
  if (!args.no_write) {
    if (!file_exists(args.file)) throw BadInput(args.file + ": no such file");
    try {
      std::string note;
      lock = io::LockFile::acquire(args.file, &note);
      if (!note.empty()) std::cerr << "scorefarm: " << note << "\n";
    } catch (const io::LockHeld& e) {
      throw BadInput(std::string(e.what()) +
                     "; aggregate after the run ends, or read the records written so far with "
                     "--no-write");
    }
    // An interrupted /runs update of a killed run: complete or discard it before reading.
    const std::string recovered = io::recover_journal(args.file);
    if (!recovered.empty()) std::cerr << "scorefarm: " << recovered << "\n";
  }
  // A corrupted file can crash the HDF5 library (SIGSEGV in H5HG_read, tests/reliability): read all
  // its metadata once in a child process first, so that such a file gets an error, not a crash.
  // (Only HDF5 files: a missing or foreign file gets aggregate's own message.)
  if (io::h5::is_hdf5(args.file)) {
    try {
      io::probe_readable(args.file);
    } catch (const io::StoreRefused& e) {
      throw BadInput(e.what());
    }
  }
  aggregate::AggregateOptions options;
  options.bootstrap_replicates = args.replicates;
  if (args.seed_given) options.bootstrap_seed = args.seed;
  aggregate::Summary summary;
  try {
    summary = aggregate::aggregate_file(args.file, options);
  } catch (const aggregate::InputError& e) {
    throw BadInput(e.what());
  }
  // Output files first: a bad --csv path is reported before /summary is replaced.
  auto open_out = [](const std::string& path) {
    std::ofstream out(path);
    if (!out) throw BadInput("cannot write " + path);
    return out;
  };
  if (!args.csv.empty()) {
    auto out = open_out(args.csv);
    aggregate::write_csv(out, summary);
    if (!out) throw std::runtime_error("error writing " + args.csv);
  }
  if (!args.json.empty()) {
    auto out = open_out(args.json);
    aggregate::write_json(out, summary);
    if (!out) throw std::runtime_error("error writing " + args.json);
  }
  if (!args.no_write) aggregate::write_summary(args.file, summary);
  if (!args.quiet) aggregate::print_table(std::cout, summary);
  if (!args.no_write) std::cout << "\nwrote /summary in " << args.file << "\n";
  return exit_ok;
}

CommandRegistration reg{
    "aggregate",
    "Percentiles, failures, completion and log-log slopes of a study file (writes /summary)",
    [](CLI::App& sub) -> Runner {
      auto args = std::make_shared<AggregateArgs>();
      sub.add_option("file", args->file, "study file written by `scorefarm run`")->required();
      sub.add_option("--csv", args->csv, "also write the results as one CSV table to FILE");
      sub.add_option("--json", args->json, "also write the results as JSON to FILE");
      sub.add_flag("--no-write", args->no_write,
                   "do not write /summary (the file is then opened read-only)");
      sub.add_flag("-q,--quiet", args->quiet, "do not print the table");
      sub.add_option("--bootstrap", args->replicates,
                     "bootstrap replicates for the slope standard errors")
          ->default_val(200)
          ->check(CLI::Range(std::size_t{2}, std::size_t{100000}));
      sub.add_option_function<std::uint64_t>(
          "--bootstrap-seed",
          [args](const std::uint64_t& v) {
            args->seed = v;
            args->seed_given = true;
          },
          "seed of the bootstrap streams (default: the file's seed attribute)");
      return [args] { return run_aggregate(*args); };
    }};

}  // namespace
}  // namespace scorefarm::cli
