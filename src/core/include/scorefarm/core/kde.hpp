#pragma once
// Baseline: the plug-in KDE score ∇^m f̂ / f̂ with a Gaussian KDE, m ≤ 4. The paper says kernel
// methods fail for higher-order scores; this lets a study show it side by side with LLSFE.
#include <cstdint>

#include <Eigen/Dense>

#include "scorefarm/core/score_tensors.hpp"
#include "scorefarm/core/status.hpp"

namespace scorefarm {

struct KdeEstimate {
  Scores scores;         // S1..S4 of the KDE
  LogDerivs log_derivs;  // g, G2, G3, G4 of log f̂ (weighted cumulants of u, see kde.cpp)
  double h = 0.0;
  double ess = 0.0;
  std::uint32_t status = status::ok;
};

// With u_i = (x − X_i)/h and normalised weights w_i ∝ K(u_i) (log-sum-exp):
// S1 = −E_w[u]/h, S2 = (E_w[uuᵀ] − I)/h², S3 and S4 from the Hermite tensors likewise.
// Computed stably through log f̂: g = −E_w[u]/h, G2 = (Cov_w(u) − I)/h², G3 = −κ3_w(u)/h³,
// G4 = κ4_w(u)/h⁴ (weighted cumulants, from centred moments), then SPEC §1.
// Failure (no finite weights, bad h) sets status::failed and NaN scores; ess < d + 1 sets low_ess.
KdeEstimate kde_scores(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h);

}  // namespace scorefarm
