#define BOOST_TEST_MODULE quadrature
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "scorefarm/core/quadrature.hpp"

// The accuracy statement of quadrature.hpp, checked: exact (to rounding) for kernel × monomial up to
// the stated degree, not exact one degree beyond (so the statement is sharp, and the test could
// fail), and geometric convergence in the order for exp(polynomial) integrands.

using namespace scorefarm;

namespace {

constexpr double pi = 3.14159265358979323846;

double ball_volume(int d) { return d == 1 ? 2.0 : d == 2 ? pi : 4.0 * pi / 3.0; }

// ∫_{|t|≤1} κ(|t|) t^α dt = (∫_{S^{d−1}} t^α dσ) · ∫_0^1 κ(r) r^{|α|+d−1} dr, with the radial
// integral of the polynomial profiles written out by hand.
double epanechnikov_radial(int k) { return 1.0 / (k + 1) - 1.0 / (k + 3); }  // ∫(1−r²) r^k
double tricube_radial(int k) {  // ∫(1−r³)³ r^k = ∫(1 − 3r³ + 3r⁶ − r⁹) r^k
  return 1.0 / (k + 1) - 3.0 / (k + 4) + 3.0 / (k + 7) - 1.0 / (k + 10);
}

double rule_integral(const BallQuadrature& q, const std::function<double(const double*, double)>& f) {
  double s = 0.0;
  for (int i = 0; i < q.size(); ++i) s += q.weights[i] * f(q.points.col(i).data(), q.radii[i]);
  return s;
}

double monomial(const double* t, const std::vector<int>& a) {
  double v = 1.0;
  for (std::size_t i = 0; i < a.size(); ++i) v *= std::pow(t[i], a[i]);
  return v;
}

// All exponent vectors of total degree k in d variables.
std::vector<std::vector<int>> exponents(int d, int k) {
  std::vector<std::vector<int>> out;
  std::vector<int> a(d, 0);
  std::function<void(int, int)> rec = [&](int pos, int left) {
    if (pos == d - 1) {
      a[pos] = left;
      out.push_back(a);
      return;
    }
    for (int v = 0; v <= left; ++v) {
      a[pos] = v;
      rec(pos + 1, left - v);
    }
  };
  rec(0, k);
  return out;
}

// Composite Simpson on [a, b] with n (even) panels: an independent 1-D reference.
double simpson(const std::function<double(double)>& f, double a, double b, int n) {
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += f(a + i * h) * (i % 2 ? 4.0 : 2.0);
  return s * h / 3.0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(gauss_legendre_exact_to_degree_2m_minus_1_and_not_beyond) {
  for (int m = 1; m <= 20; ++m) {
    const GaussLegendre rule = gauss_legendre(m, -0.5, 2.0);
    for (int k = 0; k <= 2 * m; ++k) {
      double s = 0.0;
      for (int i = 0; i < m; ++i) s += rule.weights[i] * std::pow(rule.nodes[i], k);
      const double exact = (std::pow(2.0, k + 1) - std::pow(-0.5, k + 1)) / (k + 1);
      if (k <= 2 * m - 1)
        BOOST_TEST(std::abs(s - exact) <= 1e-13 * std::max(1.0, std::abs(exact)), "m=" << m << " k=" << k);
      else if (m <= 8)  // beyond ~8 the degree-2m error is itself below rounding
        BOOST_TEST(std::abs(s - exact) > 1e-10 * std::abs(exact), "m=" << m << " k=" << k);
    }
    for (int i = 1; i < m; ++i) BOOST_TEST(rule.nodes[i] > rule.nodes[i - 1]);
  }
  BOOST_CHECK_THROW(gauss_legendre(0), std::invalid_argument);
  BOOST_CHECK_THROW(gauss_legendre(3, 1.0, 1.0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(sphere_monomial_integrals_match_known_values) {
  // d = 2: ∫ cos^a sin^b dθ
  BOOST_TEST(sphere_monomial_integral({0, 0}) == 2 * pi, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({2, 0}) == pi, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({4, 0}) == 3 * pi / 4, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({2, 2}) == pi / 4, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({1, 2}) == 0.0);
  // d = 3
  BOOST_TEST(sphere_monomial_integral({0, 0, 0}) == 4 * pi, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({2, 0, 0}) == 4 * pi / 3, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({0, 4, 0}) == 4 * pi / 5, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({2, 2, 0}) == 4 * pi / 15, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({2, 2, 2}) == 4 * pi / 105, boost::test_tools::tolerance(1e-14));
  // d = 1: the "sphere" is {−1, 1}
  BOOST_TEST(sphere_monomial_integral({4}) == 2.0, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(sphere_monomial_integral({3}) == 0.0);
  // d = 2 against a dense trapezoid in θ (independent)
  for (int a = 0; a <= 6; a += 2)
    for (int b = 0; b <= 6; b += 2) {
      const int N = 4000;
      double s = 0.0;
      for (int i = 0; i < N; ++i) {
        const double th = 2 * pi * i / N;
        s += std::pow(std::cos(th), a) * std::pow(std::sin(th), b);
      }
      s *= 2 * pi / N;
      BOOST_TEST(sphere_monomial_integral({a, b}) == s, boost::test_tools::tolerance(1e-12));
    }
}

BOOST_AUTO_TEST_CASE(ball_rule_volume_and_symmetry) {
  for (int d = 1; d <= 3; ++d)
    for (int m = 1; m <= 12; ++m) {
      if (d - 1 > 2 * m - 1) continue;  // the Jacobian r^(d−1) itself must be integrated exactly
      const BallQuadrature q = ball_quadrature(d, m, 1.7);
      const int expected_nodes = d == 1 ? 2 * m : d == 2 ? 2 * m * m : 2 * m * m * m;
      BOOST_TEST(q.size() == expected_nodes);
      BOOST_TEST(q.weights.sum() == ball_volume(d) * std::pow(1.7, d), boost::test_tools::tolerance(1e-13));
      BOOST_TEST((q.weights.array() > 0.0).all());
      BOOST_TEST(q.radii.maxCoeff() < 1.7);
    }
  BOOST_CHECK_THROW(ball_quadrature(0, 4), std::invalid_argument);
  BOOST_CHECK_THROW(ball_quadrature(4, 4), std::invalid_argument);
  BOOST_CHECK_THROW(ball_quadrature(2, 0), std::invalid_argument);
  BOOST_CHECK_THROW(ball_quadrature(2, 4, 0.0), std::invalid_argument);
  BOOST_CHECK_THROW(ball_quadrature(2, 4, -1.0), std::invalid_argument);
}

// The documented exactness: κ(r) t^α is integrated exactly when |α| ≤ 2m − 1 and
// κ(r) r^{|α|+d−1} has degree ≤ 2m − 1; Epanechnikov: |α| ≤ 2m − d − 2, tricube: |α| ≤ 2m − d − 9.
BOOST_AUTO_TEST_CASE(kernel_times_monomial_exact_up_to_the_documented_degree) {
  for (int d = 1; d <= 3; ++d)
    for (int m = 2; m <= 10; ++m) {
      const BallQuadrature q = ball_quadrature(d, m, 1.0);
      struct Profile {
        std::function<double(double)> kappa;
        std::function<double(int)> radial;
        int max_degree;
      };
      const Profile profiles[] = {
          {[](double r) { return 1.0 - r * r; }, epanechnikov_radial, 2 * m - d - 2},
          {[](double r) { const double c = 1.0 - r * r * r; return c * c * c; }, tricube_radial,
           2 * m - d - 9}};
      for (const Profile& prof : profiles)
        for (int k = 0; k <= prof.max_degree; ++k)
          for (const auto& a : exponents(d, k)) {
            const double exact = sphere_monomial_integral(a) * prof.radial(k + d - 1);
            const double got = rule_integral(
                q, [&](const double* t, double r) { return prof.kappa(r) * monomial(t, a); });
            BOOST_TEST(std::abs(got - exact) <= 1e-13, "d=" << d << " m=" << m << " k=" << k);
          }
    }
}

BOOST_AUTO_TEST_CASE(exactness_statement_is_sharp) {
  // One degree beyond the bound the rule is no longer exact: radial (Epanechnikov, t1^(2m−d−1)
  // with even degree so the angular part does not vanish) and angular (t1^(2m) in d = 2).
  for (int m = 3; m <= 8; ++m) {
    {
      const int d = 2;
      const BallQuadrature q = ball_quadrature(d, m, 1.0);
      int k = 2 * m - d - 1;
      if (k % 2) ++k;
      const std::vector<int> a{k, 0};
      const double exact = sphere_monomial_integral(a) * epanechnikov_radial(k + d - 1);
      const double got =
          rule_integral(q, [&](const double* t, double r) { return (1.0 - r * r) * monomial(t, a); });
      BOOST_TEST(std::abs(got - exact) > 1e-12, "m=" << m);
    }
    {
      // angular: the azimuth trapezoid with 2m nodes integrates cos^(2m) θ wrongly (aliasing)
      const BallQuadrature q = ball_quadrature(2, m, 1.0);
      const std::vector<int> a{2 * m, 0};
      const double exact = sphere_monomial_integral(a) / (2 * m + 2);  // κ = 1: ∫ r^{2m+1} dr
      const double got = rule_integral(q, [&](const double* t, double) { return monomial(t, a); });
      BOOST_TEST(std::abs(got - exact) > 1e-12, "m=" << m);
    }
  }
}

// Geometric convergence for the integrands the local likelihood really sees: kernel × exp(poly).
BOOST_AUTO_TEST_CASE(convergence_with_order_for_exp_polynomial_integrands) {
  // (1) Gaussian kernel over the radius-8 ball, ∫ e^{−|t|²/2 + b·t} dt = (2π)^{d/2} e^{|b|²/2}
  // up to the truncated mass: the tilted Gaussian is centred at b, so it loses about
  // e^{−(8−|b|)²/2}: 1e-10 at |b| = 1.5 (measured), < 1e-12 at |b| = 0.5 (used here).
  for (int d = 1; d <= 3; ++d) {
    Eigen::VectorXd b = Eigen::VectorXd::LinSpaced(d, 0.9, 1.4);
    b *= 0.5 / b.norm();
    const double exact = std::pow(2 * pi, 0.5 * d) * std::exp(0.5 * b.squaredNorm());
    double previous = 1e300;
    for (int m : {8, 16, 24, 32, 48}) {
      const BallQuadrature q = ball_quadrature(d, m, 8.0);
      const double got = rule_integral(q, [&](const double* t, double r) {
        double bt = 0.0;
        for (int i = 0; i < d; ++i) bt += b[i] * t[i];
        return std::exp(-0.5 * r * r + bt);
      });
      const double err = std::abs(got / exact - 1.0);
      if (m >= 32) BOOST_TEST(err < 1e-11, "d=" << d << " m=" << m);
      BOOST_TEST(err < std::max(previous, 1e-11), "d=" << d << " m=" << m);  // monotone until rounding
      previous = err;
    }
  }
  // (2) Epanechnikov on the unit ball with a quartic exponent; reference by 1-D Simpson in r of
  // the exact angular integral (d = 3, exponent c·(b·t)² + e·(b·t)⁴ depends on t only through
  // z = b·t/|b|, so ∫_{S²} reduces to 2π ∫_{−1}^{1} dz).
  {
    const double c = 0.8, e = -1.3;
    auto f = [&](double s) { return std::exp(c * s * s + e * s * s * s * s); };  // s = r z
    const double exact = simpson(
        [&](double r) {
          const double ang = 2 * pi * simpson([&](double z) { return f(r * z); }, -1.0, 1.0, 1000);
          return (1.0 - r * r) * r * r * ang;
        },
        0.0, 1.0, 1000);
    double err16 = 1.0, err4 = 0.0;
    for (int m : {4, 8, 16}) {
      const BallQuadrature q = ball_quadrature(3, m, 1.0);
      const double got = rule_integral(q, [&](const double* t, double r) {
        const double s = (t[0] + t[1] + t[2]) / std::sqrt(3.0);
        return (1.0 - r * r) * f(s);
      });
      const double err = std::abs(got / exact - 1.0);
      if (m == 4) err4 = err;
      if (m == 16) err16 = err;
    }
    BOOST_TEST(err16 < 1e-10);
    BOOST_TEST(err4 > err16);
  }
}
