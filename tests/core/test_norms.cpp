#define BOOST_TEST_MODULE norms
#include <boost/test/unit_test.hpp>

#include "scorefarm/core/norms.hpp"
#include "scorefarm/core/score_tensors.hpp"
#include "test_helpers.hpp"

using namespace scorefarm;
using namespace testing_ref;

namespace {
double angle_value(const Tensor& T, double t) {
  const double u[2] = {std::cos(t), std::sin(t)};
  double s = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 2; ++k)
        for (int l = 0; l < 2; ++l) s += T(i, j, k, l) * u[i] * u[j] * u[k] * u[l];
  return s;
}
}  // namespace

BOOST_AUTO_TEST_CASE(spectral_norm_of_symmetric_matrices) {
  Stream s(60, 0, 0);
  for (int d = 1; d <= 5; ++d)
    for (int rep = 0; rep < 20; ++rep) {
      const Eigen::MatrixXd E = random_sym(s, d);
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(E);
      const double ref = es.eigenvalues().cwiseAbs().maxCoeff();
      BOOST_TEST(std::abs(spectral_norm_sym(E) - ref) < 1e-13 * (1 + ref), "d=" << d);
      // Equals the operator 2-norm for symmetric matrices.
      Eigen::JacobiSVD<Eigen::MatrixXd> svd(E);
      BOOST_TEST(std::abs(spectral_norm_sym(E) - svd.singularValues()(0)) < 1e-12 * (1 + ref));
    }
}

BOOST_AUTO_TEST_CASE(frobenius) {
  Tensor T(2, 4);
  for (std::size_t i = 0; i < T.size(); ++i) T.data[i] = static_cast<double>(i) - 3.0;
  double s = 0;
  for (double v : T.data) s += v * v;
  BOOST_TEST(frobenius_norm(T) == std::sqrt(s));
}

BOOST_AUTO_TEST_CASE(s4_spectral_d2_matches_a_dense_brute_force_grid) {
  Stream s(61, 0, 0);
  for (int rep = 0; rep < 30; ++rep) {
    const Tensor T = random_sym_tensor(s, 2, 4);
    const SpectralResult r = spectral_norm_sym4(T);
    BOOST_TEST(r.exact);
    double grid = 0;
    const int N = 2000000;
    for (int k = 0; k < N; ++k) grid = std::max(grid, std::abs(angle_value(T, M_PI * k / N)));
    // Grid misses the peak by at most ½ p'' (π/2N)² ~ 1e-12·|T|; the exact value can't be lower.
    BOOST_TEST(r.value >= grid * (1 - 1e-14));
    BOOST_TEST(r.value - grid < 1e-11 * (1 + grid), "exact " << r.value << " grid " << grid);
  }
  // Known cases: the Gaussian S4 at x = 0 is 3 sym(I⊗I): T(u,u,u,u) = 3|u|⁴ → 3.
  Tensor I4(2, 4);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 2; ++k)
        for (int l = 0; l < 2; ++l) I4(i, j, k, l) = (i == j && k == l) + (i == k && j == l) + (i == l && j == k);
  BOOST_TEST(std::abs(spectral_norm_sym4(I4).value - 3.0) < 1e-14);
  // Rank one: λ v^⊗4 with |v| = 1 at an off-grid angle → |λ|.
  Tensor R(2, 4);
  const double v[2] = {std::cos(0.1234567), std::sin(0.1234567)};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 2; ++k)
        for (int l = 0; l < 2; ++l) R(i, j, k, l) = -2.5 * v[i] * v[j] * v[k] * v[l];
  BOOST_TEST(std::abs(spectral_norm_sym4(R).value - 2.5) < 1e-14);
}

BOOST_AUTO_TEST_CASE(s4_spectral_d1_and_d_above_2_flagged) {
  Tensor one(1, 4);
  one.data[0] = -4.0;
  BOOST_TEST(spectral_norm_sym4(one).value == 4.0);
  BOOST_TEST(spectral_norm_sym4(one).exact);
  Stream s(62, 0, 0);
  for (int rep = 0; rep < 5; ++rep) {
    const Tensor T = random_sym_tensor(s, 3, 4);
    const SpectralResult r = spectral_norm_sym4(T);
    BOOST_TEST(!r.exact);
    // Brute force over a sphere grid (a lower bound too); the multistart bound should reach it.
    double grid = 0;
    const int N = 400;
    for (int a = 0; a <= N; ++a)
      for (int b = 0; b < 2 * N; ++b) {
        const double th = M_PI * a / N, ph = M_PI * b / N;
        const Eigen::Vector3d u(std::sin(th) * std::cos(ph), std::sin(th) * std::sin(ph), std::cos(th));
        grid = std::max(grid, std::abs(contract4(T, u, u, u, u)));
      }
    BOOST_TEST(r.value >= grid * (1 - 1e-4), "bound " << r.value << " grid " << grid);
    BOOST_TEST(r.value <= frobenius_norm(T) * (1 + 1e-12));  // |T(u,u,u,u)| ≤ ‖T‖_F
  }
}
