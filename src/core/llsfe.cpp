// Second-degree LLSFE with a Gaussian kernel (SPEC §3, paper eq. 14–15), computed robustly:
//  * log-weights −|v|²/(2h²) with the largest subtracted before exponentiating (M0 underflows
//    otherwise at small h or for a far query point);
//  * the weighted mean, then the covariance about it, in two centred passes (the one-pass
//    M2/M0 − mmᵀ loses every digit when the query point is far from the data);
//  * a Cholesky factorisation with failure detection, and solves instead of inverses.
// Numerical trouble never throws and never leaves a NaN without status::failed.
#include "scorefarm/core/llsfe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fast_math.hpp"

namespace scorefarm {

namespace {

// 1/(2h²), clamped so that a subnormal or underflowing h² gives huge but finite factors: then
// (r² − r²_min)·factor is 0 for the nearest point(s) and +large for the rest, never 0·inf = NaN.
double half_inv_h2(double h) {
  const double f = 0.5 / (h * h);
  return std::min(f, std::numeric_limits<double>::max());
}

std::vector<double>& scratch(std::size_t n) {
  thread_local std::vector<double> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer;
}

// Moments for d = 2, the paper's case: fixed-size scalar accumulators the compiler keeps in
// registers, and the exp over a contiguous buffer so that it vectorises.
KernelMoments moments_d2(const double* X, std::size_t n, double x0, double x1, double f) {
  std::vector<double>& buf = scratch(n);
  double* r2 = buf.data();
  double r2min = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    const double a = X[2 * i] - x0, b = X[2 * i + 1] - x1;
    r2[i] = a * a + b * b;
  }
  for (std::size_t i = 0; i < n; ++i) r2min = std::min(r2min, r2[i]);
  // In place: r2[i] becomes the weight w_i = exp(−(r²_i − r²_min)/(2h²)) ∈ [0, 1].
  fast::exp_neg_scaled(r2, n, r2min, f);
  double M0 = 0.0, W2 = 0.0, s0 = 0.0, s1 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double w = r2[i];
    M0 += w;
    W2 += w * w;
    s0 += w * (X[2 * i] - x0);
    s1 += w * (X[2 * i + 1] - x1);
  }
  KernelMoments K;
  K.mean.resize(2);
  K.cov.resize(2, 2);
  const double m0 = s0 / M0, m1 = s1 / M0;
  double c00 = 0.0, c01 = 0.0, c11 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double w = r2[i];
    const double a = X[2 * i] - x0 - m0, b = X[2 * i + 1] - x1 - m1;
    c00 += w * a * a;
    c01 += w * a * b;
    c11 += w * b * b;
  }
  K.log_M0 = std::log(M0) - r2min * f;
  K.ess = M0 * M0 / W2;
  K.mean << m0, m1;
  K.cov << c00 / M0, c01 / M0, c01 / M0, c11 / M0;
  return K;
}

KernelMoments moments_general(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double f) {
  const int d = static_cast<int>(X.rows());
  const std::size_t n = static_cast<std::size_t>(X.cols());
  std::vector<double>& buf = scratch(n);
  double* w = buf.data();
  double r2min = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    const double* c = X.data() + i * d;
    double r2 = 0.0;
    for (int j = 0; j < d; ++j) {
      const double v = c[j] - x(j);
      r2 += v * v;
    }
    w[i] = r2;
    r2min = std::min(r2min, r2);
  }
  fast::exp_neg_scaled(w, n, r2min, f);
  KernelMoments K;
  K.mean = Eigen::VectorXd::Zero(d);
  K.cov = Eigen::MatrixXd::Zero(d, d);
  double M0 = 0.0, W2 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* c = X.data() + i * d;
    M0 += w[i];
    W2 += w[i] * w[i];
    for (int j = 0; j < d; ++j) K.mean(j) += w[i] * (c[j] - x(j));
  }
  K.mean /= M0;
  Eigen::VectorXd v(d);
  for (std::size_t i = 0; i < n; ++i) {
    if (w[i] == 0.0) continue;
    const double* c = X.data() + i * d;
    for (int j = 0; j < d; ++j) v(j) = c[j] - x(j) - K.mean(j);
    for (int a = 0; a < d; ++a)
      for (int b = 0; b <= a; ++b) K.cov(a, b) += w[i] * v(a) * v(b);
  }
  for (int a = 0; a < d; ++a)
    for (int b = 0; b <= a; ++b) {
      K.cov(a, b) /= M0;
      K.cov(b, a) = K.cov(a, b);
    }
  K.log_M0 = std::log(M0) - r2min * f;
  K.ess = M0 * M0 / W2;
  return K;
}

