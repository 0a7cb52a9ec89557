// The farm (parallel/farm.hpp) under mpiexec -n 3, against the serial reference: HashRunner records
// (tests/io/hash_runner.hpp) are recomputed independently on rank 0 and compared bit for bit with
// what the farm's ranks wrote. Also: stop mid-run and resume, trial errors, every master-work mode,
// a stop notice reaching ranks busy with long trials; training trials stopped mid-way resume from
// their checkpoints to the same records.
#define BOOST_TEST_MODULE farm
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "../io/hash_runner.hpp"
#include "scorefarm/io/record_store.hpp"
#include "scorefarm/parallel/farm.hpp"
#include "scorefarm/parallel/mpi.hpp"
#include "scorefarm/parallel/progress.hpp"
#include "scorefarm/training/training_study.hpp"

namespace fs = std::filesystem;
using namespace scorefarm;
using scorefarm::test::HashRunner;

namespace {

struct MpiFixture {
  MpiFixture() : session(&boost::unit_test::framework::master_test_suite().argc,
                         &boost::unit_test::framework::master_test_suite().argv) {}
  parallel::MpiSession session;
};
BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

int rank() { return parallel::rank_of(MPI_COMM_WORLD); }
int size() { return parallel::size_of(MPI_COMM_WORLD); }

// A fresh study file for `runner`, on every rank's view (the path is rank 0's).
std::string fresh_study(const TrialRunner& runner, const std::string& name) {
  std::string path;
  if (rank() == 0) {
    const fs::path dir = fs::temp_directory_path() / ("scorefarm_test_farm_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    path = (dir / (name + ".h5")).string();
    fs::remove(path);
    io::StudyMetadata meta{"estimator", "text: 1\n", {}, "text: 1\n", "0123456789abcdef", 7};
    io::create_study_file(path, runner, meta);
  }
  return parallel::broadcast(MPI_COMM_WORLD, path);
}

parallel::FarmOptions quiet_options(double chunk_seconds = 0.01) {
  parallel::FarmOptions options;
  options.target_chunk_seconds = chunk_seconds;
  options.progress_out = nullptr;
  options.stop_requested = [] { return false; };
  options.stop_signal = [] { return 0; };
  return options;
}

bool same_bits(const Record& a, const Record& b) {
  return a.status == b.status && a.values.size() == b.values.size() &&
         std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) == 0;
}

// On rank 0: every record with done = 1 equals the serial reference bit for bit, and the number of
// done records; -1 when a done record differs.
long long check_against_reference(const io::RecordStore& store, const TrialRunner& reference) {
  long long done = 0;
  if (rank() != 0) return 0;
  const std::vector<std::uint8_t> flags = store.read_done();
  for (std::size_t cell = 0; cell < store.cell_count(); ++cell) {
    const std::vector<Record> records = store.read({cell, 0, store.trials_per_cell()});
    for (std::uint64_t t = 0; t < store.trials_per_cell(); ++t) {
      const std::uint8_t flag = flags[cell * store.trials_per_cell() + t];
      if (flag != 1) {
        if (flag != 0) return -1;
        continue;
      }
      ++done;
      if (!same_bits(records[t], reference.run(cell, t))) {
        BOOST_TEST_MESSAGE("record (" << cell << ", " << t << ") differs from the reference");
        return -1;
      }
    }
  }
  return done;
}

// A runner that throws on one trial.
class FailingRunner final : public scorefarm::test::ForwardingRunner {
 public:
  using ForwardingRunner::ForwardingRunner;
  Record run(std::size_t cell, std::uint64_t trial) const override {
    if (cell == 1 && trial == 77) throw std::runtime_error("deliberate failure");
    return base_.run(cell, trial);
  }
};

// Counts, on this rank, the trials run_checkpointed() started from a saved state.
class CountingResumes final : public scorefarm::test::ForwardingRunner {
 public:
  using ForwardingRunner::ForwardingRunner;
  std::optional<Record> run_checkpointed(std::size_t cell, std::uint64_t trial,
                                         const std::vector<unsigned char>* state,
                                         CheckpointSink& sink) const override {
    if (state) ++resumed;
    return base_.run_checkpointed(cell, trial, state, sink);
  }
  mutable int resumed = 0;
};

// Training trials of 20,000 GD or SGD iterations (k = d = 2, n = 256), 3 per cell.
TrainingStudy small_training_study() {
  TrainingCell c;
  c.distribution = preset_distribution("gaussian", 2);
  c.k = 2;
  c.n = 256;
  c.n_test = 100;
  c.loss.kind = LossSpec::Kind::G;
  c.loss.mu = 30;
  c.loss.lambda = 10000;
  c.optimiser.kind = OptimiserSpec::Kind::gd;
  c.optimiser.lr = 5e-5;
  c.optimiser.iterations = 20000;
  TrainingCell sgd = c;
  sgd.optimiser.kind = OptimiserSpec::Kind::sgd;
  sgd.optimiser.batch = 32;
  TrainingStudy study;
  study.seed = 424242;
  study.trials = 3;
  study.log_points = 16;
  study.cells = {c, sgd};
  return study;
}

}  // namespace

