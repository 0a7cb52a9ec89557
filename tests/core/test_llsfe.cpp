#define BOOST_TEST_MODULE llsfe
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "test_helpers.hpp"

using namespace scorefarm;

namespace {

bool has_nan(const Estimate& E) {
  return E.log_derivs.g.hasNaN() || E.log_derivs.G2.hasNaN() || std::isnan(E.ess);
}

// The invariant the record files rely on: a NaN never travels without the failed bit.
void check_no_silent_nan(const Estimate& E, const std::string& what) {
  const bool finite = E.log_derivs.g.allFinite() && E.log_derivs.G2.allFinite();
  BOOST_TEST((finite || (E.status & status::failed)), what << ": non-finite output without failed bit");
  BOOST_TEST((!has_nan(E) || (E.status & status::failed)), what);
}

// Independent reference: naive long-double weights and two-pass moments, straight from SPEC §3.
void naive_moments(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h, Eigen::VectorXd& m,
                   Eigen::MatrixXd& S, double& ess) {
  const int d = static_cast<int>(X.rows());
  const long n = X.cols();
  std::vector<long double> w(n);
  long double M0 = 0, W2 = 0;
  for (long i = 0; i < n; ++i) {
    long double r2 = 0;
    for (int j = 0; j < d; ++j) r2 += (long double)(X(j, i) - x(j)) * (X(j, i) - x(j));
    w[i] = std::exp(-r2 / (2.0L * h * h));
    M0 += w[i];
    W2 += w[i] * w[i];
  }
  std::vector<long double> mean(d, 0);
  for (long i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) mean[j] += w[i] * (X(j, i) - x(j)) / M0;
  m.resize(d);
  S = Eigen::MatrixXd::Zero(d, d);
  for (int j = 0; j < d; ++j) m(j) = static_cast<double>(mean[j]);
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b) {
      long double s = 0;
      for (long i = 0; i < n; ++i) s += w[i] * (X(a, i) - x(a) - mean[a]) * (X(b, i) - x(b) - mean[b]);
      S(a, b) = static_cast<double>(s / M0);
    }
  ess = static_cast<double>(M0 * M0 / W2);
}

Eigen::MatrixXd gaussian_sample(int d, long n, std::uint64_t seed) {
  auto dist = make_distribution(preset_distribution("gaussian", d));
  Eigen::MatrixXd X(d, n);
  Stream s(seed, 0, 0);
  dist->sample(s, X);
  return X;
}

}  // namespace

BOOST_AUTO_TEST_CASE(moments_match_naive_long_double_reference) {
  for (int d : {1, 2, 3, 5}) {
    const Eigen::MatrixXd X = gaussian_sample(d, 3000, 10 + d);
    Eigen::VectorXd x = Eigen::VectorXd::Constant(d, 0.7);
    for (double h : {0.2, 0.63, 3.0}) {
      const KernelMoments K = kernel_moments(X, x, h);
      Eigen::VectorXd m;
      Eigen::MatrixXd S;
      double ess;
      naive_moments(X, x, h, m, S, ess);
      BOOST_TEST(K.finite);
      BOOST_TEST((K.mean - m).norm() < 1e-12 * (1 + m.norm()), "d=" << d << " h=" << h);
      BOOST_TEST((K.cov - S).norm() < 1e-12 * S.norm(), "d=" << d << " h=" << h);
      BOOST_TEST(std::abs(K.ess - ess) < 1e-10 * ess);
    }
  }
}

