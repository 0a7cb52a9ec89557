#define BOOST_TEST_MODULE rng
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <set>
#include <vector>

#include <Random123/philox.h>

#include "scorefarm/core/rng.hpp"

using namespace scorefarm;

namespace {
std::vector<std::uint64_t> words(Stream s, int n) {
  std::vector<std::uint64_t> w(n);
  for (auto& v : w) v = s.bits();
  return w;
}
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
}  // namespace

BOOST_AUTO_TEST_CASE(stream_is_philox4x64_with_documented_key_and_counter) {
  // key {seed, cell}, counter {trial, substream, block, 0}: an independent r123 call reproduces it.
  r123::Philox4x64 philox;
  const std::vector<std::uint64_t> w = words(Stream(17, 3, 99, 2), 12);
  for (std::uint64_t block = 0; block < 3; ++block) {
    const r123::Philox4x64::ctr_type ctr = {{99, 2, block, 0}};
    const r123::Philox4x64::key_type key = {{17, 3}};
    const auto out = philox(ctr, key);
    for (int i = 0; i < 4; ++i) BOOST_TEST(w[4 * block + i] == out.v[i]);
  }
}

BOOST_AUTO_TEST_CASE(bulk_draws_equal_successive_single_draws) {
  for (std::size_t offset : {0, 1, 2, 3, 5}) {
    for (std::size_t count : {0, 1, 2, 3, 7, 8, 255, 256, 257, 1001}) {
      Stream a(1, 2, 3, 4), b(1, 2, 3, 4);
      for (std::size_t k = 0; k < offset; ++k) {  // leave partial blocks and a spare normal behind
        a.normal();
        b.normal();
      }
      std::vector<double> bulk(count);
      a.fill_normal(bulk.data(), count);
      for (std::size_t k = 0; k < count; ++k) BOOST_TEST(bulk[k] == b.normal());
      BOOST_TEST(a.normal() == b.normal());  // the streams stay in step afterwards
      std::vector<std::uint64_t> bits(count);
      a.fill_bits(bits.data(), count);
      for (std::size_t k = 0; k < count; ++k) BOOST_TEST(bits[k] == b.bits());
      std::vector<double> u(count);
      a.fill_uniform(u.data(), count);
      for (std::size_t k = 0; k < count; ++k) BOOST_TEST(u[k] == b.uniform());
    }
  }
}

BOOST_AUTO_TEST_CASE(reproducible_and_distinct_across_seed_cell_trial_substream) {
  BOOST_TEST(words(Stream(1, 2, 3, 4), 64) == words(Stream(1, 2, 3, 4), 64));
  std::set<std::uint64_t> first;
  int streams = 0;
  for (std::uint64_t seed : {1, 2})
    for (std::uint64_t cell : {0, 1, 2})
      for (std::uint64_t trial : {0, 1, 1000000})
        for (std::uint64_t sub : {0, 1}) {
          for (auto w : words(Stream(seed, cell, trial, sub), 8)) first.insert(w);
          ++streams;
        }
  BOOST_TEST(first.size() == static_cast<std::size_t>(8 * streams));  // no shared words at all
}

BOOST_AUTO_TEST_CASE(uniform_is_in_the_open_interval_and_exact) {
  Stream s(3, 0, 0);
  for (int i = 0; i < 100000; ++i) {
    const double u = s.uniform();
    BOOST_TEST_REQUIRE((u > 0.0 && u < 1.0));
    BOOST_TEST_REQUIRE((1.0 - u) + u == 1.0);
    BOOST_TEST_REQUIRE(std::fmod(u * 0x1.0p53, 2.0) == 1.0);  // (2k+1)·2^-53
  }
}

BOOST_AUTO_TEST_CASE(normal_matches_libm_box_muller_and_the_normal_cdf) {
  // Our exp/log/sincos are polynomial kernels; compare the normals with libm's Box-Muller.
  Stream s(4, 0, 0), t(4, 0, 0);
  double worst = 0.0;
  for (int i = 0; i < 20000; ++i) {
    const double z0 = s.normal(), z1 = s.normal();
    const double u1 = t.uniform(), u2 = t.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    worst = std::max({worst, std::abs(z0 - r * std::cos(2 * M_PI * u2)) / (1 + std::abs(z0)),
                      std::abs(z1 - r * std::sin(2 * M_PI * u2)) / (1 + std::abs(z1))});
  }
  BOOST_TEST(worst < 1e-14);
  // Empirical CDF at a few points against Φ, n = 4e5 (3e-3 ≈ 4 standard errors).
  const int n = 400000;
  std::vector<double> z(n);
  Stream(5, 0, 0).fill_normal(z.data(), n);
  for (double x : {-2.5, -1.0, 0.0, 0.5, 1.7}) {
    double c = 0;
    for (double v : z) c += v <= x;
    BOOST_TEST(std::abs(c / n - normal_cdf(x)) < 3e-3, "x=" << x);
  }
  double m = 0, m2 = 0, m4 = 0;
  for (double v : z) {
    m += v;
    m2 += v * v;
    m4 += v * v * v * v;
  }
  BOOST_TEST(std::abs(m / n) < 0.01);
  BOOST_TEST(std::abs(m2 / n - 1) < 0.01);
  BOOST_TEST(std::abs(m4 / n - 3) < 0.06);
}

BOOST_AUTO_TEST_CASE(laplace_and_gamma_moments) {
  const int n = 400000;
  Stream s(6, 0, 0);
  double m = 0, m2 = 0;
  for (int i = 0; i < n; ++i) {
    const double v = s.laplace();
    m += v;
    m2 += v * v;
  }
  BOOST_TEST(std::abs(m / n) < 0.01);
  BOOST_TEST(std::abs(m2 / n - 2.0) < 0.03);  // Var = 2
  for (double shape : {0.3, 1.0, 2.5, 6.0}) {
    double g = 0, g2 = 0;
    for (int i = 0; i < n; ++i) {
      const double v = s.gamma(shape);
      BOOST_TEST_REQUIRE(v > 0.0);
      g += v;
      g2 += v * v;
    }
    const double mean = g / n, var = g2 / n - mean * mean;
    BOOST_TEST(std::abs(mean - shape) < 5 * std::sqrt(shape / n), "shape " << shape);
    BOOST_TEST(std::abs(var - shape) < 0.03 * shape + 0.01, "shape " << shape);
  }
  double c = 0;
  for (int i = 0; i < n; ++i) c += s.chi_square(5.0);
  BOOST_TEST(std::abs(c / n - 5.0) < 0.03);
  BOOST_TEST(std::isnan(s.gamma(-1.0)));
}
