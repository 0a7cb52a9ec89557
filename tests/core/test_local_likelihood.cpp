#define BOOST_TEST_MODULE local_likelihood
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/estimator_study.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/local_likelihood.hpp"
#include "scorefarm/core/norms.hpp"
#include "scorefarm/core/rng.hpp"
#include "scorefarm/core/score_tensors.hpp"

// The degree-p local likelihood (issue 7) against independent computations: the closed form
// llsfe2, exact population moments of densities whose log is a polynomial, paper eq. 5 checked in
// the original (unscaled) units with a different quadrature, finite differences of the objective,
// and the exact mixture scores.

using namespace scorefarm;

namespace {

Eigen::MatrixXd sample(const std::string& preset, int d, std::int64_t n, std::uint64_t seed,
                       std::uint64_t trial = 0) {
  const auto dist = make_distribution(preset_distribution(preset, d));
  Eigen::MatrixXd X(d, n);
  Stream s(seed, 0, trial, 0);
  dist->sample(s, X);
  return X;
}

// A random symmetric tensor of order k (value depends only on the sorted index multiset).
Tensor random_sym_tensor(Stream& s, int d, int k, double scale) {
  Tensor T(d, k);
  std::map<std::vector<int>, double> value;
  std::vector<int> idx(k);
  for (std::size_t flat = 0; flat < T.size(); ++flat) {
    std::size_t r = flat;
    for (int p = k - 1; p >= 0; --p) {
      idx[p] = static_cast<int>(r % d);
      r /= d;
    }
    std::vector<int> key = idx;
    std::sort(key.begin(), key.end());
    auto it = value.find(key);
    if (it == value.end()) it = value.emplace(key, scale * (2.0 * s.uniform() - 1.0)).first;
    T.data[flat] = it->second;
  }
  return T;
}

// P(v) = g·v + ½ G2(v,v) + ⅙ G3(v,v,v) + (1/24) G4(v,v,v,v), written with explicit index sums
// (independent of the solver's monomial parameterisation).
double taylor_polynomial(const LogDerivs& D, const Eigen::VectorXd& v) {
  const int d = D.dim();
  double p = D.g.dot(v) + 0.5 * v.dot(D.G2 * v);
  if (!D.G3.empty())
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j)
        for (int k = 0; k < d; ++k) p += D.G3(i, j, k) * v[i] * v[j] * v[k] / 6.0;
  if (!D.G4.empty())
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j)
        for (int k = 0; k < d; ++k)
          for (int l = 0; l < d; ++l) p += D.G4(i, j, k, l) * v[i] * v[j] * v[k] * v[l] / 24.0;
  return p;
}

double max_abs_diff(const Tensor& A, const Tensor& B) {
  double m = 0.0;
  for (std::size_t i = 0; i < A.size(); ++i) m = std::max(m, std::abs(A.data[i] - B.data[i]));
  return m;
}

// Exact population data moments E_w[t^α] (t = v/h, weight K(t) f(x + h t)) of a density with
// log f(x + v) = P(v), by a ball rule of a different (higher) order than the solver's.
LocalDataMoments population_moments(const LocalLikelihood& L, const LogDerivs& D, double h) {
  const int d = L.dim();
  const double R = L.support_radius();
  const BallQuadrature q = ball_quadrature(d, 40, R);
  const MonomialBasis& B = L.basis();
  LocalDataMoments out;
  out.mean = Eigen::VectorXd::Zero(B.size());
  std::vector<double> phi(B.size());
  double mass = 0.0;
  for (int i = 0; i < q.size(); ++i) {
    const Eigen::VectorXd t = q.points.col(i);
    const double w = q.weights[i] *
                     local_kernel_profile(L.options().kernel, q.radii[i], L.options().gaussian_radius) *
                     std::exp(taylor_polynomial(D, h * t));
    B.evaluate(t.data(), phi.data());
    for (int k = 0; k < B.size(); ++k) out.mean[k] += w * phi[k];
    mass += w;
  }
  out.mean /= mass;
  out.log_mass = std::log(mass);
  out.ess = 1e9;
  out.support_points = 1000000000;
  out.n = 1000000000;
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double s4_error(const LogDerivs& est, const LogDerivs& truth) {
  const Tensor A = scores_from_log_derivs(est).S4, B = scores_from_log_derivs(truth).S4;
  Tensor D = A;
  for (std::size_t i = 0; i < D.size(); ++i) D.data[i] -= B.data[i];
  return frobenius_norm(D);
}

}  // namespace

