#pragma once
// Baseline: the plug-in KDE score ∇^m f̂ / f̂ with a Gaussian KDE, m ≤ 4. The paper says kernel
// methods fail for higher-order scores; this lets a study show it side by side with LLSFE.
#include <cstdint>

#include <Eigen/Dense>

#include "scorefarm/core/score_tensors.hpp"
#include "scorefarm/core/status.hpp"

namespace scorefarm {

struct KdeEstimate {
  Scores scores;  // S1..S4 of the KDE
  double h = 0.0;
  double ess = 0.0;
  std::uint32_t status = status::ok;
};

// With u_i = (x − X_i)/h and normalised weights w_i ∝ K(u_i) (log-sum-exp):
// S1 = −E_w[u]/h, S2 = (E_w[uuᵀ] − I)/h², S3 and S4 from the Hermite tensors likewise.
KdeEstimate kde_scores(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h);

}  // namespace scorefarm
