#pragma once
// Pieces of the gradient-descent loop that are worth testing on their own.
#include <cstdint>
#include <vector>

#include <Eigen/Dense>

#include "scorefarm/core/rng.hpp"
#include "scorefarm/training/training_spec.hpp"

namespace scorefarm::training {

// `points` distinct iterations: 0, then log-spaced from 1 to `iterations` (rounded, bumped to stay
// strictly increasing), the last one being `iterations`. Throws unless 2 <= points <= iterations+1.
std::vector<std::int64_t> log_schedule(std::int64_t iterations, int points);

// Learning rate of step t (0-based) under the optimiser's schedule.
double learning_rate(const OptimiserSpec& opt, std::int64_t t);

// `batch` distinct indices out of 0..n−1 (partial Fisher–Yates on the stream's bits).
std::vector<Eigen::Index> sample_minibatch(Stream& stream, Eigen::Index n, Eigen::Index batch);

// k x d with independent N(0,1) entries, each row then scaled to unit length.
Eigen::MatrixXd initial_rows(int k, int d, Stream& stream);

}  // namespace scorefarm::training