BOOST_AUTO_TEST_CASE(monomial_basis_enumerates_and_evaluates) {
  for (int d = 1; d <= 3; ++d)
    for (int p = 0; p <= 8; ++p) {
      const MonomialBasis B(d, p);
      // C(p + d, d)
      double binom = 1.0;
      for (int i = 1; i <= d; ++i) binom = binom * (p + i) / i;
      BOOST_TEST(B.size() == static_cast<int>(binom + 0.5));
      BOOST_TEST(B.index_begin(0) == 0);
      BOOST_TEST(B.index_begin(p + 1) == B.size());
      const double t[3] = {0.7, -1.3, 0.4};
      std::vector<double> out(B.size());
      B.evaluate(t, out.data());
      for (int i = 0; i < B.size(); ++i) {
        BOOST_TEST(B.index_of(B.exponent(i)) == i);
        double expect = 1.0;
        int deg = 0;
        for (int c = 0; c < d; ++c) {
          expect *= std::pow(t[c], B.exponent(i)[c]);
          deg += B.exponent(i)[c];
        }
        BOOST_TEST(B.degree(i) == deg);
        BOOST_TEST(out[i] == expect, boost::test_tools::tolerance(1e-14));
        if (i > 0) BOOST_TEST(B.degree(i) >= B.degree(i - 1));
      }
      // the degree-p basis is a prefix of the degree-2p basis (the solver relies on it)
      const MonomialBasis B2(d, 2 * p);
      for (int i = 0; i < B.size(); ++i) BOOST_TEST(B2.exponent(i) == B.exponent(i));
    }
}

