#pragma once
// How close a learned A (rows a_i) is to the teacher A* (rows a*_i): paper eq. 22 and a
// collapse-proof matching error (SPEC §6 "Metric").
#include <vector>

#include <Eigen/Dense>

#include "scorefarm/training/training_spec.hpp"

namespace scorefarm::training {

// M for eq. 22. The paper writes Aᵀ = [a_1|…|a_k] and e(A) from A*⁻¹A "to verify that A*⁻¹A is
// close to a permutation matrix". With rows a_i = ±a*_π(i) we have A = P D A*, and the product
// that is then a signed permutation is A A*⁺ = P D (equivalently (A*ᵀ)⁺ Aᵀ, the paper's formula
// applied to the column matrices Aᵀ, A*ᵀ; the literal A*⁻¹A = A*⁻¹ P D A* is one only when A*
// commutes with P D, e.g. A* = I). Both A and A* are row-normalised first (SPEC §6 "Metric"):
// M = Â Â*⁺ (k x k), so e(A) depends only on the directions of the rows, lies in [0, 1] for
// orthonormal A* (M_ij = cos(a_i, a*_j)), and a_i = c·a*_j with any c ≠ 0 counts as exact.
struct ParameterError {
  double row = 0;     // 1 − min_i max_j |M_ij|  (every learned a_i is near some a*_j)
  double column = 0;  // 1 − min_j max_i |M_ij|  (every a*_j is near some learned a_i)
  double lenient() const { return row < column ? row : column; }  // paper eq. 22
  double strict() const { return row > column ? row : column; }
};
ParameterError parameter_error(const Eigen::MatrixXd& A, const Eigen::MatrixXd& teacher_pinv);
// Â*⁺ (d x k) of the row-normalised teacher, for parameter_error.
Eigen::MatrixXd teacher_pseudo_inverse(const Eigen::MatrixXd& Astar);

// Collapse-proof error: the signed permutation π minimising Σ_i (1 − |cos(a_i, a*_π(i))|)
// (rows of both normalised; a zero row has cos = 0), found exactly by exhaustive search for k ≤ 8
// and by the Hungarian algorithm above. Reports the max and the mean of 1 − |cos| over the matched
// pairs: both lie in [0, 1]. A collapsed A (all rows equal to a*_1, A* orthonormal) scores
// max = 1 and mean = (k − 1)/k, where e(A) of eq. 22 reads 0.
struct MatchingError {
  double max = 0;
  double mean = 0;
  std::vector<int> assignment;  // assignment[i] = index of the teacher row matched to a_i
};
MatchingError matching_error(const Eigen::MatrixXd& A, const Eigen::MatrixXd& Astar);

// Minimum-cost perfect assignment of a square cost matrix (rows to columns), O(k³).
std::vector<int> hungarian(const Eigen::MatrixXd& cost);
// The same by trying all k! permutations (k ≤ 10): the reference for the Hungarian algorithm.
std::vector<int> exhaustive_assignment(const Eigen::MatrixXd& cost);

// Least-squares refit of the second layer: w = argmin Σ_n (Σ_i w_i σ(⟨a_i, x_n⟩) − y_n)² on the
// columns of X (column-pivoted QR: rank-deficient features, e.g. a collapsed A, give a minimum-
// residual solution instead of a failure).
Eigen::VectorXd refit_second_layer(const Eigen::MatrixXd& A, Activation act,
                                   const Eigen::MatrixXd& X, const Eigen::VectorXd& y);
// Mean squared error of the network (A, w) on (X, y).
double network_mse(const Eigen::MatrixXd& A, const Eigen::VectorXd& w, Activation act,
                   const Eigen::MatrixXd& X, const Eigen::VectorXd& y);

}  // namespace scorefarm::training
