// Plug-in Gaussian-KDE scores ∇^m f̂ / f̂, m ≤ 4.
//
// With u_i = (x − X_i)/h, log f̂(x) = −|x|²/(2h²) + log Σ_i exp(x·X_i/h² − |X_i|²/(2h²)) + const,
// a cumulant generating function of the weighted sample. Hence the derivatives of log f̂ are the
// weighted cumulants of u (weights w_i ∝ exp(−|u_i|²/2)):
//   g = −E_w[u]/h,  G2 = (Cov_w(u) − I)/h²,  G3 = −κ3_w(u)/h³,  G4 = κ4_w(u)/h⁴.
// Working with centred moments avoids the cancellation of the raw Hermite form far from the data;
// the two agree (tests/core/test_kde.cpp checks both against finite differences of f̂).
#include "scorefarm/core/kde.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fast_math.hpp"

namespace scorefarm {

KdeEstimate kde_scores(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h) {
  const int d = static_cast<int>(X.rows());
  const std::size_t n = static_cast<std::size_t>(X.cols());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  KdeEstimate E;
  E.h = h;
  auto fail = [&](std::uint32_t bits) {
    E.status |= status::failed | bits;
    LogDerivs D;
    D.g = Eigen::VectorXd::Constant(d, nan);
    D.G2 = Eigen::MatrixXd::Constant(d, d, nan);
    D.G3 = Tensor(d, 3);
    D.G4 = Tensor(d, 4);
    std::fill(D.G3.data.begin(), D.G3.data.end(), nan);
    std::fill(D.G4.data.begin(), D.G4.data.end(), nan);
    E.log_derivs = D;
    E.scores = scores_from_log_derivs(D);
    return E;
  };
  if (n == 0 || x.size() != d || !(h > 0.0) || !std::isfinite(h)) return fail(status::ok);

  // Log-weights −|u|²/2 with the largest subtracted (log-sum-exp), then normalised weights.
  std::vector<double> w(n);
  Eigen::MatrixXd U(d, static_cast<Eigen::Index>(n));
  double r2min = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    double r2 = 0.0;
    for (int j = 0; j < d; ++j) {
      const double u = (x(j) - X(j, i)) / h;
      U(j, i) = u;
      r2 += u * u;
    }
    w[i] = r2;
    r2min = std::min(r2min, r2);
  }
  fast::exp_neg_scaled(w.data(), n, r2min, 0.5);
  double M0 = 0.0, W2 = 0.0;
  for (double v : w) {
    M0 += v;
    W2 += v * v;
  }
  E.ess = M0 * M0 / W2;
  if (!std::isfinite(E.ess) || !(M0 > 0.0)) return fail(status::nonfinite);
  if (!(E.ess >= d + 1.0)) E.status |= status::low_ess;

  Eigen::VectorXd mu = Eigen::VectorXd::Zero(d);
  for (std::size_t i = 0; i < n; ++i) mu += (w[i] / M0) * U.col(static_cast<Eigen::Index>(i));
  // Centred moments M2, M3, M4 of u.
  Eigen::MatrixXd M2 = Eigen::MatrixXd::Zero(d, d);
  Tensor M3(d, 3), M4(d, 4);
  Eigen::VectorXd c(d);
  for (std::size_t i = 0; i < n; ++i) {
    const double wi = w[i] / M0;
    if (wi == 0.0) continue;
    c = U.col(static_cast<Eigen::Index>(i)) - mu;
    for (int a = 0; a < d; ++a) {
      const double wa = wi * c(a);
      for (int b = 0; b < d; ++b) {
        const double wab = wa * c(b);
        M2(a, b) += wab;
        for (int e = 0; e < d; ++e) {
          const double wabe = wab * c(e);
          M3(a, b, e) += wabe;
          double* row = &M4.data[((static_cast<std::size_t>(a) * d + b) * d + e) * d];
          for (int f = 0; f < d; ++f) row[f] += wabe * c(f);
        }
      }
    }
  }
  LogDerivs D;
  D.g = -mu / h;
  D.G2 = (M2 - Eigen::MatrixXd::Identity(d, d)) / (h * h);
  D.G3 = Tensor(d, 3);
  D.G4 = Tensor(d, 4);
  const double h3 = h * h * h, h4 = h3 * h;
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      for (int e = 0; e < d; ++e) {
        D.G3(a, b, e) = -M3(a, b, e) / h3;
        for (int f = 0; f < d; ++f) {
          const double k4 = M4(a, b, e, f) - (M2(a, b) * M2(e, f) + M2(a, e) * M2(b, f) + M2(a, f) * M2(b, e));
          D.G4(a, b, e, f) = k4 / h4;
        }
      }
  E.log_derivs = D;
  E.scores = scores_from_log_derivs(D);
  bool finite = E.scores.S1.allFinite() && E.scores.S2.allFinite();
  for (double v : E.scores.S3.data) finite = finite && std::isfinite(v);
  for (double v : E.scores.S4.data) finite = finite && std::isfinite(v);
  if (!finite) return fail(status::nonfinite);
  return E;
}

}  // namespace scorefarm
