#define BOOST_TEST_MODULE training_metrics
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "scorefarm/core/rng.hpp"
#include "scorefarm/training/activation.hpp"
#include "scorefarm/training/metrics.hpp"
#include "scorefarm/training/optimiser.hpp"
#include "scorefarm/training/teacher.hpp"

using namespace scorefarm;
using namespace scorefarm::training;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// Signed permutation matrix: row i has sign s[i] in column perm[i].
MatrixXd signed_permutation(const std::vector<int>& perm, const std::vector<double>& s) {
  const int k = int(perm.size());
  MatrixXd P = MatrixXd::Zero(k, k);
  for (int i = 0; i < k; ++i) P(i, perm[i]) = s[std::size_t(i)];
  return P;
}

MatrixXd teacher_of(TeacherSpec::Matrix m, int d, int k, std::uint64_t seed) {
  TeacherSpec ts;
  ts.matrix = m;
  ts.condition = 20;
  Stream s(seed, 0, 0, 2);
  return make_teacher(ts, d, k, s).A;
}

}  // namespace

BOOST_AUTO_TEST_CASE(exact_signed_permutation_scores_zero) {
  const std::vector<int> perm{2, 0, 3, 1};
  const std::vector<double> sg{1, -1, -1, 1};
  const std::vector<double> scale{1.0, 2.5, 0.3, 1.0};
  for (auto m : {TeacherSpec::Matrix::identity, TeacherSpec::Matrix::orthogonal,
                 TeacherSpec::Matrix::conditioned}) {
    const MatrixXd As = teacher_of(m, 6, 4, 3);
    // a_i = c_i · (±a*_perm(i)): any positive rescaling of a row is still exact.
    MatrixXd A = signed_permutation(perm, sg) * As;
    for (int i = 0; i < 4; ++i) A.row(i) *= scale[std::size_t(i)];
    const ParameterError pe = parameter_error(A, teacher_pseudo_inverse(As));
    BOOST_TEST_INFO("matrix " << int(m));
    BOOST_TEST(std::abs(pe.row) < 1e-12);
    BOOST_TEST(std::abs(pe.column) < 1e-12);
    const MatchingError me = matching_error(A, As);
    if (m != TeacherSpec::Matrix::conditioned) {  // cosines need orthogonal teacher rows
      BOOST_TEST(me.max < 1e-12);
      BOOST_TEST(me.mean < 1e-12);
      BOOST_TEST(me.assignment == perm);
    }
  }
}

BOOST_AUTO_TEST_CASE(near_permutation_scores_its_angle) {
  // Row i = ±(cos θ a*_π(i) + sin θ a*_π(i+1)), scaled: every |M_ij| is cos θ on the matched entry
  // and sin θ or 0 elsewhere, so row, column and matching errors all equal 1 − cos θ.
  const int k = 5, d = 7;
  const double theta = 0.1;
  const std::vector<int> perm{3, 1, 4, 0, 2};
  for (auto m : {TeacherSpec::Matrix::identity, TeacherSpec::Matrix::orthogonal}) {
    const MatrixXd As = teacher_of(m, d, k, 8);
    MatrixXd A(k, d);
    for (int i = 0; i < k; ++i)
      A.row(i) = (i % 2 ? -1.7 : 0.8) * (std::cos(theta) * As.row(perm[std::size_t(i)]) +
                                         std::sin(theta) * As.row(perm[std::size_t((i + 1) % k)]));
    const double expected = 1 - std::cos(theta);  // 0.0049958...
    const ParameterError pe = parameter_error(A, teacher_pseudo_inverse(As));
    BOOST_TEST(std::abs(pe.row - expected) < 1e-12);
    BOOST_TEST(std::abs(pe.column - expected) < 1e-12);
    BOOST_TEST(std::abs(pe.lenient() - expected) < 1e-12);
    const MatchingError me = matching_error(A, As);
    BOOST_TEST(std::abs(me.max - expected) < 1e-12);
    BOOST_TEST(std::abs(me.mean - expected) < 1e-12);
    BOOST_TEST(me.assignment == perm);
  }
  // One row off by θ, the others exact: row and column error 1 − cos θ, mean matching (1 − cos θ)/k.
  MatrixXd A = MatrixXd::Identity(k, k);
  A.row(2) << 0, 0, std::cos(0.3), std::sin(0.3), 0;
  const ParameterError pe = parameter_error(A, teacher_pseudo_inverse(MatrixXd::Identity(k, k)));
  BOOST_TEST(std::abs(pe.row - (1 - std::cos(0.3))) < 1e-12);
  BOOST_TEST(std::abs(pe.column - (1 - std::cos(0.3))) < 1e-12);  // column 2 has only row 2
  BOOST_TEST(std::abs(pe.lenient() - (1 - std::cos(0.3))) < 1e-12);
  const MatchingError me = matching_error(A, MatrixXd::Identity(k, k));
  BOOST_TEST(std::abs(me.max - (1 - std::cos(0.3))) < 1e-12);
  BOOST_TEST(std::abs(me.mean - (1 - std::cos(0.3)) / k) < 1e-12);
}

