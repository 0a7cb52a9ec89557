#pragma once
// The teacher network y = Σ_i w*_i σ(⟨a*_i, x⟩) + η (paper eq. 18).
#include <Eigen/Dense>

#include "scorefarm/core/rng.hpp"
#include "scorefarm/training/training_spec.hpp"

namespace scorefarm::training {

struct Teacher {
  Eigen::MatrixXd A;  // k x d, rows a*_i
  Eigen::VectorXd w;  // k
  Activation activation = Activation::relu;
  double noise = 0.0;
};

// A Haar-distributed orthogonal d x d matrix: QR of a Gaussian matrix, with the columns of Q
// multiplied by sign(diag R) so that the factorisation is unique (without the fix Q is not Haar).
Eigen::MatrixXd random_orthogonal(int d, Stream& stream);

// Draws A*, w* as the spec says (teacher.matrix, teacher.weights); consumes `stream` only for
// the random parts. Throws std::invalid_argument on k outside 1..d or condition < 1.
Teacher make_teacher(const TeacherSpec& spec, int d, int k, Stream& stream);

// Noise-free outputs Σ w*_i σ(⟨a*_i, x_n⟩) for the columns of X (d x n).
Eigen::VectorXd teacher_outputs(const Teacher& t, const Eigen::MatrixXd& X);

// Outputs plus η_n ~ N(0, noise²), drawn in column order from `stream` (none drawn if noise = 0).
Eigen::VectorXd teacher_labels(const Teacher& t, const Eigen::MatrixXd& X, Stream& stream);

}  // namespace scorefarm::training