BOOST_AUTO_TEST_CASE(training_stopped_mid_trial_resumes_from_checkpoints_bit_for_bit) {
  const TrainingRunner training(small_training_study());
  const CountingResumes runner(training);
  const std::string path = fresh_study(runner, "training_checkpoints");
  io::CheckpointFiles files(path, "0123456789abcdef");
  std::uint64_t done_after_stop = 0;
  {
    io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
    parallel::FarmOptions options = quiet_options(0.01);
    options.checkpoints = &files;
    options.checkpoint_seconds = 0.02;
    // Rank 1 "receives a signal" at its 15,000th stop check: 15,000 iterations into its first trial
    // (the sink asks after every iteration); rank 2 gets the stop notice mid-trial or between trials.
    auto checks = std::make_shared<long>(0);
    options.stop_requested = [checks] { return rank() == 1 && ++*checks > 15000; };
    options.stop_signal = [] { return 15; };
    const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, options);
    BOOST_TEST(result.error == "");
    BOOST_TEST(result.stopped);
    BOOST_TEST(!result.complete());
    MPI_Barrier(MPI_COMM_WORLD);
    const long long done = check_against_reference(store, training);
    if (rank() == 0) {
      BOOST_TEST(done == static_cast<long long>(result.completed));
      // Rank 1 was mid-trial: its state is saved (so is rank 2's if it was too), past iteration 0.
      BOOST_TEST(files.count() >= 1u);
      for (std::size_t cell = 0; cell < 2; ++cell)
        for (std::uint64_t t = 0; t < 3; ++t)
          if (auto state = files.load(cell, t)) BOOST_TEST(TrainingCheckpoint::from_bytes(*state).iteration > 0);
    }
    done_after_stop = result.completed;
    store.close();
  }
  const int checkpoints_left = parallel::broadcast(MPI_COMM_WORLD, static_cast<int>(rank() == 0 ? files.count() : 0));
  {
    io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
    parallel::FarmOptions options = quiet_options(0.01);
    options.checkpoints = &files;
    options.checkpoint_seconds = 0.02;
    const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, options);
    BOOST_TEST(result.done_before == done_after_stop);
    BOOST_TEST(result.complete());
    int resumed = 0;
    MPI_Allreduce(&runner.resumed, &resumed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    BOOST_TEST(resumed == checkpoints_left);  // every saved trial resumed, none restarted
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) {
      BOOST_TEST(check_against_reference(store, training) == 6);
      BOOST_TEST(files.count() == 0u);  // removed once their records were written
    }
    store.close();
  }
  if (rank() == 0) BOOST_TEST(files.remove_all());
}

BOOST_AUTO_TEST_CASE(farm_equals_serial_reference_bit_for_bit) {
  BOOST_TEST(size() == 3);
  for (auto mode : {parallel::FarmOptions::MasterWork::automatic, parallel::FarmOptions::MasterWork::always,
                    parallel::FarmOptions::MasterWork::never}) {
    HashRunner runner(5, 997, 3, 20.0);  // 20 µs trials: many chunks of every size
    const std::string path = fresh_study(runner, "reference_" + std::to_string(static_cast<int>(mode)));
    io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
    parallel::FarmOptions options = quiet_options(0.005);
    options.master_work = mode;
    const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, options);
    BOOST_TEST(result.error == "");
    BOOST_TEST(result.total == 5u * 997u);
    BOOST_TEST(result.done_before == 0u);
    BOOST_TEST(result.completed == result.total);
    BOOST_TEST(result.complete());
    BOOST_TEST(!result.stopped);
    BOOST_TEST(result.chunks > 3u);
    if (mode == parallel::FarmOptions::MasterWork::always) BOOST_TEST(result.computing_ranks == 3);
    if (mode == parallel::FarmOptions::MasterWork::never) BOOST_TEST(result.computing_ranks == 2);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) BOOST_TEST(check_against_reference(store, HashRunner(5, 997, 3)) == 5 * 997);
    store.close();
  }
}

