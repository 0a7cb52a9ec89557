// Cost of one degree-p local likelihood estimate (issue 7) against the paper's closed form p = 2,
// in the same run: n = 10^4 samples of the paper's mixture, query x = (1, …, 1), d = 2 and 3.
// Sampling is excluded (16 pre-drawn data sets are cycled); the counter `newton_iters` is the mean
// number of Newton steps per estimate and `samples/s` the throughput over the n samples.
//
//   scorefarm_bench_local_likelihood --benchmark_min_time=0.5
//
// Bandwidths follow configs/beyond/mixture_s4_degree.yaml: theory rule c·n^(−1/(2p+2+d)) with
// c = 2 for the Gaussian kernel and c = 5 for the compact kernels.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/local_likelihood.hpp"
#include "scorefarm/core/rng.hpp"

namespace {

using namespace scorefarm;

constexpr std::int64_t n_samples = 10000;
constexpr int n_sets = 16;

const std::vector<Eigen::MatrixXd>& data_sets(int d) {
  static std::vector<Eigen::MatrixXd> sets[4];
  if (sets[d].empty()) {
    const auto dist = make_distribution(preset_distribution("paper_mixture", d));
    for (int k = 0; k < n_sets; ++k) {
      Eigen::MatrixXd X(d, n_samples);
      Stream s(2019, static_cast<std::uint64_t>(d), static_cast<std::uint64_t>(k), 0);
      dist->sample(s, X);
      sets[d].push_back(std::move(X));
    }
  }
  return sets[d];
}

double bandwidth(int p, int d, bool gaussian) {
  return (gaussian ? 2.0 : 5.0) * std::pow(double(n_samples), -1.0 / (2.0 * p + 2.0 + d));
}

void BM_closed_form_p2(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  const auto& sets = data_sets(d);
  const Eigen::VectorXd x = Eigen::VectorXd::Ones(d);
  const double h = bandwidth(2, d, true);
  std::size_t k = 0;
  for (auto _ : state) {
    Estimate e = llsfe2(sets[k++ % n_sets], x, h);
    benchmark::DoNotOptimize(e.log_derivs.G2.data());
  }
  state.counters["samples/s"] =
      benchmark::Counter(double(n_samples) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["newton_iters"] = 0;
}

// range(0) = d, range(1) = p, range(2) = kernel (0 gaussian, 1 epanechnikov, 2 tricube)
void BM_local_likelihood(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  LocalLikelihoodOptions opt;
  opt.degree = static_cast<int>(state.range(1));
  opt.kernel = state.range(2) == 0   ? LocalKernel::gaussian
               : state.range(2) == 1 ? LocalKernel::epanechnikov
                                     : LocalKernel::tricube;
  state.SetLabel(local_kernel_name(opt.kernel) + " p=" + std::to_string(opt.degree) +
                 " d=" + std::to_string(d));
  const LocalLikelihood solver(d, opt);  // quadrature tables built once, as in the runner's cache
  const auto& sets = data_sets(d);
  const Eigen::VectorXd x = Eigen::VectorXd::Ones(d);
  const double h = bandwidth(opt.degree, d, opt.kernel == LocalKernel::gaussian);
  std::size_t k = 0;
  double iterations = 0.0, failures = 0.0;
  for (auto _ : state) {
    LocalLikelihoodFit f = solver.estimate(sets[k++ % n_sets], x, h);
    iterations += f.iterations;
    failures += (f.estimate.status & status::failed) ? 1.0 : 0.0;
    benchmark::DoNotOptimize(f.theta.data());
  }
  state.counters["samples/s"] =
      benchmark::Counter(double(n_samples) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["newton_iters"] = iterations / static_cast<double>(state.iterations());
  state.counters["failed"] = failures;
}

// The one-off cost of building a solver (quadrature nodes and monomial tables).
void BM_build_solver(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  LocalLikelihoodOptions opt;
  opt.degree = static_cast<int>(state.range(1));
  for (auto _ : state) {
    LocalLikelihood solver(d, opt);
    benchmark::DoNotOptimize(&solver);
  }
}

}  // namespace

BENCHMARK(BM_closed_form_p2)->Arg(2)->Arg(3)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_local_likelihood)
    ->Args({2, 2, 0})   // numeric solver on the closed-form problem (radius-8 Gaussian, order 48)
    ->Args({2, 2, 1})
    ->Args({2, 3, 1})
    ->Args({2, 4, 1})
    ->Args({2, 4, 2})
    ->Args({3, 2, 1})
    ->Args({3, 3, 1})
    ->Args({3, 4, 1})
    ->Args({3, 4, 2})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_build_solver)->Args({2, 4})->Args({3, 4})->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