BOOST_AUTO_TEST_CASE(population_identity_for_gaussians) {
  // For X ~ N(μ, C) the Gaussian kernel exp(−|X−x|²/(2h²)) tilts f into a Gaussian with precision
  // P = C⁻¹ + I/h² and mean P⁻¹(C⁻¹μ + x/h²). So the population moments of v = X − x are
  // m = P⁻¹(C⁻¹μ + x/h²) − x and Σ = P⁻¹, and the estimator must return a1 = −C⁻¹(x−μ), A2 = −C⁻¹
  // exactly, for every h. For N(0, I): m = −h²x/(1+h²), Σ = h²/(1+h²) I, a1 = −x, A2 = −I.
  for (double h : {0.05, 0.63, 1.0, 7.0}) {
    const Eigen::Vector2d x(1.0, -0.5);
    const double s = h * h / (1 + h * h);
    const Estimate E = llsfe2_from_moments(-s * x, s * Eigen::Matrix2d::Identity(), h, 1e6);
    BOOST_TEST(E.status == status::ok);
    BOOST_TEST((E.log_derivs.g + x).cwiseAbs().maxCoeff() < 1e-12, "h=" << h);
    BOOST_TEST((E.log_derivs.G2 + Eigen::Matrix2d::Identity()).cwiseAbs().maxCoeff() < 1e-12, "h=" << h);
  }
  Stream rs(21, 0, 0);
  for (int d : {1, 3, 4}) {
    const Eigen::MatrixXd C = testing_ref::random_spd(rs, d);
    const Eigen::VectorXd mu = testing_ref::random_matrix(rs, d, 1).col(0);
    const Eigen::VectorXd x = testing_ref::random_matrix(rs, d, 1).col(0);
    const double h = 0.8;
    const Eigen::MatrixXd Ci = C.inverse();
    const Eigen::MatrixXd P = Ci + Eigen::MatrixXd::Identity(d, d) / (h * h);
    const Eigen::MatrixXd Sigma = P.inverse();
    const Eigen::VectorXd m = Sigma * (Ci * mu + x / (h * h)) - x;
    const Estimate E = llsfe2_from_moments(m, Sigma, h, 1e6);
    BOOST_TEST((E.log_derivs.g + Ci * (x - mu)).cwiseAbs().maxCoeff() < 1e-11, "d=" << d);
    BOOST_TEST((E.log_derivs.G2 + Ci).cwiseAbs().maxCoeff() < 1e-11, "d=" << d);
  }
}

BOOST_AUTO_TEST_CASE(gaussian_data_at_a_million_samples_is_close_to_the_truth) {
  const Eigen::MatrixXd X = gaussian_sample(2, 1000000, 7);
  const Eigen::Vector2d x(1.0, 1.0);
  const Estimate E = llsfe2(X, x, 0.63);
  BOOST_TEST(E.status == status::ok);
  // Standard errors at this n and h are ~1e-2 (Figure 1 extrapolated); 0.05 is > 4 of them.
  BOOST_TEST((E.log_derivs.g + x).norm() < 0.05, E.log_derivs.g.transpose());
  BOOST_TEST((E.log_derivs.G2 + Eigen::Matrix2d::Identity()).norm() < 0.05, E.log_derivs.G2);
  BOOST_TEST(E.ess > 1e5);
}

BOOST_AUTO_TEST_CASE(shift_invariance) {
  for (int d : {2, 3}) {
    const Eigen::MatrixXd X = gaussian_sample(d, 5000, 30 + d);
    const Eigen::VectorXd x = Eigen::VectorXd::Constant(d, 0.5);
    const Estimate A = llsfe2(X, x, 0.5);
    for (double c : {-3.0, 100.0, 1e4}) {
      const Eigen::VectorXd shift = Eigen::VectorXd::LinSpaced(d, c, 2 * c);
      const Estimate B = llsfe2(X.colwise() + shift, x + shift, 0.5);
      // Only the rounding of X + shift (relative 1e-16 of |shift|) differs.
      const double tol = 1e-11 * (1 + std::abs(c));
      BOOST_TEST(B.status == A.status);
      BOOST_TEST((A.log_derivs.g - B.log_derivs.g).norm() < tol, "d=" << d << " c=" << c);
      BOOST_TEST((A.log_derivs.G2 - B.log_derivs.G2).norm() < tol, "d=" << d << " c=" << c);
    }
  }
}

BOOST_AUTO_TEST_CASE(far_query_point_keeps_digits) {
  // Query 30 bandwidths from the data: weights underflow without log-sum-exp, and the one-pass
  // covariance M2/M0 − mmᵀ would lose every digit. Compare with the naive long-double reference.
  const Eigen::MatrixXd X = gaussian_sample(2, 2000, 8);
  const Eigen::Vector2d x(25.0, 0.0);
  const double h = 1.0;
  const KernelMoments K = kernel_moments(X, x, h);
  Eigen::VectorXd m;
  Eigen::MatrixXd S;
  double ess;
  naive_moments(X, x, h, m, S, ess);  // long double: exp(−312) is representable there
  BOOST_TEST(K.finite);
  BOOST_TEST((K.cov - S).norm() < 1e-9 * S.norm());
  const Estimate E = llsfe2(X, x, h);
  check_no_silent_nan(E, "far query");
}