double min_eigenvalue(const Eigen::MatrixXd& S) {
  if (S.rows() == 1) return S(0, 0);
  if (S.rows() == 2) {
    const double tr = 0.5 * (S(0, 0) + S(1, 1));
    const double df = 0.5 * (S(0, 0) - S(1, 1));
    return tr - std::hypot(df, S(0, 1));
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(S, Eigen::EigenvaluesOnly);
  return es.eigenvalues()(0);
}

}  // namespace

KernelMoments kernel_moments(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h) {
  const int d = static_cast<int>(X.rows());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  KernelMoments K;
  if (X.cols() == 0 || x.size() != d || !(h > 0.0) || !std::isfinite(h)) {
    K.log_M0 = -std::numeric_limits<double>::infinity();
    K.ess = 0.0;
    K.mean = Eigen::VectorXd::Constant(d, nan);
    K.cov = Eigen::MatrixXd::Constant(d, d, nan);
    K.finite = false;
    return K;
  }
  const double f = half_inv_h2(h);
  K = d == 2 ? moments_d2(X.data(), static_cast<std::size_t>(X.cols()), x(0), x(1), f)
             : moments_general(X, x, f);
  K.finite = std::isfinite(K.log_M0) && std::isfinite(K.ess) && K.mean.allFinite() && K.cov.allFinite();
  return K;
}

Estimate llsfe2_from_moments(const Eigen::VectorXd& mean, const Eigen::MatrixXd& cov, double h,
                             double ess) {
  const int d = static_cast<int>(mean.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Estimate E;
  E.h = h;
  E.ess = ess;
  auto fail = [&](std::uint32_t bits) {
    E.status |= status::failed | bits;
    E.log_derivs.g = Eigen::VectorXd::Constant(d, nan);
    E.log_derivs.G2 = Eigen::MatrixXd::Constant(d, d, nan);
    return E;
  };
  if (!(ess >= d + 1.0)) E.status |= status::low_ess;  // also catches a NaN ess
  if (!(h > 0.0) || !std::isfinite(h) || cov.rows() != d || cov.cols() != d) return fail(status::ok);
  if (!mean.allFinite() || !cov.allFinite() || !std::isfinite(ess)) return fail(status::nonfinite);
  const double lmin = min_eigenvalue(cov);
  if (!(lmin >= 1e-6 * h * h)) E.status |= status::sigma_tiny;
  Eigen::LLT<Eigen::MatrixXd> llt(cov);
  if (llt.info() != Eigen::Success || !(llt.matrixLLT().diagonal().minCoeff() > 0.0))
    return fail(status::ok);
  E.log_derivs.g = llt.solve(mean);  // a1 = Σ⁻¹ m
  Eigen::MatrixXd Sinv = llt.solve(Eigen::MatrixXd::Identity(d, d));
  Sinv = 0.5 * (Sinv + Sinv.transpose());
  E.log_derivs.G2 = Eigen::MatrixXd::Identity(d, d) / (h * h) - Sinv;  // A2 = h⁻² I − Σ⁻¹
  if (!E.log_derivs.g.allFinite() || !E.log_derivs.G2.allFinite()) return fail(status::nonfinite);
  return E;
}

Estimate llsfe2(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h) {
  const KernelMoments K = kernel_moments(X, x, h);
  if (!K.finite) {
    Estimate E = llsfe2_from_moments(K.mean, K.cov, h, K.ess);
    E.status |= status::failed;
    if (X.cols() > 0 && h > 0.0 && std::isfinite(h)) E.status |= status::nonfinite;
    return E;
  }
  return llsfe2_from_moments(K.mean, K.cov, h, K.ess);
}

}  // namespace scorefarm