BOOST_AUTO_TEST_CASE(gaussian_kernel_degree_2_agrees_with_closed_form) {
  // The tie between the numeric solver and the paper's closed form (issue 7, item 2): ≤ 1e-8.
  struct Case {
    std::string dist;
    int d;
    double x, h;
  };
  const Case cases[] = {{"gaussian", 1, 0.4, 0.63},     {"gaussian", 2, 1.0, 0.63},
                        {"paper_mixture", 2, 1.0, 0.63}, {"paper_mixture", 2, 0.0, 0.5},
                        {"paper_mixture", 2, -0.7, 1.0}, {"gaussian", 3, 0.5, 0.8},
                        {"student_t", 2, 0.3, 0.7},      {"laplace", 2, 0.6, 0.63}};
  LocalLikelihoodOptions opt;
  opt.degree = 2;
  opt.kernel = LocalKernel::gaussian;
  int k = 0;
  for (const Case& c : cases) {
    const Eigen::MatrixXd X = sample(c.dist, c.d, 3000, 77, k++);
    const Eigen::VectorXd x = Eigen::VectorXd::Constant(c.d, c.x);
    const Estimate closed = llsfe2(X, x, c.h);
    const LocalLikelihoodFit fit = LocalLikelihood(c.d, opt).estimate(X, x, c.h);
    BOOST_TEST_REQUIRE(closed.status == status::ok);
    BOOST_TEST_REQUIRE(fit.estimate.status == status::ok);
    const double dg = (fit.estimate.log_derivs.g - closed.log_derivs.g).cwiseAbs().maxCoeff();
    const double dG2 = (fit.estimate.log_derivs.G2 - closed.log_derivs.G2).cwiseAbs().maxCoeff();
    BOOST_TEST(dg <= 1e-8, c.dist << " d=" << c.d << " x=" << c.x << " h=" << c.h << " dg=" << dg);
    BOOST_TEST(dG2 <= 1e-8, c.dist << " d=" << c.d << " x=" << c.x << " h=" << c.h << " dG2=" << dG2);
    BOOST_TEST(fit.estimate.log_derivs.G3.empty());
    BOOST_TEST(fit.estimate.log_derivs.G4.empty());
    BOOST_TEST(fit.estimate.ess == closed.ess, boost::test_tools::tolerance(1e-9));
    // and the degree-2 solution is not an accident of the starting point: a different kernel
    // gives a different answer
    LocalLikelihoodOptions epa = opt;
    epa.kernel = LocalKernel::epanechnikov;
    const LocalLikelihoodFit other = LocalLikelihood(c.d, epa).estimate(X, x, c.h);
    BOOST_TEST((other.estimate.log_derivs.G2 - closed.log_derivs.G2).cwiseAbs().maxCoeff() > 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(population_moments_recover_polynomial_log_density) {
  // log f exactly a polynomial of degree ≤ p: the population solution is the polynomial itself.
  Stream s(2024, 1, 0);
  for (int d = 1; d <= 3; ++d)
    for (int p = 1; p <= 4; ++p)
      for (LocalKernel kernel : {LocalKernel::epanechnikov, LocalKernel::tricube, LocalKernel::gaussian}) {
        LocalLikelihoodOptions opt;
        opt.degree = p;
        opt.kernel = kernel;
        if (kernel == LocalKernel::gaussian) opt.gaussian_radius = 6.0;
        const LocalLikelihood L(d, opt);
        const double h = kernel == LocalKernel::gaussian ? 0.4 : 0.9;
        LogDerivs D;
        D.g = Eigen::VectorXd::Random(d) * 0.8;
        D.G2 = p >= 2 ? Eigen::MatrixXd(-Eigen::MatrixXd::Identity(d, d) * 1.2) : Eigen::MatrixXd::Zero(d, d);
        if (p >= 2) {
          const Eigen::MatrixXd A = Eigen::MatrixXd::Random(d, d) * 0.2;
          D.G2 += A + A.transpose();
        }
        if (p >= 3) D.G3 = random_sym_tensor(s, d, 3, 0.6);
        if (p >= 4) D.G4 = random_sym_tensor(s, d, 4, 0.5);
        const LocalLikelihoodFit fit = L.solve(population_moments(L, D, h), h);
        BOOST_TEST_REQUIRE(fit.estimate.status == status::ok);
        const LogDerivs& E = fit.estimate.log_derivs;
        const std::string tag = "d=" + std::to_string(d) + " p=" + std::to_string(p) + " " +
                                local_kernel_name(kernel);
        // tolerances in units of the scale of each derivative (1/h^k): the estimate of G_k is a
        // coefficient divided by h^k
        BOOST_TEST((E.g - D.g).cwiseAbs().maxCoeff() * h <= 1e-9, tag);
        BOOST_TEST((E.G2 - D.G2).cwiseAbs().maxCoeff() * h * h <= 1e-9, tag);
        if (p >= 3) BOOST_TEST(max_abs_diff(E.G3, D.G3) * std::pow(h, 3) <= 1e-9, tag);
        if (p >= 4) BOOST_TEST(max_abs_diff(E.G4, D.G4) * std::pow(h, 4) <= 1e-9, tag);
        BOOST_TEST(fit.iterations <= 30, tag);
      }
}

BOOST_AUTO_TEST_CASE(population_gaussian_gives_minus_x_minus_identity_zero_higher) {
  // N(0, I): a1 = −x, A2 = −I, A3 = 0, A4 = 0 at any x and h (exact population moments).
  for (int d = 1; d <= 3; ++d) {
    LocalLikelihoodOptions opt;
    opt.degree = 4;
    const LocalLikelihood L(d, opt);
    for (double xv : {0.0, 1.0, -2.0}) {
      for (double h : {0.5, 1.5}) {
        LogDerivs D;
        const Eigen::VectorXd x = Eigen::VectorXd::Constant(d, xv);
        D.g = -x;  // log φ(x + v) = const − x·v − |v|²/2
        D.G2 = -Eigen::MatrixXd::Identity(d, d);
        const LocalLikelihoodFit fit = L.solve(population_moments(L, D, h), h);
        BOOST_TEST_REQUIRE(fit.estimate.status == status::ok);
        const LogDerivs& E = fit.estimate.log_derivs;
        BOOST_TEST((E.g + x).cwiseAbs().maxCoeff() <= 1e-9);
        BOOST_TEST((E.G2 + Eigen::MatrixXd::Identity(d, d)).cwiseAbs().maxCoeff() <= 1e-8);
        BOOST_TEST(max_abs_diff(E.G3, Tensor(d, 3)) <= 1e-7);
        BOOST_TEST(max_abs_diff(E.G4, Tensor(d, 4)) <= 1e-6);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(newton_solution_satisfies_paper_eq5_in_original_units) {
  // ∫ exp(a0 + P(u − x)) ((u−x)/h)^α K((u−x)/h) du = (1/n) Σ ((X_i−x)/h)^α K((X_i−x)/h), |α| ≤ p,
  // with P rebuilt from the returned tensors (so the θ → (g, G2, G3, G4) map, a0 and the scaling
  // are all under test) and the left side integrated by an independent, higher-order rule.
  struct Case {
    int d, p;
    LocalKernel kernel;
    double h;
  };
  const Case cases[] = {{2, 4, LocalKernel::epanechnikov, 1.3}, {2, 3, LocalKernel::tricube, 1.1},
                        {3, 3, LocalKernel::tricube, 1.4},      {1, 4, LocalKernel::epanechnikov, 0.9},
                        {2, 2, LocalKernel::gaussian, 0.7},     {3, 4, LocalKernel::epanechnikov, 1.5}};
  int k = 0;
  for (const Case& c : cases) {
    LocalLikelihoodOptions opt;
    opt.degree = c.p;
    opt.kernel = c.kernel;
    const LocalLikelihood L(c.d, opt);
    const Eigen::MatrixXd X = sample("paper_mixture", c.d, 20000, 5, k++);
    Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(c.d, 0.5, 0.2);
    const LocalLikelihoodFit fit = L.estimate(X, x, c.h);
    BOOST_TEST_REQUIRE(fit.estimate.status == status::ok);
    BOOST_TEST(fit.moment_residual <= 1e-12);
    const BallQuadrature q = ball_quadrature(c.d, 36, L.support_radius());
    const MonomialBasis& B = L.basis();
    std::vector<double> lhs(B.size(), 0.0), rhs(B.size(), 0.0), phi(B.size());
    for (int i = 0; i < q.size(); ++i) {
      const Eigen::VectorXd t = q.points.col(i);
      const double K = local_kernel_profile(c.kernel, q.radii[i], L.support_radius());
      const double f = std::exp(fit.a0 + taylor_polynomial(fit.estimate.log_derivs, c.h * t));
      B.evaluate(t.data(), phi.data());
      for (int a = 0; a < B.size(); ++a) lhs[a] += q.weights[i] * std::pow(c.h, c.d) * f * K * phi[a];
    }
    for (Eigen::Index i = 0; i < X.cols(); ++i) {
      const Eigen::VectorXd t = (X.col(i) - x) / c.h;
      const double K = local_kernel_profile(c.kernel, t.norm(), L.support_radius());
      if (K == 0.0) continue;
      B.evaluate(t.data(), phi.data());
      for (int a = 0; a < B.size(); ++a) rhs[a] += K * phi[a] / X.cols();
    }
    for (int a = 0; a < B.size(); ++a)
      BOOST_TEST(std::abs(lhs[a] - rhs[a]) <= 1e-9 * rhs[0],
                 "d=" << c.d << " p=" << c.p << " alpha#" << a << " lhs=" << lhs[a] << " rhs=" << rhs[a]);
  }
}

BOOST_AUTO_TEST_CASE(gradient_and_hessian_match_finite_differences) {
  for (int d = 1; d <= 3; ++d)
    for (int p : {2, 3, 4}) {
      LocalLikelihoodOptions opt;
      opt.degree = p;
      opt.kernel = d == 2 ? LocalKernel::tricube : LocalKernel::epanechnikov;
      const LocalLikelihood L(d, opt);
      const Eigen::MatrixXd X = sample("gaussian", d, 4000, 9, d * 10 + p);
      const LocalDataMoments m = L.data_moments(X, Eigen::VectorXd::Constant(d, 0.3), 1.2);
      const int K = L.coefficient_count() - 1;
      Eigen::VectorXd theta = Eigen::VectorXd::LinSpaced(K, -0.6, 0.5);
      const Eigen::VectorXd grad = L.gradient(theta, m.mean);
      const Eigen::MatrixXd H = L.hessian(theta);
      const double step = 1e-5;
      for (int i = 0; i < K; ++i) {
        Eigen::VectorXd tp = theta, tm = theta;
        tp[i] += step;
        tm[i] -= step;
        const double fd = (L.objective(tp, m.mean) - L.objective(tm, m.mean)) / (2 * step);
        BOOST_TEST(std::abs(fd - grad[i]) <= 1e-8, "d=" << d << " p=" << p << " i=" << i);
        const Eigen::VectorXd fdg = (L.gradient(tp, m.mean) - L.gradient(tm, m.mean)) / (2 * step);
        BOOST_TEST((fdg - H.col(i)).cwiseAbs().maxCoeff() <= 1e-8, "d=" << d << " p=" << p << " i=" << i);
      }
      // concavity: −H positive definite
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(-H);
      BOOST_TEST(es.eigenvalues().minCoeff() > 0.0);
    }
}

BOOST_AUTO_TEST_CASE(newton_converges_quickly_to_the_maximum) {
  LocalLikelihoodOptions opt;
  opt.degree = 4;
  const LocalLikelihood L(2, opt);
  const Eigen::MatrixXd X = sample("paper_mixture", 2, 5000, 31);
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(2, 1.0);
  const LocalLikelihoodFit fit = L.estimate(X, x, 1.5);
  BOOST_TEST_REQUIRE(fit.estimate.status == status::ok);
  BOOST_TEST(fit.iterations >= 2);
  BOOST_TEST(fit.iterations <= 12);
  BOOST_TEST(fit.decrement <= 1e-16);
  BOOST_TEST(fit.moment_residual <= 1e-12);
  const LocalDataMoments m = L.data_moments(X, x, 1.5);
  const double best = L.objective(fit.theta, m.mean);
  Stream s(3, 3, 3);
  for (int r = 0; r < 50; ++r) {
    Eigen::VectorXd dir(fit.theta.size());
    for (int i = 0; i < dir.size(); ++i) dir[i] = s.normal();
    BOOST_TEST(L.objective(fit.theta + 1e-3 * dir, m.mean) < best);
  }
  // a too-small iteration budget is reported, never silently returned
  LocalLikelihoodOptions one = opt;
  one.max_iterations = 1;
  const LocalLikelihoodFit short_fit = LocalLikelihood(2, one).estimate(X, x, 1.5);
  BOOST_TEST((short_fit.estimate.status & status::not_converged) != 0u);
  BOOST_TEST((short_fit.estimate.status & status::failed) != 0u);
}

BOOST_AUTO_TEST_CASE(shift_invariance) {
  LocalLikelihoodOptions opt;
  opt.degree = 4;
  opt.kernel = LocalKernel::tricube;
  const LocalLikelihood L(2, opt);
  const Eigen::MatrixXd X = sample("paper_mixture", 2, 4000, 8);
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(2, 0.4);
  Eigen::VectorXd shift(2);
  shift << 3.25, -7.5;  // exactly representable, so X + shift − (x + shift) = X − x bit for bit
  const LocalLikelihoodFit a = L.estimate(X, x, 1.2);
  const LocalLikelihoodFit b = L.estimate(X.colwise() + shift, x + shift, 1.2);
  BOOST_TEST_REQUIRE(a.estimate.status == status::ok);
  BOOST_TEST((a.theta - b.theta).cwiseAbs().maxCoeff() <= 1e-12);
}

BOOST_AUTO_TEST_CASE(large_gaussian_sample_close_to_truth) {
  // Monte Carlo (not population): N(0, I), n = 2·10^5, p = 4 — g ≈ −x, G2 ≈ −I, G3, G4 ≈ 0 within
  // a few standard errors (measured spread over seeds: g 0.01, G2 0.04, G3 0.1, G4 0.4).
  LocalLikelihoodOptions opt;
  opt.degree = 4;
  const LocalLikelihood L(2, opt);
  const Eigen::MatrixXd X = sample("gaussian", 2, 200000, 12);
  Eigen::VectorXd x(2);
  x << 0.5, -0.3;
  const LocalLikelihoodFit fit = L.estimate(X, x, 1.5);
  BOOST_TEST_REQUIRE(fit.estimate.status == status::ok);
  const LogDerivs& E = fit.estimate.log_derivs;
  BOOST_TEST((E.g + x).cwiseAbs().maxCoeff() <= 0.05);
  BOOST_TEST((E.G2 + Eigen::MatrixXd::Identity(2, 2)).cwiseAbs().maxCoeff() <= 0.2);
  BOOST_TEST(max_abs_diff(E.G3, Tensor(2, 3)) <= 0.5);
  BOOST_TEST(max_abs_diff(E.G4, Tensor(2, 4)) <= 2.0);
  // and f̂(x) = e^{a0} estimates the density φ(x)
  BOOST_TEST(std::exp(fit.a0) == std::exp(-0.5 * x.squaredNorm()) / (2 * M_PI),
             boost::test_tools::tolerance(0.02));
}

BOOST_AUTO_TEST_CASE(mixture_floor_of_degree_2_is_as_stated) {
  // SPEC §3 / issue 7: ‖4 sym(G3⊗g) + G4‖_F = 8.0 at x = 0 and 1.09 at x = (1, 1). It is the S4
  // that p = 2 cannot see: S4(g, G2, G3, G4) − S4(g, G2, 0, 0).
  const auto dist = make_distribution(preset_distribution("paper_mixture", 2));
  auto floor_at = [&](double xv) {
    const LogDerivs full = dist->log_derivs(Eigen::VectorXd::Constant(2, xv));
    LogDerivs p2 = full;
    p2.G3 = Tensor();
    p2.G4 = Tensor();
    return s4_error(p2, full);
  };
  // Independent closed form: log f = −|x|²/2 + log cosh(x1 + x2) + const, so with s = x1 + x2,
  // T = tanh s, S = sech² s: g = −x + T·1, G3 = −2ST·1⊗³, G4 = (4ST² − 2S²)·1⊗⁴, and
  // 4 sym(G3⊗g) + G4 = (4·(−2ST)·(T − x1) + 4ST² − 2S²)·1⊗⁴ with ‖1⊗⁴‖_F = 4 in d = 2.
  auto closed = [](double xv) {
    const double s = 2 * xv, T = std::tanh(s), S = 1 - T * T;
    return 4.0 * std::abs(4 * (-2 * S * T) * (T - xv) + 4 * S * T * T - 2 * S * S);
  };
  BOOST_TEST(floor_at(0.0) == 8.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(closed(0.0) == 8.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(floor_at(1.0) == closed(1.0), boost::test_tools::tolerance(1e-10));
  BOOST_TEST(std::abs(floor_at(1.0) - 1.09) < 0.005);
}

BOOST_AUTO_TEST_CASE(mixture_s4_degree_4_beats_the_degree_2_floor) {
  // Consistency in miniature (the full study is configs/beyond/mixture_s4_degree.yaml): at
  // x = (1, 1) the p = 2 S4 error stays above its floor 1.09 while the p = 4 error falls below it
  // and keeps falling from n = 10^4 to 10^5. Bandwidths: the theory rule c·n^(−1/(2p+2+d)),
  // c = 2 (p = 2, Gaussian kernel) and c = 6 (p = 4, Epanechnikov on the ball of radius h, whose
  // standard deviation is h/√6, so the two kernels have about the same width).
  const auto dist = make_distribution(preset_distribution("paper_mixture", 2));
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(2, 1.0);
  const LogDerivs truth = dist->log_derivs(x);
  const double floor = 1.0890;
  LocalLikelihoodOptions opt;
  opt.degree = 4;
  const LocalLikelihood L4(2, opt);
  std::map<std::int64_t, double> med2, med4;
  for (std::int64_t n : {10000, 100000}) {
    std::vector<double> e2, e4;
    for (std::uint64_t t = 0; t < 25; ++t) {
      Eigen::MatrixXd X(2, n);
      Stream s(99, static_cast<std::uint64_t>(n), t, 0);
      dist->sample(s, X);
      const double h2 = 2.0 * std::pow(double(n), -1.0 / 8.0);
      const double h4 = 6.0 * std::pow(double(n), -1.0 / 12.0);
      const Estimate a = llsfe2(X, x, h2);
      const LocalLikelihoodFit b = L4.estimate(X, x, h4);
      BOOST_TEST_REQUIRE(b.estimate.status == status::ok);
      e2.push_back(s4_error(a.log_derivs, truth));
      e4.push_back(s4_error(b.estimate.log_derivs, truth));
    }
    med2[n] = median(e2);
    med4[n] = median(e4);
    BOOST_TEST_MESSAGE("n=" << n << " median S4_F error p=2: " << med2[n] << "  p=4: " << med4[n]);
  }
  BOOST_TEST(med2[100000] > 0.95 * floor);
  BOOST_TEST(med2[10000] > 0.95 * floor);
  BOOST_TEST(med4[100000] < 0.8 * floor);
  BOOST_TEST(med4[100000] < 0.8 * med4[10000]);
}

BOOST_AUTO_TEST_CASE(status_flags_instead_of_silent_nans) {
  LocalLikelihoodOptions opt;
  opt.degree = 4;
  const LocalLikelihood L(2, opt);
  auto finite_or_flagged = [](const LocalLikelihoodFit& f) {
    const LogDerivs& D = f.estimate.log_derivs;
    const bool finite = D.g.allFinite() && D.G2.allFinite();
    return finite || (f.estimate.status & status::failed);
  };
  // no sample in the support
  {
    const Eigen::MatrixXd X = sample("gaussian", 2, 500, 1);
    const LocalLikelihoodFit f = L.estimate(X, Eigen::VectorXd::Constant(2, 40.0), 1.0);
    BOOST_TEST((f.estimate.status & status::failed) != 0u);
    BOOST_TEST((f.estimate.status & status::few_points) != 0u);
    BOOST_TEST(finite_or_flagged(f));
  }
  // fewer samples in the support than the 15 coefficients
  {
    const Eigen::MatrixXd X = sample("gaussian", 2, 30, 2);
    const LocalLikelihoodFit f = L.estimate(X, Eigen::VectorXd::Zero(2), 0.6);
    BOOST_TEST(f.support_points < 15);
    BOOST_TEST((f.estimate.status & status::few_points) != 0u);
    BOOST_TEST(finite_or_flagged(f));
  }
  // all samples on one point: the maximiser does not exist
  {
    const Eigen::MatrixXd X = Eigen::MatrixXd::Constant(2, 100, 0.1);
    const LocalLikelihoodFit f = L.estimate(X, Eigen::VectorXd::Zero(2), 1.0);
    BOOST_TEST((f.estimate.status & status::failed) != 0u);
    BOOST_TEST(finite_or_flagged(f));
  }
  // samples on a line: the maximiser does not exist either
  {
    Eigen::MatrixXd X = sample("gaussian", 2, 200, 3);
    X.row(1) = X.row(0);
    const LocalLikelihoodFit f = L.estimate(X, Eigen::VectorXd::Zero(2), 1.0);
    BOOST_TEST((f.estimate.status & status::failed) != 0u);
    BOOST_TEST(finite_or_flagged(f));
  }
  // a non-finite sample
  {
    Eigen::MatrixXd X = sample("gaussian", 2, 200, 4);
    X(0, 7) = std::numeric_limits<double>::quiet_NaN();
    const LocalLikelihoodFit f = L.estimate(X, Eigen::VectorXd::Zero(2), 1.0);
    BOOST_TEST((f.estimate.status & status::nonfinite) != 0u);
    BOOST_TEST((f.estimate.status & status::failed) != 0u);
  }
}

BOOST_AUTO_TEST_CASE(solution_converges_with_quadrature_order) {
  // The accuracy check behind default_quadrature_order: the solution θ at the default order
  // against a much finer rule, on real data (README table). Bounds are ~10× the measured values.
  struct Case {
    int d;
    LocalKernel kernel;
    int degree, reference_order;
    double h, bound;
  };
  const Case cases[] = {{1, LocalKernel::tricube, 4, 64, 1.0, 1e-12},
                        {2, LocalKernel::epanechnikov, 4, 48, 2.0, 1e-8},
                        {2, LocalKernel::tricube, 4, 48, 0.5, 1e-8},
                        {2, LocalKernel::gaussian, 2, 96, 2.0, 1e-12},
                        {3, LocalKernel::epanechnikov, 4, 28, 0.5, 1e-6},
                        {3, LocalKernel::gaussian, 2, 48, 1.0, 1e-10}};
  int k = 0;
  for (const Case& c : cases) {
    const Eigen::MatrixXd X = sample("paper_mixture", c.d, 20000, 21, k++);
    const Eigen::VectorXd x = Eigen::VectorXd::Constant(c.d, 0.7);
    LocalLikelihoodOptions opt;
    opt.degree = c.degree;
    opt.kernel = c.kernel;
    const LocalLikelihoodFit def = LocalLikelihood(c.d, opt).estimate(X, x, c.h);
    opt.quadrature_order = c.reference_order;
    const LocalLikelihoodFit ref = LocalLikelihood(c.d, opt).estimate(X, x, c.h);
    opt.quadrature_order = c.degree + 2;  // the coarsest allowed order is visibly worse
    const LocalLikelihoodFit coarse = LocalLikelihood(c.d, opt).estimate(X, x, c.h);
    BOOST_TEST_REQUIRE(def.estimate.status == status::ok);
    BOOST_TEST_REQUIRE(ref.estimate.status == status::ok);
    const double err = (def.theta - ref.theta).cwiseAbs().maxCoeff() / std::max(1.0, ref.theta.norm());
    const double err_coarse = (coarse.theta - ref.theta).cwiseAbs().maxCoeff() / std::max(1.0, ref.theta.norm());
    BOOST_TEST(err <= c.bound, "d=" << c.d << " " << local_kernel_name(c.kernel) << " err=" << err);
    BOOST_TEST(err_coarse > 10 * err, "d=" << c.d << " " << local_kernel_name(c.kernel));
    BOOST_TEST_MESSAGE("quadrature: d=" << c.d << " " << local_kernel_name(c.kernel) << " p=" << c.degree
                       << " h=" << c.h << " default order " << default_quadrature_order(c.kernel, c.d)
                       << ": " << err << "; order " << c.degree + 2 << ": " << err_coarse);
  }
}

BOOST_AUTO_TEST_CASE(every_supported_combination_builds_with_default_order) {
  for (int d = 1; d <= 3; ++d)
    for (int p = 1; p <= 4; ++p)
      for (LocalKernel kernel : {LocalKernel::epanechnikov, LocalKernel::tricube, LocalKernel::gaussian}) {
        LocalLikelihoodOptions opt;
        opt.degree = p;
        opt.kernel = kernel;
        BOOST_CHECK_NO_THROW(LocalLikelihood(d, opt));
        const LocalLikelihood L(d, opt);
        BOOST_TEST(L.options().quadrature_order == default_quadrature_order(kernel, d));
        double binom = 1.0;
        for (int i = 1; i <= d; ++i) binom = binom * (p + i) / i;
        BOOST_TEST(L.coefficient_count() == static_cast<int>(binom + 0.5));
      }
}

BOOST_AUTO_TEST_CASE(bad_parameters_give_clear_errors) {
  auto message_of = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  LocalLikelihoodOptions opt;
  opt.degree = 5;
  BOOST_TEST(message_of([&] { LocalLikelihood(2, opt); }).find("degree") != std::string::npos);
  opt.degree = 0;
  BOOST_TEST(message_of([&] { LocalLikelihood(2, opt); }).find("degree") != std::string::npos);
  opt.degree = 4;
  BOOST_TEST(message_of([&] { LocalLikelihood(4, opt); }).find("dimension") != std::string::npos);
  BOOST_TEST(message_of([&] { LocalLikelihood(0, opt); }).find("dimension") != std::string::npos);
  opt.quadrature_order = 5;
  BOOST_TEST(message_of([&] { LocalLikelihood(2, opt); }).find("quadrature_order") != std::string::npos);
  opt.quadrature_order = 0;
  opt.kernel = LocalKernel::gaussian;
  opt.gaussian_radius = -1.0;
  BOOST_TEST(message_of([&] { LocalLikelihood(2, opt); }).find("gaussian_radius") != std::string::npos);
  opt = LocalLikelihoodOptions{};
  const LocalLikelihood L(2, opt);
  const Eigen::MatrixXd X = sample("gaussian", 2, 100, 1);
  BOOST_TEST(message_of([&] { L.estimate(X, Eigen::VectorXd::Zero(2), 0.0); }).find("bandwidth") != std::string::npos);
  BOOST_TEST(message_of([&] { L.estimate(X, Eigen::VectorXd::Zero(2), -1.0); }).find("bandwidth") != std::string::npos);
  BOOST_TEST(message_of([&] { L.estimate(X, Eigen::VectorXd::Zero(2), std::nan("")); }).find("bandwidth") != std::string::npos);
  BOOST_TEST(message_of([&] { L.estimate(X, Eigen::VectorXd::Zero(3), 1.0); }).find("dimension") != std::string::npos);
  BOOST_TEST(message_of([] { parse_local_kernel("boxcar"); }).find("boxcar") != std::string::npos);
  BOOST_TEST((parse_local_kernel("tricube") == LocalKernel::tricube));
  BOOST_TEST(local_kernel_name(parse_local_kernel("epanechnikov")) == "epanechnikov");
}

BOOST_AUTO_TEST_CASE(estimator_runner_dispatches_on_degree_and_kernel) {
  // EstimatorSpec{llsfe, degree, kernel}: degree 2 + gaussian is the closed form, everything else
  // the numeric solver; the theory bandwidth uses the cell's degree.
  EstimatorStudy study;
  study.seed = 4;
  study.trials = 3;
  study.errors = {"S2_sp", "S4_F"};
  auto cell = [](int degree, const std::string& kernel) {
    EstimatorCell c;
    c.distribution = preset_distribution("paper_mixture", 2);
    c.n = 20000;
    c.estimator.name = "llsfe";
    c.estimator.degree = degree;
    c.estimator.kernel = kernel;
    c.bandwidth.kind = BandwidthRule::Kind::theory;
    c.bandwidth.value = 5.0;
    c.bandwidth.degree = 2;  // overridden by the estimator's degree
    c.query.kind = QueryRule::Kind::fixed;
    c.query.point = {1.0};
    return c;
  };
  study.cells = {cell(2, "gaussian"), cell(4, "epanechnikov"), cell(3, "tricube"), cell(2, "epanechnikov")};
  const EstimatorRunner runner(study);
  const auto dist = make_distribution(preset_distribution("paper_mixture", 2));
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(2, 1.0);
  const LogDerivs truth = dist->log_derivs(x);
  for (std::size_t c = 0; c < study.cells.size(); ++c) {
    const EstimatorSpec& est = study.cells[c].estimator;
    const double h = 5.0 * std::pow(20000.0, -1.0 / (2.0 * est.degree + 4.0));
    for (std::uint64_t t = 0; t < study.trials; ++t) {
      const Record r = runner.run(c, t);
      BOOST_TEST_REQUIRE(r.values.size() == 4u);
      BOOST_TEST(r.values[0] == h, boost::test_tools::tolerance(1e-14));
      // replay the trial by hand
      Eigen::MatrixXd X(2, 20000);
      Stream s(study.seed, c, t, substream_data);
      dist->sample(s, X);
      Estimate e;
      if (est.degree == 2 && est.kernel == "gaussian") {
        e = llsfe2(X, x, h);
      } else {
        LocalLikelihoodOptions o;
        o.degree = est.degree;
        o.kernel = parse_local_kernel(est.kernel);
        e = LocalLikelihood(2, o).estimate(X, x, h).estimate;
      }
      BOOST_TEST(r.status == e.status);
      BOOST_TEST(r.values[3] == s4_error(e.log_derivs, truth), boost::test_tools::tolerance(1e-12));
    }
  }
  auto rejected = [&](int degree, const std::string& kernel, int d) {
    EstimatorStudy bad = study;
    bad.cells = {cell(degree, kernel)};
    bad.cells[0].distribution = preset_distribution("gaussian", d);
    try {
      EstimatorRunner r(bad);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what()).find("estimator") != std::string::npos;
    }
    return false;
  };
  BOOST_TEST(rejected(5, "epanechnikov", 2));
  BOOST_TEST(rejected(1, "epanechnikov", 2));
  BOOST_TEST(rejected(4, "boxcar", 2));
  BOOST_TEST(rejected(4, "epanechnikov", 4));  // numeric solver: d ≤ 3
  BOOST_TEST(!rejected(2, "gaussian", 4));     // the closed form works in any d
}
