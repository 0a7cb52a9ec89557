// Rank 0 as a computing master (FarmOptions::MasterWork::automatic) at the end of a run, under
// mpiexec -n 3. Regression test for a hang found while benchmarking the farm:
//
//   rank 0 computes its own chunks while its trials are short (<= master_max_trial_seconds). When
//   one of its trials takes longer, it gives the rest of its chunk back for the workers. If the
//   work list had already run dry while rank 0 held its chunk, every worker had been let go, so the
//   returned trials had no taker, and rank 0 (now "disabled") never computed them: the farm waited
//   forever. A slow node, an oversubscribed core or any stall of rank 0 near the end of a run was
//   enough. Now rank 0 keeps its chunk when no worker is left to take it.
//
// The scenario, made deterministic: rank 0's trials are fast for its first two chunks (so its third
// chunk is big, 256 trials), then take 5 ms (still below the 50 ms limit: it keeps computing), so
// the two fast workers drain the list and are released long before rank 0 finishes; then one of
// rank 0's trials stalls for 70 ms. A watchdog ends the test with a message instead of hanging.
#define BOOST_TEST_MODULE farm_master
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "../io/hash_runner.hpp"
#include "scorefarm/io/record_store.hpp"
#include "scorefarm/parallel/farm.hpp"
#include "scorefarm/parallel/mpi.hpp"

namespace fs = std::filesystem;
using namespace scorefarm;
using scorefarm::test::HashRunner;
using steady = std::chrono::steady_clock;

namespace {

struct MpiFixture {
  MpiFixture()
      : session(&boost::unit_test::framework::master_test_suite().argc,
                &boost::unit_test::framework::master_test_suite().argv) {}
  parallel::MpiSession session;
};
BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

int rank() { return parallel::rank_of(MPI_COMM_WORLD); }

// Ends the process (and so the job) with a message when not disarmed within `seconds`.
class Watchdog {
 public:
  Watchdog(double seconds, std::string what)
      : thread_([this, seconds, what = std::move(what), me = rank()] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; })) {
            std::fprintf(stderr, "test_farm_master: rank %d: %s: still running after %.0f s (hang)\n",
                         me, what.c_str(), seconds);
            std::fflush(stderr);
            std::_Exit(3);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// HashRunner records; on rank 0 the trial times described at the top of this file.
class SlowMasterRunner final : public scorefarm::test::ForwardingRunner {
 public:
  SlowMasterRunner(const HashRunner& base, int rank) : ForwardingRunner(base), rank_(rank) {}
  Record run(std::size_t cell, std::uint64_t trial) const override {
    if (rank_ == 0 && ++calls_ > 36) {  // past the probe (4) and the second chunk (32)
      if (slow_since_ == steady::time_point{}) slow_since_ = steady::now();
      const bool stall = !stalled_ && steady::now() - slow_since_ > std::chrono::milliseconds(800);
      stalled_ = stalled_ || stall;
      std::this_thread::sleep_for(std::chrono::milliseconds(stall ? 70 : 5));
    }
    return base_.run(cell, trial);
  }
  bool stalled() const { return stalled_; }

 private:
  int rank_;
  mutable int calls_ = 0;
  mutable steady::time_point slow_since_{};
  mutable bool stalled_ = false;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_stall_of_the_computing_master_after_the_workers_left_does_not_hang_the_farm) {
  BOOST_REQUIRE(parallel::size_of(MPI_COMM_WORLD) == 3);
  HashRunner base(1, 6000, 1, 20.0);  // 20 us trials on the workers
  SlowMasterRunner runner(base, rank());
  std::string path;
  if (rank() == 0) {
    const fs::path dir = fs::temp_directory_path() / ("scorefarm_test_farm_master_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    path = (dir / "study.h5").string();
    fs::remove(path);
    io::create_study_file(path, runner, {"estimator", "t: 1\n", {}, "t: 1\n", "0123456789abcdef", 1});
  }
  path = parallel::broadcast(MPI_COMM_WORLD, path);
  io::StoreOptions store_options;
  store_options.sync_before_done = false;  // the disk's speed is not what this test is about
  io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD, store_options);
  parallel::FarmOptions options;
  options.progress_out = nullptr;
  options.target_chunk_seconds = 1.0;
  options.master_work = parallel::FarmOptions::MasterWork::automatic;
  options.stop_requested = [] { return false; };
  options.stop_signal = [] { return 0; };
  parallel::FarmResult result;
  {
    Watchdog watchdog(30.0, "run_farm");
    result = parallel::run_farm(runner, store, MPI_COMM_WORLD, options);
  }
  BOOST_TEST(result.error == "");
  BOOST_TEST(result.complete());
  BOOST_TEST(result.completed == 6000u);
  BOOST_TEST(result.computing_ranks == 3);
  if (rank() == 0) BOOST_TEST(runner.stalled());  // the scenario happened
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) {
    const std::vector<std::uint8_t> done = store.read_done();
    const std::vector<Record> records = store.read({0, 0, 6000});
    long long bad = 0;
    for (std::uint64_t t = 0; t < 6000; ++t) {
      const Record expected = base.run(0, t);
      if (done[t] != 1 || records[t].status != expected.status ||
          std::memcmp(records[t].values.data(), expected.values.data(), expected.values.size() * sizeof(double)) != 0)
        ++bad;
    }
    BOOST_TEST(bad == 0);
  }
  store.close();
  if (rank() == 0) fs::remove_all(fs::path(path).parent_path());
}
