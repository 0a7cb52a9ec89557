#define BOOST_TEST_MODULE scores
#include <boost/test/unit_test.hpp>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/score_tensors.hpp"
#include "test_helpers.hpp"

using namespace scorefarm;
using namespace testing_ref;

namespace {

LogDerivs random_log_derivs(Stream& s, int d, bool higher) {
  LogDerivs D;
  D.g = random_matrix(s, d, 1).col(0);
  D.G2 = random_sym(s, d);
  if (higher) {
    D.G3 = random_sym_tensor(s, d, 3);
    D.G4 = random_sym_tensor(s, d, 4);
  }
  return D;
}

// SPEC §1 written with the explicit permutation-average sym and binomial multiplicities.
void brute_scores(const LogDerivs& D, Dense& S3, Dense& S4) {
  const int d = D.dim();
  const Dense g = from_vector(D.g), G2 = from_matrix(D.G2);
  const Dense G3 = D.G3.empty() ? Dense(d, 3) : from_tensor(D.G3);
  const Dense G4 = D.G4.empty() ? Dense(d, 4) : from_tensor(D.G4);
  S3 = outer(outer(g, g), g) + sym(outer(G2, g)) * 3.0 + G3;
  S4 = outer(outer(outer(g, g), g), g) + sym(outer(outer(G2, g), g)) * 6.0 + sym(outer(G2, G2)) * 3.0 +
       sym(outer(G3, g)) * 4.0 + G4;
}

}  // namespace

BOOST_AUTO_TEST_CASE(scores_match_brute_force_full_tensors) {
  Stream s(11, 0, 0);
  for (int d = 1; d <= 4; ++d)
    for (int higher = 0; higher <= 1; ++higher) {
      const LogDerivs D = random_log_derivs(s, d, higher);
      const Scores S = scores_from_log_derivs(D);
      Dense S3(d, 3), S4(d, 4);
      brute_scores(D, S3, S4);
      BOOST_TEST((S.S1 - D.g).norm() == 0.0);
      BOOST_TEST((S.S2 - (D.g * D.g.transpose() + D.G2)).norm() < 1e-14);
      BOOST_TEST(max_abs_diff(S.S3.data, S3.a) < 1e-12, "d=" << d << " S3");
      BOOST_TEST(max_abs_diff(S.S4.data, S4.a) < 1e-12, "d=" << d << " S4");
      // The result is symmetric.
      BOOST_TEST(max_abs_diff(S.S4.data, sym(from_tensor(S.S4)).a) < 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(log_derivs_from_scores_inverts) {
  Stream s(12, 0, 0);
  for (int d = 1; d <= 3; ++d) {
    const LogDerivs D = random_log_derivs(s, d, true);
    const LogDerivs R = log_derivs_from_scores(scores_from_log_derivs(D));
    BOOST_TEST((R.g - D.g).norm() < 1e-13);
    BOOST_TEST((R.G2 - D.G2).norm() < 1e-12);
    BOOST_TEST(max_abs_diff(R.G3.data, D.G3.data) < 1e-11);
    BOOST_TEST(max_abs_diff(R.G4.data, D.G4.data) < 1e-10);
  }
}

BOOST_AUTO_TEST_CASE(contractions_match_full_tensor) {
  Stream s(13, 0, 0);
  for (int d = 1; d <= 5; ++d)
    for (int higher = 0; higher <= 1; ++higher) {
      const LogDerivs D = random_log_derivs(s, d, higher);
      const Scores S = scores_from_log_derivs(D);
      const Eigen::VectorXd u = random_matrix(s, d, 1).col(0), v = random_matrix(s, d, 1).col(0);
      const double scale = 1.0 + std::abs(contract4(S.S4, u, u, u, u)) + std::abs(contract4(S.S4, u, u, v, v));
      BOOST_TEST(std::abs(S4_uuvv(D, u, v) - contract4(S.S4, u, u, v, v)) < 1e-12 * scale);
      BOOST_TEST(std::abs(S4_uuuu(D, u) - contract4(S.S4, u, u, u, u)) < 1e-12 * scale);
      BOOST_TEST(std::abs(S4_uuuv(D, u, v) - contract4(S.S4, u, u, u, v)) < 1e-12 * scale,
                 "d=" << d << " higher=" << higher);
      // Symmetry of S4: every argument order gives the same contraction.
      BOOST_TEST(std::abs(contract4(S.S4, u, v, u, u) - contract4(S.S4, u, u, u, v)) < 1e-12 * scale);
    }
}

BOOST_AUTO_TEST_CASE(paper_gaussian_closed_forms) {
  // N(0, I): S2 = xxᵀ − I and S4 = x^⊗4 − 6 sym(x⊗x⊗I) + 3 sym(I⊗I) (SPEC §2).
  for (int d = 1; d <= 3; ++d) {
    auto dist = make_distribution(preset_distribution("gaussian", d));
    Stream s(14, d, 0);
    Eigen::VectorXd x = random_matrix(s, d, 1).col(0);
    const Scores S = scores_from_log_derivs(dist->log_derivs(x));
    const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(d, d);
    BOOST_TEST((S.S2 - (x * x.transpose() - I)).norm() < 1e-14);
    const Dense X = from_vector(x), Id = from_matrix(I);
    const Dense S4 = outer(outer(outer(X, X), X), X) + sym(outer(outer(X, X), Id)) * -6.0 +
                     sym(outer(Id, Id)) * 3.0;
    BOOST_TEST(max_abs_diff(S.S4.data, S4.a) < 1e-12);
    // Spot values: S4_0000 = x⁴ − 6x² + 3 (He4), S3_000 = −(x³ − 3x) (paper's sign: −He3).
    const double a = x(0);
    BOOST_TEST(std::abs(S.S4(0, 0, 0, 0) - (a * a * a * a - 6 * a * a + 3)) < 1e-12);
    BOOST_TEST(std::abs(S.S3(0, 0, 0) + (a * a * a - 3 * a)) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(inconsistent_dimensions_throw) {
  LogDerivs D;
  D.g = Eigen::VectorXd::Zero(2);
  D.G2 = Eigen::MatrixXd::Zero(3, 3);
  BOOST_CHECK_THROW(scores_from_log_derivs(D), std::invalid_argument);
}
