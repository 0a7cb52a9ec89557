#pragma once
// The statistics of the aggregator, written so that a numpy cross-check agrees to the last bit.
//
// Percentiles: numpy's default method 'linear' (Hyndman & Fan type 7). For a sorted sample
// x_0 <= ... <= x_{N-1} and level p in [0, 100]:
//   q = p / 100,  v = (N - 1) q,  j = floor(v),  g = v - j,  k = min(j + 1, N - 1)
//   P_p = x_j + (x_k - x_j) g      when g <  0.5
//   P_p = x_k - (x_k - x_j)(1 - g) when g >= 0.5     (numpy's _lerp, both branches)
// Extension to +inf (failed trials), where numpy would return NaN:
//   g == 0 gives x_j exactly; otherwise a +inf at x_j or x_k gives +inf.
// So the percentile is a nondecreasing function of every sample value: a failure (+inf) can raise
// a percentile but never lower it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace scorefarm::aggregate {

inline constexpr std::array<double, 5> percentile_levels{5.0, 25.0, 50.0, 75.0, 95.0};
inline constexpr std::size_t n_levels = percentile_levels.size();
using Percentiles = std::array<double, n_levels>;

// Where level p falls in a sample of size n: order statistics j, k and weight g (see above).
struct PercentilePosition {
  std::size_t lower = 0;
  std::size_t upper = 0;
  double weight = 0.0;
};
PercentilePosition percentile_position(std::size_t n, double level);

// numpy's _lerp extended to +inf as documented above.
double interpolate(double lower, double upper, double weight);

// Percentile `level` of an ascending-sorted sample (NaN-free; +inf allowed). NaN when empty.
double percentile_sorted(const std::vector<double>& sorted, double level);
Percentiles percentiles_sorted(const std::vector<double>& sorted);

// Least-squares fit y = intercept + slope x. NaN slope/intercept with fewer than two distinct x or
// any non-finite y.
struct LineFit {
  double slope = 0.0;
  double intercept = 0.0;
};
LineFit least_squares(const std::vector<double>& x, const std::vector<double>& y);

// Sample standard deviation (divisor n - 1). NaN for n < 2; +inf if any value is not finite.
double standard_deviation(const std::vector<double>& values);

// The bootstrap of one cell: B resamples (with replacement) of its trials, each of the same size,
// drawn from scorefarm::Stream(seed, cell, replicate, bootstrap_substream). Resampling trials, not
// values, so every field of a replicate uses the same resampled trials.
inline constexpr std::uint64_t bootstrap_substream = 0x626f6f7473747270ULL;  // "bootstrp"

// Replicate `replicate` of a cell with counts.size() trials: counts[i] = how many times trial i
// (in done order) is drawn. Resample size = counts.size().
void bootstrap_counts(std::uint64_t seed, std::uint64_t cell, std::uint64_t replicate,
                      std::vector<std::uint32_t>& counts);

// Percentiles of one replicate. `sorted` is the field's ascending sample, `order[j]` the trial index
// (into `counts`) of sorted[j]. Equal to percentiles_sorted() of the expanded resample, in O(n).
Percentiles resampled_percentiles(const std::vector<double>& sorted,
                                  const std::vector<std::uint32_t>& order,
                                  const std::vector<std::uint32_t>& counts);

}  // namespace scorefarm::aggregate
