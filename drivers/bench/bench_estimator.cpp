// Throughput of the paper's estimator trial (issue "Estimator core", Measure): d = 2, n = 10^4,
// Gaussian input, constant h = 0.63 at x = (1, 1), errors S2_sp and S4_F (paper Figure 1).
//
//   runner_trial    the full EstimatorRunner::run(cell, trial): Philox draws, Box-Muller, the
//                   weights, two centred passes, the 2x2 solve, S2/S4 and both error norms.
//                   Counter trials/s; reference: vectorised numpy ~1,400 trials/s per core.
//   sample          the n draws of the trial alone (Distribution::sample, 2n normals).
//   llsfe2_inner    llsfe2 on pre-drawn data: weights (one exp each) + two centred passes + solve.
//   floor_normals_exp   2n standard normals (Stream::fill_normal) plus one exp per sample: what any
//                   implementation of this trial must at least do with these generators.
//   floor_bits_exp  2n raw Philox words plus one exp per sample (no Box-Muller).
//   philox_words / normals   the generator stages alone (2n words; 2n normals).
//   kde_inner / kde_runner_trial   the plug-in KDE baseline, same data, same h.
// The custom main prints the ratios (trial vs floor, vs numpy's 1,400/s) after the table.
//
//   scorefarm_bench_estimator --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "../../src/core/fast_math.hpp"  // the exp the estimator uses (header-only, core-private)
#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/estimator_study.hpp"
#include "scorefarm/core/kde.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/rng.hpp"

