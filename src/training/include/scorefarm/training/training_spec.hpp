#pragma once
// Plain-data settings of one training cell (SPEC §6, paper §3–4): the teacher network, the loss,
// the optimiser. What a `kind: training` config is parsed into; every enum has a parse function
// that throws std::invalid_argument naming the bad value and the accepted ones.
#include <cstdint>
#include <string>
#include <vector>

#include "scorefarm/core/bandwidth.hpp"
#include "scorefarm/core/distribution.hpp"

namespace scorefarm {

// σ in y = Σ w*_i σ(⟨a*_i, x⟩) + η (paper eq. 18).
enum class Activation { relu, tanh, softplus, sigmoid };

struct TeacherSpec {
  // A* (k x d, rows a*_i): the first k rows of the identity; of a random orthogonal matrix
  // (QR of a Gaussian matrix with the signs of diag(R) fixed, i.e. Haar); or U diag(s) Vᵀ with
  // U, V random orthogonal and singular values s log-spaced from 1 down to 1/condition; or
  // `given`: the k x d matrix `rows` as written (full row rank; e.g. a rotation for the
  // non-degenerate Figure 4 mixture variant, SPEC §6).
  enum class Matrix { identity, orthogonal, conditioned, given };
  Matrix matrix = Matrix::identity;
  double condition = 10.0;  // conditioned only; >= 1
  Eigen::MatrixXd rows;     // given only: k x d
  // w*: all ones, independent random signs, or `given` (the k values in `values`).
  enum class Weights { ones, random_signs, given };
  Weights weights = Weights::ones;
  std::vector<double> values;  // given only: k entries
  Activation activation = Activation::relu;
  double noise = 0.0;  // σ_η of the Gaussian label noise η
  // Which randomness the teacher is keyed by: `trial` draws a new A*, w* for every trial (seed);
  // `cell` draws one teacher shared by all trials of the cell. Irrelevant for identity/ones.
  enum class Per { trial, cell };
  Per per = Per::trial;
};

struct LossSpec {
  // l2: Ê[(ŷ − y)²] (paper eq. 17); G: Ge et al.'s Gaussian forms whatever the input;
  // L: eq. 19 with the exact S4 of the input distribution; Lhat: eq. 19 with per-sample LLSFE
  // estimates of (g, G2) at every training point.
  enum class Kind { l2, G, L, Lhat };
  Kind kind = Kind::L;
  bool learn_w = false;  // l2 only: learn the second layer w together with A (else w = w*)
  double mu = 30.0;      // μ of eq. 19
  double lambda = 0.0;   // λ of the regulariser (applies to every loss; 0 switches it off)
  // norm: λ Σ (‖a_i‖ − 1)² (paper eq. 19); norm_squared: λ Σ (‖a_i‖² − 1)² (Ge et al.).
  enum class Regulariser { norm, norm_squared };
  Regulariser regulariser = Regulariser::norm;
  // Multiplies the data part of G / L / Lhat (never the regulariser). `automatic` uses
  // sign(κ), κ = E[σ(z) He4(z)] for z ~ N(0,1) (see activation.hpp); it is an error when κ = 0.
  enum class Sign { plus, minus, automatic };
  Sign sign = Sign::automatic;
  // Lhat only: bandwidth of the per-sample LLSFE, and whether the sample itself is left out.
  BandwidthRule bandwidth;
  bool leave_one_out = false;
  // > 0: the learning rate of this loss, overriding the optimiser's lr (the paper's Figure 3 uses
  // 5e-3 for l2 and 5e-5 for L and G in one experiment). 0: the optimiser's lr.
  double lr = 0.0;
};

struct OptimiserSpec {
  // gd: full-batch gradient descent; sgd: minibatches of `batch` samples drawn without
  // replacement, afresh at each step, from a counter-based stream keyed by the step number.
  enum class Kind { gd, sgd };
  Kind kind = Kind::gd;
  std::int64_t batch = 0;  // sgd only; 1..n
  double lr = 1e-3;
  std::int64_t iterations = 1000;
  // constant: lr; inverse_time: lr / (1 + decay·t); step: lr · factor^floor(t / step_every).
  enum class Schedule { constant, inverse_time, step };
  Schedule schedule = Schedule::constant;
  double decay = 0.0;
  std::int64_t step_every = 1000;
  double step_factor = 0.1;
  // The run stops with status `diverged` when some row norm of A exceeds this (or any value turns
  // non-finite, which also sets `nonfinite`).
  double divergence_norm = 1e3;
};

struct TrainingCell {
  DistributionSpec distribution;  // input x; its d is the input dimension
  int k = 2;                      // hidden units of teacher and student; 1 <= k <= d
  std::int64_t n = 1000;          // training samples
  std::int64_t n_test = 2000;     // fresh test samples for the refit ℓ2 metric
  TeacherSpec teacher;
  LossSpec loss;
  OptimiserSpec optimiser;
  std::string label;              // free text written to the cell table ("" allowed)
};

struct TrainingStudy {
  std::uint64_t seed = 1;
  std::uint64_t trials = 20;
  // Every series has this many entries: iteration 0, log-spaced iterations, and the last one.
  // Must be <= iterations + 1 for every cell.
  int log_points = 40;
  std::vector<TrainingCell> cells;
};

// Names used in configs and the cell table; parse_* throw std::invalid_argument on unknown names.
Activation parse_activation(const std::string& name);  // relu, tanh, softplus, sigmoid
std::string to_string(Activation a);
TeacherSpec::Matrix parse_teacher_matrix(const std::string& name);  // identity, orthogonal, conditioned
std::string to_string(TeacherSpec::Matrix m);
TeacherSpec::Weights parse_teacher_weights(const std::string& name);  // ones, random_signs
std::string to_string(TeacherSpec::Weights w);
TeacherSpec::Per parse_teacher_per(const std::string& name);  // trial, cell
std::string to_string(TeacherSpec::Per p);
LossSpec::Kind parse_loss_kind(const std::string& name);  // l2, G, L, Lhat
std::string to_string(LossSpec::Kind k);
LossSpec::Regulariser parse_regulariser(const std::string& name);  // norm, norm_squared
std::string to_string(LossSpec::Regulariser r);
LossSpec::Sign parse_sign(const std::string& name);  // "+1"/"plus", "-1"/"minus", "auto"
std::string to_string(LossSpec::Sign s);
OptimiserSpec::Kind parse_optimiser(const std::string& name);  // gd, sgd
std::string to_string(OptimiserSpec::Kind k);
OptimiserSpec::Schedule parse_schedule(const std::string& name);  // constant, inverse_time, step
std::string to_string(OptimiserSpec::Schedule s);

}  // namespace scorefarm