BOOST_AUTO_TEST_CASE(degenerate_inputs_give_documented_status) {
  const Eigen::Vector2d x(0.0, 0.0);
  {  // all points equal: Σ = 0
    const Eigen::MatrixXd X = Eigen::MatrixXd::Constant(2, 50, 0.3);
    const Estimate E = llsfe2(X, x, 0.5);
    BOOST_TEST((E.status & status::failed));
    BOOST_TEST((E.status & status::sigma_tiny));
    check_no_silent_nan(E, "all equal");
  }
  {  // n = 1
    const Estimate E = llsfe2(Eigen::MatrixXd::Constant(2, 1, 0.1), x, 0.5);
    BOOST_TEST((E.status & status::failed));
    BOOST_TEST((E.status & status::low_ess));
    BOOST_TEST(E.ess == 1.0);
    check_no_silent_nan(E, "n=1");
  }
  {  // n = 0
    const Estimate E = llsfe2(Eigen::MatrixXd(2, 0), x, 0.5);
    BOOST_TEST((E.status & status::failed));
    check_no_silent_nan(E, "n=0");
  }
  const Eigen::MatrixXd X = gaussian_sample(2, 1000, 9);
  {  // a query point so far away that one sample carries all the weight
    const Estimate E = llsfe2(X, Eigen::Vector2d(200.0, 200.0), 0.3);
    BOOST_TEST((E.status & status::low_ess));
    check_no_silent_nan(E, "far query");
  }
  for (double h : {1e-300, 0.0, -1.0, std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN(), 5e-324}) {
    const Estimate E = llsfe2(X, x, h);
    BOOST_TEST((E.status & status::failed), "h=" << h);
    check_no_silent_nan(E, "tiny/invalid h");
  }
  {  // a NaN in the data
    Eigen::MatrixXd Y = X;
    Y(1, 17) = std::numeric_limits<double>::quiet_NaN();
    const Estimate E = llsfe2(Y, x, 0.5);
    BOOST_TEST((E.status & status::failed));
    BOOST_TEST((E.status & status::nonfinite));
    check_no_silent_nan(E, "NaN data");
  }
  {  // collinear data in d = 2: Σ singular
    Eigen::MatrixXd Y = X;
    Y.row(1) = 2.0 * Y.row(0);
    const Estimate E = llsfe2(Y, x, 0.5);
    BOOST_TEST((E.status & (status::failed | status::sigma_tiny)));
    check_no_silent_nan(E, "collinear");
  }
  {  // small h: few points in the kernel → low_ess but no failure
    const Estimate E = llsfe2(X, x, 0.02);
    check_no_silent_nan(E, "small h");
  }
  {  // low_ess threshold: (Σw)²/Σw² < d + 1, exactly at a known configuration: 3 equal weights
    Eigen::MatrixXd Y(2, 3);
    Y << 1, -1, 0, 0, 0, 1;  // all at distance 1 from the origin: equal weights, ess = 3 = d + 1
    const Estimate E = llsfe2(Y, x, 1.0);
    BOOST_TEST(E.ess == 3.0);
    BOOST_TEST(!(E.status & status::low_ess));
  }
}

BOOST_AUTO_TEST_CASE(random_degenerate_inputs_never_leak_nan) {
  Stream s(77, 0, 0);
  for (int rep = 0; rep < 300; ++rep) {
    const int d = 1 + static_cast<int>(s.bits() % 3);
    const int n = static_cast<int>(s.bits() % 6);
    Eigen::MatrixXd X(d, n);
    for (int i = 0; i < X.size(); ++i) {
      const auto b = s.bits() % 4;
      X.data()[i] = b == 0 ? 0.0 : (b == 1 ? 1e150 * s.normal() : s.normal());
    }
    Eigen::VectorXd x = Eigen::VectorXd::Constant(d, (s.bits() % 2) ? 0.0 : 1e10);
    const double h = std::pow(10.0, -300.0 + 600.0 * s.uniform());
    check_no_silent_nan(llsfe2(X, x, h), "random");
  }
}
