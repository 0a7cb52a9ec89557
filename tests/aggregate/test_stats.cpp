// Percentiles, least squares and the one-pass bootstrap percentiles against hand-computed values and
// brute force.
#define BOOST_TEST_MODULE aggregate
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "scorefarm/aggregate/stats.hpp"

using namespace scorefarm::aggregate;
namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
}

BOOST_AUTO_TEST_SUITE(stats)

BOOST_AUTO_TEST_CASE(percentiles_of_four_values_by_hand) {
  // v = 3p/100: p5 -> 0.15, p25 -> 0.75, p50 -> 1.5, p75 -> 2.25, p95 -> 2.85.
  const auto p = percentiles_sorted({1.0, 2.0, 3.0, 4.0});
  BOOST_TEST(p[0] == 1.15, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(p[1] == 1.75, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(p[2] == 2.5, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(p[3] == 3.25, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(p[4] == 3.85, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(percentiles_of_five_values_hit_order_statistics) {
  // v = 4p/100: p25 -> 1, p50 -> 2, p75 -> 3 exactly; p5 -> 0.2, p95 -> 3.8.
  const auto p = percentiles_sorted({10.0, 20.0, 30.0, 40.0, 50.0});
  BOOST_TEST(p[0] == 12.0, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(p[1] == 20.0);
  BOOST_TEST(p[2] == 30.0);
  BOOST_TEST(p[3] == 40.0);
  BOOST_TEST(p[4] == 48.0, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(infinity_propagates_only_with_weight) {
  // A failed trial (+inf) at the top: p75 lands exactly on x_3 = 40 and stays finite, p95
  // interpolates towards +inf and is +inf.
  const auto p = percentiles_sorted({10.0, 20.0, 30.0, 40.0, inf});
  BOOST_TEST(p[2] == 30.0);
  BOOST_TEST(p[3] == 40.0);
  BOOST_TEST(std::isinf(p[4]));
  const auto q = percentiles_sorted({1.0, 2.0, inf, inf});
  BOOST_TEST(q[2] == inf);  // v = 1.5 between 2 and inf
  BOOST_TEST(q[1] == 1.75, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(std::isnan(percentile_sorted({}, 50.0)));
  BOOST_TEST(percentile_sorted({7.0}, 5.0) == 7.0);
  BOOST_TEST(percentile_sorted({7.0}, 95.0) == 7.0);
}

BOOST_AUTO_TEST_CASE(a_failure_never_lowers_a_percentile) {
  std::mt19937_64 gen(11);
  std::lognormal_distribution<double> dist(0.0, 1.0);
  for (int rep = 0; rep < 500; ++rep) {
    const std::size_t n = 1 + gen() % 40;
    std::vector<double> x(n);
    for (auto& v : x) v = dist(gen);
    std::vector<double> sorted = x;
    std::sort(sorted.begin(), sorted.end());
    const auto before = percentiles_sorted(sorted);
    x[gen() % n] = inf;  // one trial fails
    std::sort(x.begin(), x.end());
    const auto after = percentiles_sorted(x);
    for (std::size_t q = 0; q < n_levels; ++q) BOOST_TEST(after[q] >= before[q]);
  }
}

BOOST_AUTO_TEST_CASE(a_failure_among_twenty_raises_p95_to_inf) {
  // n = 20: v(p95) = 18.05, between x_18 and x_19 = +inf with weight 0.05 > 0.
  std::vector<double> x(20);
  std::iota(x.begin(), x.end(), 1.0);
  BOOST_TEST(percentiles_sorted(x)[4] == 19.05, boost::test_tools::tolerance(1e-14));
  x.back() = inf;
  BOOST_TEST(percentiles_sorted(x)[4] == inf);
  BOOST_TEST(percentiles_sorted(x)[3] == 15.25, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(least_squares_by_hand) {
  // x = {0,1,2}, y = {1,2,4}: x̄ = 1, ȳ = 7/3, Sxy = 3, Sxx = 2 -> slope 1.5, intercept 5/6.
  const auto fit = least_squares({0.0, 1.0, 2.0}, {1.0, 2.0, 4.0});
  BOOST_TEST(fit.slope == 1.5, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(fit.intercept == 5.0 / 6.0, boost::test_tools::tolerance(1e-14));
  // An exact power law: log P = log 3 - 0.5 log n.
  std::vector<double> x, y;
  for (double n : {100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0}) {
    x.push_back(std::log(n));
    y.push_back(std::log(3.0 * std::pow(n, -0.5)));
  }
  const auto pl = least_squares(x, y);
  BOOST_TEST(pl.slope == -0.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(pl.intercept == std::log(3.0), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(std::isnan(least_squares({1.0, 1.0}, {2.0, 3.0}).slope));  // one distinct x
  BOOST_TEST(std::isnan(least_squares({1.0}, {2.0}).slope));
  BOOST_TEST(std::isnan(least_squares({1.0, 2.0}, {2.0, inf}).slope));  // +inf percentile
}

BOOST_AUTO_TEST_CASE(standard_deviation_by_hand) {
  // {2,4,4,4,5,5,7,9}: mean 5, Σ(x-5)² = 32, s = sqrt(32/7).
  BOOST_TEST(standard_deviation({2, 4, 4, 4, 5, 5, 7, 9}) == std::sqrt(32.0 / 7.0),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(std::isnan(standard_deviation({1.0})));
  BOOST_TEST(std::isinf(standard_deviation({1.0, inf})));
}

BOOST_AUTO_TEST_CASE(bootstrap_counts_are_deterministic_and_complete) {
  std::vector<std::uint32_t> a(1000), b(1000), c(1000);
  bootstrap_counts(42, 3, 17, a);
  bootstrap_counts(42, 3, 17, b);
  bootstrap_counts(42, 3, 18, c);
  BOOST_TEST(a == b);
  BOOST_TEST(a != c);
  BOOST_TEST(std::accumulate(a.begin(), a.end(), 0u) == 1000u);
  // Resampling with replacement leaves out about 1/e of the trials.
  const auto zeros = std::count(a.begin(), a.end(), 0u);
  BOOST_TEST(zeros > 300);
  BOOST_TEST(zeros < 440);
}

BOOST_AUTO_TEST_CASE(one_pass_resample_percentiles_equal_brute_force) {
  std::mt19937_64 gen(5);
  std::exponential_distribution<double> dist(1.0);
  for (int rep = 0; rep < 200; ++rep) {
    const std::size_t n = 1 + gen() % 60;
    std::vector<double> values(n);
    for (auto& v : values) v = (gen() % 10 == 0) ? inf : std::round(dist(gen) * 4) / 4;  // ties
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return values[a] < values[b]; });
    std::vector<double> sorted(n);
    for (std::size_t k = 0; k < n; ++k) sorted[k] = values[order[k]];
    std::vector<std::uint32_t> counts(n);
    bootstrap_counts(9, static_cast<std::uint64_t>(rep), 0, counts);
    std::vector<double> expanded;
    for (std::size_t t = 0; t < n; ++t)
      for (std::uint32_t k = 0; k < counts[t]; ++k) expanded.push_back(values[t]);
    std::sort(expanded.begin(), expanded.end());
    const auto want = percentiles_sorted(expanded);
    const auto got = resampled_percentiles(sorted, order, counts);
    for (std::size_t q = 0; q < n_levels; ++q) BOOST_TEST(got[q] == want[q]);
  }
}

BOOST_AUTO_TEST_SUITE_END()
