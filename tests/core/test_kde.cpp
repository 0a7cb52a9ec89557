#define BOOST_TEST_MODULE kde
#include <boost/test/unit_test.hpp>

#include <functional>
#include <limits>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/kde.hpp"
#include "test_helpers.hpp"

using namespace scorefarm;
using namespace testing_ref;

namespace {

using Fn = std::function<double(const Eigen::VectorXd&)>;

Fn partial(Fn F, int i, double eps) {
  return [F, i, eps](const Eigen::VectorXd& x) {
    Eigen::VectorXd y = x;
    auto at = [&](double k) {
      y(i) = x(i) + k * eps;
      return F(y);
    };
    return (at(-2) - 8 * at(-1) + 8 * at(1) - at(2)) / (12 * eps);
  };
}

Dense fd_tensor(const Fn& F, const Eigen::VectorXd& x, int m, double eps) {
  Dense T(static_cast<int>(x.size()), m);
  for (std::size_t k = 0; k < T.a.size(); ++k) {
    Fn G = F;
    for (int i : T.multi(k)) G = partial(G, i, eps);
    T.a[k] = G(x);
  }
  return T;
}

double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 1.0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  return max_abs_diff(a, b) / scale;
}

// The raw Hermite form of the issue text, computed independently: with E = E_w,
// S1 = −E[u]/h, S2 = (E[uu] − I)/h², S3 = −(E[u⊗3] − 3 sym(E[u]⊗I))/h³,
// S4 = (E[u⊗4] − 6 sym(E[uu]⊗I) + 3 sym(I⊗I))/h⁴.
void hermite_scores(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h, Dense& S1, Dense& S2,
                    Dense& S3, Dense& S4) {
  const int d = static_cast<int>(X.rows());
  Dense E1(d, 1), E2(d, 2), E3(d, 3), E4(d, 4);
  double M0 = 0;
  for (int i = 0; i < X.cols(); ++i) {
    const Eigen::VectorXd u = (x - X.col(i)) / h;
    const double w = std::exp(-0.5 * u.squaredNorm());
    const Dense U = from_vector(u);
    const Dense U2 = outer(U, U), U3 = outer(U2, U), U4 = outer(U3, U);
    E1 = E1 + U * w;
    E2 = E2 + U2 * w;
    E3 = E3 + U3 * w;
    E4 = E4 + U4 * w;
    M0 += w;
  }
  E1 = E1 * (1 / M0);
  E2 = E2 * (1 / M0);
  E3 = E3 * (1 / M0);
  E4 = E4 * (1 / M0);
  const Dense I = from_matrix(Eigen::MatrixXd::Identity(d, d));
  S1 = E1 * (-1 / h);
  S2 = (E2 + I * -1.0) * (1 / (h * h));
  S3 = (E3 + sym(outer(E1, I)) * -3.0) * (-1 / (h * h * h));
  S4 = (E4 + sym(outer(E2, I)) * -6.0 + sym(outer(I, I)) * 3.0) * (1 / (h * h * h * h));
}

}  // namespace

BOOST_AUTO_TEST_CASE(kde_scores_match_finite_differences_and_hermite_form) {
  for (int d : {1, 2, 3}) {
    auto dist = make_distribution(preset_distribution("paper_mixture", d));
    Eigen::MatrixXd X(d, 25);
    Stream s(40 + d, 0, 0);
    dist->sample(s, X);
    const Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(d, 0.3, -0.4);
    const double h = 0.7;
    const KdeEstimate K = kde_scores(X, x, h);
    BOOST_TEST(!(K.status & status::failed));
    const Fn f = [&](const Eigen::VectorXd& y) {
      double sum = 0;
      for (int i = 0; i < X.cols(); ++i) sum += std::exp(-(y - X.col(i)).squaredNorm() / (2 * h * h));
      return sum;
    };
    const double f0 = f(x);
    BOOST_TEST(rel_err(from_vector(K.scores.S1).a, (fd_tensor(f, x, 1, 1e-3) * (1 / f0)).a) < 1e-9);
    BOOST_TEST(rel_err(from_matrix(K.scores.S2).a, (fd_tensor(f, x, 2, 2e-3) * (1 / f0)).a) < 1e-8);
    BOOST_TEST(rel_err(K.scores.S3.data, (fd_tensor(f, x, 3, 5e-3) * (1 / f0)).a) < 1e-6, "d=" << d);
    BOOST_TEST(rel_err(K.scores.S4.data, (fd_tensor(f, x, 4, 1e-2) * (1 / f0)).a) < 1e-5, "d=" << d);
    Dense S1(d, 1), S2(d, 2), S3(d, 3), S4(d, 4);
    hermite_scores(X, x, h, S1, S2, S3, S4);
    BOOST_TEST(rel_err(K.scores.S3.data, S3.a) < 1e-12);
    BOOST_TEST(rel_err(K.scores.S4.data, S4.a) < 1e-12);
    BOOST_TEST(rel_err(from_matrix(K.scores.S2).a, S2.a) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(kde_far_query_and_degenerate_inputs) {
  auto dist = make_distribution(preset_distribution("gaussian", 2));
  Eigen::MatrixXd X(2, 500);
  Stream s(50, 0, 0);
  dist->sample(s, X);
  // Far away: weights underflow in a naive sum; the result stays finite (one dominant point).
  const KdeEstimate far = kde_scores(X, Eigen::Vector2d(40.0, 0.0), 0.5);
  BOOST_TEST(far.scores.S4.data.size() == 16u);
  BOOST_TEST((far.status & status::low_ess));
  BOOST_TEST(!(far.status & status::failed));
  for (double v : far.scores.S4.data) BOOST_TEST(std::isfinite(v));
  for (double h : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    const KdeEstimate E = kde_scores(X, Eigen::Vector2d(0.0, 0.0), h);
    BOOST_TEST((E.status & status::failed));
  }
  BOOST_TEST((kde_scores(Eigen::MatrixXd(2, 0), Eigen::Vector2d(0, 0), 1.0).status & status::failed));
}