BOOST_AUTO_TEST_CASE(every_rank_gets_the_same_result) {
  HashRunner runner(3, 301, 1);
  const std::string path = fresh_study(runner, "same_result");
  io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
  const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, quiet_options());
  unsigned long long mine[3] = {result.completed, result.chunks, result.total};
  unsigned long long low[3], high[3];
  MPI_Allreduce(mine, low, 3, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(mine, high, 3, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
  for (int i = 0; i < 3; ++i) BOOST_TEST(low[i] == high[i]);
  BOOST_TEST(result.completed == 903u);
  // A second farm on the complete file has nothing to do.
  const parallel::FarmResult again = parallel::run_farm(runner, store, MPI_COMM_WORLD, quiet_options());
  BOOST_TEST(again.done_before == 903u);
  BOOST_TEST(again.completed == 0u);
  BOOST_TEST(again.chunks == 0u);
  BOOST_TEST(again.complete());
  store.close();
}

BOOST_AUTO_TEST_CASE(stop_on_one_worker_then_resume_equals_reference) {
  HashRunner runner(4, 2000, 2, 30.0);
  const std::string path = fresh_study(runner, "stop_resume");
  std::uint64_t done_after_stop = 0;
  {
    io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
    parallel::FarmOptions options = quiet_options(0.01);
    // Rank 2 "receives a signal" after its 300th stop check: the others must stop too.
    auto checks = std::make_shared<int>(0);
    options.stop_requested = [checks] { return rank() == 2 && ++*checks > 300; };
    options.stop_signal = [] { return 15; };
    const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, options);
    BOOST_TEST(result.error == "");
    BOOST_TEST(result.stopped);
    BOOST_TEST(result.signal == 15);
    BOOST_TEST(!result.complete());
    BOOST_TEST(result.completed > 0u);
    MPI_Barrier(MPI_COMM_WORLD);
    const long long done = check_against_reference(store, HashRunner(4, 2000, 2));
    if (rank() == 0) BOOST_TEST(done == static_cast<long long>(result.completed));
    done_after_stop = result.completed;
    store.close();
  }
  {
    io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
    const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, quiet_options(0.01));
    BOOST_TEST(result.done_before == done_after_stop);
    BOOST_TEST(result.completed == 8000u - done_after_stop);
    BOOST_TEST(result.complete());
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) BOOST_TEST(check_against_reference(store, HashRunner(4, 2000, 2)) == 8000);
    store.close();
  }
}

BOOST_AUTO_TEST_CASE(stop_on_master_reaches_workers_busy_with_long_chunks) {
  // 2 ms trials, 10 s chunks asked for: the chunks grow 4, 32, 256, 2048 trials (4 s), so at the
  // stop (1 s) both workers are early in a 4 s chunk, which they would finish without the notice.
  HashRunner runner(2, 20000, 1, 2000.0);
  const std::string path = fresh_study(runner, "stop_master");
  io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
  parallel::FarmOptions options = quiet_options(10.0);
  options.master_work = parallel::FarmOptions::MasterWork::never;
  const double start = MPI_Wtime();
  options.stop_requested = [start] { return rank() == 0 && MPI_Wtime() - start > 1.0; };
  options.stop_signal = [] { return 10; };
  const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, options);
  const double seconds = MPI_Wtime() - start;
  BOOST_TEST(result.stopped);
  BOOST_TEST(result.signal == 10);
  BOOST_TEST(!result.complete());
  BOOST_TEST(seconds < 2.5);
  MPI_Barrier(MPI_COMM_WORLD);
  const long long done = check_against_reference(store, HashRunner(2, 20000, 1));
  if (rank() == 0) BOOST_TEST(done == static_cast<long long>(result.completed));
  store.close();
}

BOOST_AUTO_TEST_CASE(a_failing_trial_stops_the_farm_with_its_message) {
  HashRunner base(3, 400, 1, 5.0);
  FailingRunner runner(base);
  const std::string path = fresh_study(runner, "failing");
  io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
  const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, quiet_options(0.002));
  BOOST_TEST(result.error.find("trial 77 of cell 1 failed: deliberate failure") != std::string::npos,
             result.error);
  BOOST_TEST(!result.complete());
  MPI_Barrier(MPI_COMM_WORLD);
  const long long done = check_against_reference(store, HashRunner(3, 400, 1));
  if (rank() == 0) {
    BOOST_TEST(done == static_cast<long long>(result.completed));
    BOOST_TEST(store.read_done()[1 * 400 + 77] == 0);
  }
  store.close();
}

BOOST_AUTO_TEST_CASE(progress_rates_stay_readable_for_slow_trials) {
  BOOST_TEST(parallel::Progress::rate(14704.4) == "14704 trials/s");
  BOOST_TEST(parallel::Progress::rate(2.5) == "2.5 trials/s");
  BOOST_TEST(parallel::Progress::rate(1.0 / 60) == "0.0167 trials/s, 1m00s a trial");
  BOOST_TEST(parallel::Progress::rate(0.0) == "0 trials/s");
  BOOST_TEST(parallel::Progress::duration(3725) == "1h02m");
}
