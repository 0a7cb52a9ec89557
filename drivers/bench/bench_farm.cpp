// The farm's plumbing without the maths: how fast the record store writes estimator-sized records,
// and how many chunks (and trials) the master/worker farm moves when the trials do nothing.
//
//   record_write/chunk:K/sync:S   rank 0 alone (MPI_COMM_SELF): RecordStore::write of one chunk of K
//                   consecutive records per iteration, records shaped like the estimator's (h, ess,
//                   err_S2_sp, err_S4_F + status + done: 37 bytes), into a preallocated study file
//                   of 4 x 262144 records. S = 1: fdatasync between data and done flags (the default
//                   of `scorefarm run`); S = 0: without it. Counters records/s and MB/s.
//   farm_noop/cap:C/sync:S/master:M   every rank: run_farm over a fresh study of do-nothing trials
//                   (records cost nothing to compute), timed from the farm's own clock (manual time:
//                   file creation and open/close excluded). C = trials per chunk (max_chunk_bytes
//                   set to C records; 0 = adaptive, chunks grow to 1 s of work, capped at 64 MB).
//                   M = master_work: 0 automatic (N = 1: rank 0 does everything), 2 never (rank 0
//                   only dispatches). Counters chunks/s, trials/s, computing ranks.
//
// The farm benchmarks are collective: run the binary under mpirun, every rank with the same
// arguments. Only rank 0 prints. Examples (as root add --allow-run-as-root; 2-core machine:
// --oversubscribe):
//   mpirun -np 1 build/drivers/scorefarm_bench_farm
//   mpirun -np 3 --oversubscribe build/drivers/scorefarm_bench_farm --benchmark_filter=farm_noop
// Files go to $SCOREFARM_BENCH_DIR (default: $TMPDIR or /tmp), removed at the end. With N = 1 the
// master is the only worker: chunks/s is then the write-bound rate of a single rank. With N > 1
// and master:2, chunks/s is what one master serves to N - 1 workers that each write their own
// chunks; it is a lower bound on the master's dispatch capacity (the workers' writes and fsyncs,
// and on an oversubscribed machine the shared cores, limit it first).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "scorefarm/core/estimator_study.hpp"
#include "scorefarm/io/record_store.hpp"
#include "scorefarm/parallel/farm.hpp"
#include "scorefarm/parallel/mpi.hpp"

namespace {

using namespace scorefarm;
namespace fs = std::filesystem;

std::string g_dir;  // rank 0's scratch folder (broadcast)
int g_rank = 0, g_size = 1;

// The estimator's record layout (the quickstart's fields: h, ess, err_S2_sp, err_S4_F).
std::vector<FieldSpec> estimator_fields() {
  EstimatorStudy study;
  study.trials = 1;
  study.errors = {"S2_sp", "S4_F"};
  EstimatorCell cell;
  cell.distribution = preset_distribution("gaussian", 2);
  cell.n = 100;
  cell.bandwidth.kind = BandwidthRule::Kind::constant;
  cell.bandwidth.value = 0.63;
  cell.query.kind = QueryRule::Kind::fixed;
  cell.query.point = {1.0, 1.0};
  study.cells.push_back(cell);
  return EstimatorRunner(study).fields();
}

// Estimator-shaped records that cost nothing: the plumbing alone.
class NoopRunner final : public TrialRunner {
 public:
  NoopRunner(std::size_t cells, std::uint64_t trials) : cells_(cells), trials_(trials), fields_(estimator_fields()) {}
  std::string kind() const override { return "estimator"; }
  std::vector<FieldSpec> fields() const override { return fields_; }
  std::size_t cell_count() const override { return cells_; }
  std::uint64_t trials_per_cell() const override { return trials_; }
  std::vector<CellColumn> cell_table() const override {
    CellColumn n{"n", false, {}, {}};
    for (std::size_t c = 0; c < cells_; ++c) n.numbers.push_back(100.0);
    return {n};
  }
  double cost(std::size_t) const override { return 1.0; }
  Record run(std::size_t cell, std::uint64_t trial) const override {
    Record r;
    r.status = 0;
    const double base = static_cast<double>(cell * trials_ + trial);
    r.values.reserve(fields_.size());
    for (std::size_t i = 0; i < fields_.size(); ++i) r.values.push_back(base + 0.25 * static_cast<double>(i));
    return r;
  }

 private:
  std::size_t cells_;
  std::uint64_t trials_;
  std::vector<FieldSpec> fields_;
};

io::StudyMetadata bench_metadata() {
  return io::StudyMetadata{"estimator", "bench: farm\n", {}, "bench: farm\n", "00000000bbbbbbbb", 1};
}

std::size_t record_bytes(const TrialRunner& runner) {
  return runner.record_width() * sizeof(double) + sizeof(std::uint32_t) + sizeof(std::uint8_t);
}

// ---- (a) record write throughput, rank 0 alone ----

void BM_record_write(benchmark::State& state) {
  const auto chunk = static_cast<std::uint64_t>(state.range(0));
  const bool sync = state.range(1) != 0;
  const std::size_t cells = 4;
  const std::uint64_t trials = 262144;
  NoopRunner runner(cells, trials);
  const std::string path = g_dir + "/record_write.h5";
  fs::remove(path);
  io::create_study_file(path, runner, bench_metadata());
  io::StoreOptions options;
  options.sync_before_done = sync;
  io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_SELF, options);