BOOST_AUTO_TEST_CASE(collapsed_rows_fool_eq22_not_the_matching) {
  for (int k : {2, 5, 12}) {  // 12 > 8: the Hungarian path
    const MatrixXd As = teacher_of(TeacherSpec::Matrix::orthogonal, k + 1, k, 4);
    MatrixXd A(k, k + 1);
    for (int i = 0; i < k; ++i) A.row(i) = (1.0 + 0.1 * i) * As.row(0);  // all onto a*_1
    const ParameterError pe = parameter_error(A, teacher_pseudo_inverse(As));
    BOOST_TEST_INFO("k " << k);
    BOOST_TEST(std::abs(pe.row) < 1e-12);         // every a_i is near some a*_j ...
    BOOST_TEST(std::abs(pe.column - 1) < 1e-12);  // ... but a*_2.. have no a_i near them
    BOOST_TEST(std::abs(pe.lenient()) < 1e-12);   // eq. 22 reads "perfect"
    BOOST_TEST(std::abs(pe.strict() - 1) < 1e-12);
    const MatchingError me = matching_error(A, As);
    BOOST_TEST(std::abs(me.max - 1) < 1e-12);
    BOOST_TEST(std::abs(me.mean - double(k - 1) / k) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(metrics_of_nonfinite_rows_are_infinite) {
  MatrixXd A = MatrixXd::Identity(3, 3);
  A(1, 1) = std::numeric_limits<double>::quiet_NaN();
  const ParameterError pe = parameter_error(A, teacher_pseudo_inverse(MatrixXd::Identity(3, 3)));
  BOOST_TEST(std::isinf(pe.lenient()));
  BOOST_TEST(std::isinf(matching_error(A, MatrixXd::Identity(3, 3)).max));
}

BOOST_AUTO_TEST_CASE(hungarian_matches_exhaustive_search) {
  Stream s(12, 0, 0, 0);
  for (int k = 1; k <= 8; ++k)
    for (int rep = 0; rep < 20; ++rep) {
      MatrixXd C(k, k);
      for (int j = 0; j < k; ++j)
        for (int i = 0; i < k; ++i) C(i, j) = rep % 3 == 0 ? double(s.bits() % 4) : s.uniform();
      const auto h = hungarian(C), e = exhaustive_assignment(C);
      double ch = 0, ce = 0;
      for (int i = 0; i < k; ++i) {
        ch += C(i, h[std::size_t(i)]);
        ce += C(i, e[std::size_t(i)]);
      }
      BOOST_TEST(std::set<int>(h.begin(), h.end()).size() == std::size_t(k));  // a permutation
      BOOST_TEST(std::abs(ch - ce) < 1e-12);  // ties allowed: compare costs
    }
}

BOOST_AUTO_TEST_CASE(refit_recovers_the_second_layer) {
  Stream s(2, 0, 0, 0);
  const int d = 4, k = 3;
  const Index n = 500;
  MatrixXd X(d, n);
  for (Index j = 0; j < n; ++j)
    for (int i = 0; i < d; ++i) X(i, j) = s.normal();
  TeacherSpec ts;
  ts.matrix = TeacherSpec::Matrix::orthogonal;
  ts.activation = Activation::relu;
  Stream st(2, 0, 0, 2);
  Teacher t = make_teacher(ts, d, k, st);
  t.w << 0.5, -2.0, 1.25;
  const VectorXd y = teacher_outputs(t, X);
  const VectorXd w = refit_second_layer(t.A, t.activation, X, y);
  BOOST_TEST((w - t.w).norm() < 1e-10);
  BOOST_TEST(network_mse(t.A, w, t.activation, X, y) < 1e-20);
  // network_mse against a direct loop.
  const VectorXd w2 = VectorXd::Constant(k, 0.7);
  double ref = 0;
  for (Index j = 0; j < n; ++j) {
    double yh = 0;
    for (int i = 0; i < k; ++i) yh += w2(i) * std::max(0.0, t.A.row(i).dot(X.col(j)));
    ref += (yh - y(j)) * (yh - y(j)) / double(n);
  }
  BOOST_TEST(std::abs(network_mse(t.A, w2, t.activation, X, y) - ref) < 1e-12 * ref);
  // Collapsed features (rank 1): a minimum-residual fit, not a failure.
  MatrixXd Ac(k, d);
  for (int i = 0; i < k; ++i) Ac.row(i) = t.A.row(0);
  const VectorXd wc = refit_second_layer(Ac, t.activation, X, y);
  BOOST_TEST(wc.allFinite());
}

BOOST_AUTO_TEST_CASE(log_schedule_and_learning_rates) {
  for (std::int64_t T : {1, 2, 10, 39, 40, 1000, 10000})
    for (int p : {2, 3, 10, 40}) {
      if (p > T + 1) {
        BOOST_CHECK_THROW(log_schedule(T, p), std::invalid_argument);
        continue;
      }
      const auto v = log_schedule(T, p);
      BOOST_TEST(v.size() == std::size_t(p));
      BOOST_TEST(v.front() == 0);
      BOOST_TEST(v.back() == T);
      for (std::size_t j = 1; j < v.size(); ++j) BOOST_TEST(v[j] > v[j - 1]);
    }
  OptimiserSpec o;
  o.lr = 0.1;
  BOOST_TEST(learning_rate(o, 1234) == 0.1);
  o.schedule = OptimiserSpec::Schedule::inverse_time;
  o.decay = 0.5;
  BOOST_TEST(std::abs(learning_rate(o, 4) - 0.1 / 3.0) < 1e-15);
  o.schedule = OptimiserSpec::Schedule::step;
  o.step_every = 10;
  o.step_factor = 0.5;
  BOOST_TEST(learning_rate(o, 9) == 0.1);
  BOOST_TEST(std::abs(learning_rate(o, 25) - 0.025) < 1e-15);
}

BOOST_AUTO_TEST_CASE(minibatches_are_distinct_and_keyed) {
  Stream a(1, 2, 3, 16), b(1, 2, 3, 16), c(1, 2, 3, 17);
  const auto x = sample_minibatch(a, 100, 30), y = sample_minibatch(b, 100, 30),
             z = sample_minibatch(c, 100, 30);
  BOOST_TEST(x == y);
  BOOST_TEST(x != z);
  BOOST_TEST(std::set<Index>(x.begin(), x.end()).size() == 30u);
  BOOST_TEST(*std::max_element(x.begin(), x.end()) < 100);
  const auto all = sample_minibatch(a, 10, 10);
  BOOST_TEST(std::set<Index>(all.begin(), all.end()).size() == 10u);
  Stream r(5, 5, 5, 1);
  const MatrixXd A = initial_rows(4, 6, r);
  BOOST_TEST((A.rowwise().norm().array() - 1.0).abs().maxCoeff() < 1e-14);
}