namespace {

using namespace scorefarm;

constexpr std::int64_t n_samples = 10000;
constexpr double h_fig1 = 0.63;
constexpr int n_sets = 16;
constexpr double numpy_trials_per_s = 1400.0;

EstimatorRunner make_runner(const std::string& estimator) {
  EstimatorStudy study;
  study.seed = 20190416;
  study.trials = 1u << 30;
  study.errors = {"S2_sp", "S4_F"};
  EstimatorCell cell;
  cell.distribution = preset_distribution("gaussian", 2);
  cell.n = n_samples;
  cell.estimator.name = estimator;
  cell.bandwidth.kind = BandwidthRule::Kind::constant;
  cell.bandwidth.value = h_fig1;
  cell.query.kind = QueryRule::Kind::fixed;
  cell.query.point = {1.0, 1.0};
  study.cells.push_back(cell);
  return EstimatorRunner(study);
}

const std::vector<Eigen::MatrixXd>& data_sets() {
  static std::vector<Eigen::MatrixXd> sets;
  if (sets.empty()) {
    const auto dist = make_distribution(preset_distribution("gaussian", 2));
    for (int k = 0; k < n_sets; ++k) {
      Eigen::MatrixXd X(2, n_samples);
      Stream s(7, 0, static_cast<std::uint64_t>(k), 0);
      dist->sample(s, X);
      sets.push_back(std::move(X));
    }
  }
  return sets;
}

void set_rates(benchmark::State& state) {
  state.counters["trials/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["samples/s"] =
      benchmark::Counter(double(n_samples) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_runner_trial(benchmark::State& state) {
  const EstimatorRunner runner = make_runner("llsfe");
  std::uint64_t trial = 0;
  double failed = 0;
  for (auto _ : state) {
    Record r = runner.run(0, trial++);
    failed += (r.status & status::failure_mask) ? 1 : 0;
    benchmark::DoNotOptimize(r.values.data());
  }
  set_rates(state);
  state.counters["failed"] = failed;
}
BENCHMARK(BM_runner_trial);

void BM_sample(benchmark::State& state) {
  const auto dist = make_distribution(preset_distribution("gaussian", 2));
  Eigen::MatrixXd X(2, n_samples);
  std::uint64_t trial = 0;
  for (auto _ : state) {
    Stream s(1, 0, trial++, substream_data);
    dist->sample(s, X);
    benchmark::DoNotOptimize(X.data());
  }
  set_rates(state);
}
BENCHMARK(BM_sample);

void BM_llsfe2_inner(benchmark::State& state) {
  const auto& sets = data_sets();
  const Eigen::Vector2d x(1.0, 1.0);
  std::size_t k = 0;
  for (auto _ : state) {
    Estimate e = llsfe2(sets[k++ % n_sets], x, h_fig1);
    benchmark::DoNotOptimize(e.log_derivs.G2.data());
  }
  set_rates(state);
}
BENCHMARK(BM_llsfe2_inner);

// 2n normals + n exps into a buffer: the least work of one trial with these generators.
void BM_floor_normals_exp(benchmark::State& state) {
  std::vector<double> z(2 * n_samples), w(n_samples);
  const double f = 0.5 / (h_fig1 * h_fig1);
  std::uint64_t trial = 0;
  for (auto _ : state) {
    Stream s(1, 0, trial++, substream_data);
    s.fill_normal(z.data(), z.size());
    for (std::int64_t i = 0; i < n_samples; ++i) {
      const double a = z[2 * i] - 1.0, b = z[2 * i + 1] - 1.0;
      w[i] = fast::exp_nonpositive(-(a * a + b * b) * f);
    }
    benchmark::DoNotOptimize(w.data());
  }
  set_rates(state);
}
BENCHMARK(BM_floor_normals_exp);

// 2n raw Philox words + n exps: the floor without Box-Muller.
void BM_floor_bits_exp(benchmark::State& state) {
  std::vector<std::uint64_t> bits(2 * n_samples);
  std::vector<double> w(n_samples);
  std::uint64_t trial = 0;
  for (auto _ : state) {
    Stream s(1, 0, trial++, substream_data);
    s.fill_bits(bits.data(), bits.size());
    for (std::int64_t i = 0; i < n_samples; ++i)
      w[i] = fast::exp_nonpositive(-fast::uniform_from_bits(bits[2 * i] ^ bits[2 * i + 1]) * 4.0);
    benchmark::DoNotOptimize(w.data());
  }
  set_rates(state);
}
BENCHMARK(BM_floor_bits_exp);

// The two generator stages alone: 2n Philox words; 2n normals (Philox + Box-Muller).
void BM_philox_words(benchmark::State& state) {
  std::vector<std::uint64_t> bits(2 * n_samples);
  std::uint64_t trial = 0;
  for (auto _ : state) {
    Stream s(1, 0, trial++, substream_data);
    s.fill_bits(bits.data(), bits.size());
    benchmark::DoNotOptimize(bits.data());
  }
  set_rates(state);
}
BENCHMARK(BM_philox_words);

void BM_normals(benchmark::State& state) {
  std::vector<double> z(2 * n_samples);
  std::uint64_t trial = 0;
  for (auto _ : state) {
    Stream s(1, 0, trial++, substream_data);
    s.fill_normal(z.data(), z.size());
    benchmark::DoNotOptimize(z.data());
  }
  set_rates(state);
}
BENCHMARK(BM_normals);

void BM_kde_inner(benchmark::State& state) {
  const auto& sets = data_sets();
  const Eigen::Vector2d x(1.0, 1.0);
  std::size_t k = 0;
  for (auto _ : state) {
    KdeEstimate e = kde_scores(sets[k++ % n_sets], x, h_fig1);
    benchmark::DoNotOptimize(e.scores.S2.data());
  }
  set_rates(state);
}
BENCHMARK(BM_kde_inner);

void BM_kde_runner_trial(benchmark::State& state) {
  const EstimatorRunner runner = make_runner("kde");
  std::uint64_t trial = 0;
  for (auto _ : state) {
    Record r = runner.run(0, trial++);
    benchmark::DoNotOptimize(r.values.data());
  }
  set_rates(state);
}
BENCHMARK(BM_kde_runner_trial);

// Console output as usual, and the trials/s of each benchmark kept for the ratio summary.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> rate;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration && r.aggregate_name != "mean") continue;
      const auto it = r.counters.find("trials/s");
      if (it != r.counters.end()) rate[r.benchmark_name()] = it->second.value;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  auto get = [&](const std::string& prefix) {
    for (const auto& [name, v] : reporter.rate)
      if (name.rfind(prefix, 0) == 0) return v;
    return 0.0;
  };
  const double trial = get("BM_runner_trial"), sample = get("BM_sample"), inner = get("BM_llsfe2_inner"),
               floor_n = get("BM_floor_normals_exp"), floor_b = get("BM_floor_bits_exp"),
               kde = get("BM_kde_runner_trial");
  std::printf("\nn = %lld, d = 2, h = %.2f, x = (1, 1)\n", static_cast<long long>(n_samples), h_fig1);
  if (trial > 0) {
    std::printf("llsfe2 trial:        %10.0f trials/s  = %6.1fx numpy's %.0f/s (target >= 20x)\n", trial,
                trial / numpy_trials_per_s, numpy_trials_per_s);
    if (floor_n > 0)
      std::printf("floor normals+exp:   %10.0f trials/s; trial time / floor time = %.2f\n", floor_n, floor_n / trial);
    if (floor_b > 0)
      std::printf("floor bits+exp:      %10.0f trials/s; trial time / floor time = %.2f\n", floor_b, floor_b / trial);
    if (sample > 0 && inner > 0)
      std::printf("share of the trial:  sampling %.0f%%, llsfe2 inner loop %.0f%%, rest %.0f%%\n",
                  100 * trial / sample, 100 * trial / inner, 100 * (1 - trial / sample - trial / inner));
    if (inner > 0)
      std::printf("llsfe2 inner loop:   %10.3g samples/s\n", inner * double(n_samples));
    if (kde > 0) std::printf("kde trial:           %10.0f trials/s  = %6.2fx the llsfe2 trial time\n", kde, trial / kde);
  }
  return 0;
}