  // Precomputed chunks (computing records is not what is measured).
  std::vector<Record> records;
  for (std::uint64_t t = 0; t < chunk; ++t) records.push_back(runner.run(0, t));
  std::uint64_t at = 0;  // position of the next chunk, in records over the whole file
  const std::uint64_t total = cells * trials;
  for (auto _ : state) {
    if (at + chunk > total) at = 0;
    const std::size_t cell = static_cast<std::size_t>(at / trials);
    const std::uint64_t first = at % trials;
    std::vector<io::Segment> segments;
    if (first + chunk <= trials) {
      segments.push_back({cell, first, chunk});
    } else {  // across a cell boundary: two segments
      segments.push_back({cell, first, trials - first});
      segments.push_back({(cell + 1) % cells, 0, chunk - (trials - first)});
    }
    store.write(segments, records);
    at += chunk;
  }
  store.close();
  fs::remove(path);
  const double n = static_cast<double>(state.iterations()) * static_cast<double>(chunk);
  state.counters["records/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["MB/s"] = benchmark::Counter(n * static_cast<double>(record_bytes(runner)) / 1e6,
                                              benchmark::Counter::kIsRate);
  state.counters["bytes/record"] = static_cast<double>(record_bytes(runner));
}

// ---- (b) farm dispatch with do-nothing trials, every rank ----

void BM_farm_noop(benchmark::State& state) {
  const auto cap = static_cast<std::uint64_t>(state.range(0));
  const bool sync = state.range(1) != 0;
  const auto master = static_cast<parallel::FarmOptions::MasterWork>(state.range(2));
  // Enough trials for about a second at the expected rate (fsync per chunk: ~1-2 ms).
  std::uint64_t trials = cap == 0 ? 2000000 : cap == 1 ? (sync ? 1500 : 20000) : (sync ? 100000 : 400000);
  NoopRunner runner(1, trials);
  const std::string path = g_dir + "/farm_noop.h5";
  double seconds = 0, chunks = 0, completed = 0, computing = 0;
  for (auto _ : state) {
    if (g_rank == 0) {
      fs::remove(path);
      io::create_study_file(path, runner, bench_metadata());
    }
    MPI_Barrier(MPI_COMM_WORLD);
    io::StoreOptions store_options;
    store_options.sync_before_done = sync;
    io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD, store_options);
    parallel::FarmOptions options;
    options.progress_out = nullptr;
    options.master_work = master;
    options.target_chunk_seconds = 1.0;
    if (cap > 0) options.max_chunk_bytes = cap * (runner.record_width() * sizeof(double) + sizeof(Record));
    options.stop_requested = [] { return false; };
    options.stop_signal = [] { return 0; };
    const parallel::FarmResult result = parallel::run_farm(runner, store, MPI_COMM_WORLD, options);
    store.close();
    if (!result.error.empty() || !result.complete()) {
      state.SkipWithError(("farm: " + result.error).c_str());
      break;
    }
    state.SetIterationTime(result.seconds);
    seconds += result.seconds;
    chunks += static_cast<double>(result.chunks);
    completed += static_cast<double>(result.completed);
    computing = result.computing_ranks;
  }
  if (g_rank == 0) fs::remove(path);
  state.counters["chunks/s"] = seconds > 0 ? chunks / seconds : 0.0;
  state.counters["trials/s"] = seconds > 0 ? completed / seconds : 0.0;
  state.counters["trials/chunk"] = chunks > 0 ? completed / chunks : 0.0;
  state.counters["computing"] = computing;
  state.counters["ranks"] = g_size;
}

class NullReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

// Waits for every rank at a barrier without spinning (Open MPI's blocking barrier busy-polls, which
// would steal a core from rank 0 while it measures alone).
void quiet_barrier() {
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  for (;;) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

int main(int argc, char** argv) {
  parallel::MpiSession session(&argc, &argv);
  g_rank = session.rank();
  g_size = session.size();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::string dir;
  if (g_rank == 0) {
    const char* base = std::getenv("SCOREFARM_BENCH_DIR");
    const fs::path root = base && *base ? fs::path(base) : fs::temp_directory_path();
    dir = (root / ("scorefarm_bench_farm_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
  }
  g_dir = parallel::broadcast(MPI_COMM_WORLD, dir);

  benchmark::ConsoleReporter console;
  NullReporter silent;
  benchmark::BenchmarkReporter* reporter = g_rank == 0 ? static_cast<benchmark::BenchmarkReporter*>(&console)
                                                       : &silent;

  // Phase 1: rank 0 alone (the others wait without spinning).
  if (g_rank == 0) {
    benchmark::RegisterBenchmark("record_write", BM_record_write)
        ->ArgNames({"chunk", "sync"})
        ->ArgsProduct({{1, 16, 256, 4096}, {1, 0}})
        ->MinTime(0.5);
    benchmark::RunSpecifiedBenchmarks(reporter);
    benchmark::ClearRegisteredBenchmarks();
  }
  quiet_barrier();

  // Phase 2: every rank, the same benchmarks in the same order (collective).
  const std::vector<int64_t> masters =
      g_size == 1 ? std::vector<int64_t>{0} : std::vector<int64_t>{0, 2};
  benchmark::RegisterBenchmark("farm_noop", BM_farm_noop)
      ->ArgNames({"cap", "sync", "master"})
      ->ArgsProduct({{1, 64, 0}, {1, 0}, masters})
      ->Iterations(3)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks(reporter);
  benchmark::Shutdown();

  MPI_Barrier(MPI_COMM_WORLD);
  if (g_rank == 0) fs::remove_all(g_dir);
  return 0;
}
