#pragma once
// Error norms (SPEC §4).
#include <Eigen/Dense>

#include "scorefarm/core/tensor.hpp"

namespace scorefarm {

// Spectral norm of a symmetric matrix: max |eigenvalue|.
double spectral_norm_sym(const Eigen::MatrixXd& E);
double frobenius_norm(const Tensor& T);

struct SpectralResult {
  double value = 0.0;
  bool exact = false;  // true for d ≤ 2; otherwise a multi-start lower bound (SS-HOPM)
};
// max over unit u of |T(u,u,u,u)| for a symmetric 4-tensor. d = 2: dense angle grid refined by
// Newton on θ, exact to rounding. d > 2: clearly flagged approximation.
SpectralResult spectral_norm_sym4(const Tensor& T);

}  // namespace scorefarm
