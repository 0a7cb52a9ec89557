#pragma once
// The paper's local likelihood score-function estimator, second degree, Gaussian kernel (SPEC §3).
#include <cstdint>

#include <Eigen/Dense>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/status.hpp"

namespace scorefarm {

struct Estimate {
  LogDerivs log_derivs;      // estimated g (= a1), G2 (= A2); G3/G4 empty for p = 2
  double h = 0.0;            // bandwidth used
  double ess = 0.0;          // effective sample size (Σw)²/Σw²
  std::uint32_t status = status::ok;
};

// Closed form: a1 = Σ⁻¹ m, A2 = h⁻² I − Σ⁻¹, where m and Σ are the kernel-weighted mean and
// covariance of v_i = X_i − x. X is d x n (one sample per column). Never throws on numerical
// trouble: it reports it in `status` (failed / low_ess / sigma_tiny / nonfinite).
Estimate llsfe2(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h);

// Kernel-weighted moments of v_i = X_i − x, computed with log-sum-exp weights in two centred passes.
struct KernelMoments {
  double log_M0 = 0.0;   // log Σ w_i (unnormalised Gaussian kernel)
  double ess = 0.0;
  Eigen::VectorXd mean;  // m
  Eigen::MatrixXd cov;   // Σ
  bool finite = true;
};
KernelMoments kernel_moments(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h);

// The closed-form solve from given moments; exposed so that tests can feed population moments.
Estimate llsfe2_from_moments(const Eigen::VectorXd& mean, const Eigen::MatrixXd& cov, double h,
                             double ess);

}  // namespace scorefarm
