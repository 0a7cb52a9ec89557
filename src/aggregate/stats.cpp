// Percentiles (numpy 'linear', extended to +inf), least squares and the trial bootstrap.
#include "scorefarm/aggregate/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "scorefarm/core/rng.hpp"

namespace scorefarm::aggregate {

namespace {
constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_value = std::numeric_limits<double>::infinity();
}  // namespace

PercentilePosition percentile_position(std::size_t n, double level) {
  PercentilePosition pos;
  if (n == 0) return pos;
  // Same floating-point operations as numpy: q = p / 100, v = (n - 1) * q.
  const double q = level / 100.0;
  const double v = static_cast<double>(n - 1) * q;
  const double j = std::floor(v);
  pos.lower = std::min(static_cast<std::size_t>(j), n - 1);
  pos.upper = std::min(pos.lower + 1, n - 1);
  pos.weight = v - j;
  return pos;
}

double interpolate(double lower, double upper, double weight) {
  if (weight == 0.0) return lower;  // exactly an order statistic (numpy gives NaN if upper is inf)
  if (std::isinf(lower) || std::isinf(upper)) return inf_value;  // samples are never -inf
  const double diff = upper - lower;
  return weight < 0.5 ? lower + diff * weight : upper - diff * (1.0 - weight);
}

double percentile_sorted(const std::vector<double>& sorted, double level) {
  if (sorted.empty()) return nan_value;
  const auto pos = percentile_position(sorted.size(), level);
  return interpolate(sorted[pos.lower], sorted[pos.upper], pos.weight);
}

Percentiles percentiles_sorted(const std::vector<double>& sorted) {
  Percentiles out{};
  for (std::size_t i = 0; i < n_levels; ++i) out[i] = percentile_sorted(sorted, percentile_levels[i]);
  return out;
}

LineFit least_squares(const std::vector<double>& x, const std::vector<double>& y) {
  LineFit fit{nan_value, nan_value};
  const std::size_t n = x.size();
  if (n < 2 || y.size() != n) return fit;
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) return fit;
  double mx = 0.0, my = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  // Centred sums (two passes): no cancellation when log n is large compared with its spread.
  double sxx = 0.0, sxy = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (!(sxx > 0.0)) return fit;  // all x equal: no slope
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  return fit;
}

double standard_deviation(const std::vector<double>& values) {
  const std::size_t n = values.size();
  if (n < 2) return nan_value;
  double mean = 0.0;
  for (double v : values) {
    if (!std::isfinite(v)) return inf_value;
    mean += v;
  }
  mean /= static_cast<double>(n);
  double ss = 0.0;
  for (double v : values) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / static_cast<double>(n - 1));
}

void bootstrap_counts(std::uint64_t seed, std::uint64_t cell, std::uint64_t replicate,
                      std::vector<std::uint32_t>& counts) {
  const std::size_t n = counts.size();
  std::fill(counts.begin(), counts.end(), 0u);
  Stream stream(seed, cell, replicate, bootstrap_substream);
  for (std::size_t draw = 0; draw < n; ++draw) {
    // Index = floor(bits · n / 2^64): the multiply-high map, bias below n / 2^64.
    const auto wide = static_cast<unsigned __int128>(stream.bits()) * n;
    ++counts[static_cast<std::size_t>(wide >> 64)];
  }
}

Percentiles resampled_percentiles(const std::vector<double>& sorted,
                                  const std::vector<std::uint32_t>& order,
                                  const std::vector<std::uint32_t>& counts) {
  Percentiles out{};
  const std::size_t n = sorted.size();
  if (n == 0) {
    out.fill(nan_value);
    return out;
  }
  // The resample, sorted, is sorted[j] repeated counts[order[j]] times. Its order statistics at the
  // positions needed by the five levels are found in one pass over the positions in ascending
  // order (the upper index of one level can exceed the lower index of the next).
  std::array<PercentilePosition, n_levels> pos{};
  std::array<std::size_t, 2 * n_levels> wanted{};
  for (std::size_t i = 0; i < n_levels; ++i) {
    pos[i] = percentile_position(n, percentile_levels[i]);
    wanted[2 * i] = pos[i].lower;
    wanted[2 * i + 1] = pos[i].upper;
  }
  std::array<std::size_t, 2 * n_levels> by_position{};
  for (std::size_t i = 0; i < by_position.size(); ++i) by_position[i] = i;
  std::sort(by_position.begin(), by_position.end(),
            [&](std::size_t a, std::size_t b) { return wanted[a] < wanted[b]; });
  std::array<double, 2 * n_levels> value{};
  std::size_t w = 0;
  std::size_t seen = 0;  // resample elements up to and including sorted[j]
  for (std::size_t j = 0; j < n && w < wanted.size(); ++j) {
    seen += counts[order[j]];
    while (w < wanted.size() && wanted[by_position[w]] < seen) value[by_position[w++]] = sorted[j];
  }
  for (std::size_t i = 0; i < n_levels; ++i)
    out[i] = interpolate(value[2 * i], value[2 * i + 1], pos[i].weight);
  return out;
}

}  // namespace scorefarm::aggregate
