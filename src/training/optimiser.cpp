#include "scorefarm/training/optimiser.hpp"

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace scorefarm::training {

std::vector<std::int64_t> log_schedule(std::int64_t iterations, int points) {
  if (points < 2 || iterations < 1 || std::int64_t(points) > iterations + 1)
    throw std::invalid_argument("log_points must be between 2 and iterations + 1 (got " +
                                std::to_string(points) + " for " + std::to_string(iterations) +
                                " iterations)");
  std::vector<std::int64_t> v(static_cast<std::size_t>(points));
  v[0] = 0;
  const double logT = std::log(double(iterations));
  for (int j = 1; j < points; ++j) {
    const double frac = points > 2 ? double(j - 1) / double(points - 2) : 1.0;
    std::int64_t t = std::llround(std::exp(logT * frac));
    t = std::max(t, v[std::size_t(j - 1)] + 1);
    t = std::min(t, iterations - std::int64_t(points - 1 - j));  // leave room for the rest
    v[std::size_t(j)] = t;
  }
  v.back() = iterations;
  return v;
}

double learning_rate(const OptimiserSpec& opt, std::int64_t t) {
  switch (opt.schedule) {
    case OptimiserSpec::Schedule::constant: return opt.lr;
    case OptimiserSpec::Schedule::inverse_time: return opt.lr / (1.0 + opt.decay * double(t));
    case OptimiserSpec::Schedule::step:
      return opt.lr * std::pow(opt.step_factor, double(t / opt.step_every));
  }
  return opt.lr;
}

std::vector<Eigen::Index> sample_minibatch(Stream& stream, Eigen::Index n, Eigen::Index batch) {
  std::vector<Eigen::Index> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), Eigen::Index(0));
  for (Eigen::Index j = 0; j < batch; ++j) {
    // Modulo bias is < n / 2^64: irrelevant.
    const auto r = Eigen::Index(stream.bits() % std::uint64_t(n - j));
    std::swap(idx[std::size_t(j)], idx[std::size_t(j + r)]);
  }
  idx.resize(std::size_t(batch));
  return idx;
}

Eigen::MatrixXd initial_rows(int k, int d, Stream& stream) {
  Eigen::MatrixXd A(k, d);
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < d; ++j) A(i, j) = stream.normal();
    A.row(i) /= A.row(i).norm();
  }
  return A;
}

}  // namespace scorefarm::training
