#define BOOST_TEST_MODULE training_losses
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <memory>
#include <vector>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/rng.hpp"
#include "scorefarm/core/score_tensors.hpp"
#include "scorefarm/training/activation.hpp"
#include "scorefarm/training/losses.hpp"
#include "scorefarm/training/teacher.hpp"

using namespace scorefarm;
using namespace scorefarm::training;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

MatrixXd random_matrix(int r, int c, Stream& s, double scale = 1.0) {
  MatrixXd M(r, c);
  for (int j = 0; j < c; ++j)
    for (int i = 0; i < r; ++i) M(i, j) = scale * s.normal();
  return M;
}

// A spread of input distributions in dimension d, all through core's specs.
std::vector<DistributionSpec> test_distributions(int d) {
  std::vector<DistributionSpec> out;
  Stream s(7, 7, 7, 7);
  // General Gaussian: non-zero mean, correlated covariance.
  DistributionSpec g = preset_distribution("gaussian", d);
  const MatrixXd R = random_matrix(d, d, s, 0.4);
  g.components[0].cov = MatrixXd::Identity(d, d) + R * R.transpose();
  g.components[0].mean = random_matrix(d, 1, s, 0.5);
  g.name = "gaussian_general";
  out.push_back(g);
  out.push_back(preset_distribution("paper_mixture", d));
  // A mixture whose components have different covariances (different linear maps L_c).
  DistributionSpec m = preset_distribution("paper_mixture", d);
  m.components[1].cov = 0.5 * MatrixXd::Identity(d, d) + 0.1 * R * R.transpose();
  m.components[0].weight = 0.3;
  m.components[1].weight = 0.7;
  m.name = "mixture_unequal";
  out.push_back(m);
  DistributionSpec l = preset_distribution("laplace", d);
  l.laplace_scale = 1.3;
  out.push_back(l);
  out.push_back(preset_distribution("student_t", d));
  return out;
}

struct Problem {
  MatrixXd X;
  VectorXd y;
  MatrixXd A;
  VectorXd w;
};

Problem make_problem(const DistributionSpec& spec, int k, Index n, Activation act,
                     std::uint64_t seed) {
  auto dist = make_distribution(spec);
  Problem p;
  p.X.resize(spec.d, n);
  Stream s(seed, 1, 0, 0);
  dist->sample(s, p.X);
  TeacherSpec ts;
  ts.matrix = TeacherSpec::Matrix::orthogonal;
  ts.weights = TeacherSpec::Weights::random_signs;
  ts.activation = act;
  ts.noise = 0.1;
  Stream st(seed, 1, 0, 2);
  const Teacher t = make_teacher(ts, spec.d, k, st);
  p.y = teacher_labels(t, p.X, s);
  Stream sa(seed, 1, 0, 1);
  p.A = random_matrix(k, spec.d, sa, 0.6);
  p.w = random_matrix(k, 1, sa);
  return p;
}

// Relative error ‖g − g_fd‖ / ‖g‖ of the analytic gradient against central differences.
double gradient_error(const Loss& loss, const MatrixXd& A, const VectorXd& w,
                      const std::vector<Index>* batch, bool check_w = false) {
  MatrixXd gA;
  VectorXd gw;
  loss.evaluate(A, w, batch, &gA, &gw);
  double num = 0, den = 0;
  for (Index i = 0; i < A.rows(); ++i)
    for (Index j = 0; j < A.cols(); ++j) {
      const double h = 1e-5 * std::max(1.0, std::abs(A(i, j)));
      MatrixXd Ap = A, Am = A;
      Ap(i, j) += h;
      Am(i, j) -= h;
      const double fd = (loss.evaluate(Ap, w, batch, nullptr, nullptr) -
                         loss.evaluate(Am, w, batch, nullptr, nullptr)) /
                        (2 * h);
      num += (fd - gA(i, j)) * (fd - gA(i, j));
      den += gA(i, j) * gA(i, j);
    }
  if (check_w)
    for (Index i = 0; i < w.size(); ++i) {
      const double h = 1e-5;
      VectorXd wp = w, wm = w;
      wp(i) += h;
      wm(i) -= h;
      const double fd = (loss.evaluate(A, wp, batch, nullptr, nullptr) -
                         loss.evaluate(A, wm, batch, nullptr, nullptr)) /
                        (2 * h);
      num += (fd - gw(i)) * (fd - gw(i));
      den += gw(i) * gw(i);
    }
  BOOST_TEST_REQUIRE(den > 0);
  return std::sqrt(num / den);
}

}  // namespace

BOOST_AUTO_TEST_CASE(score_loss_gradients_match_finite_differences) {
  const int d = 3, k = 3;
  int checked = 0;
  for (const auto& spec : test_distributions(d)) {
    const Problem p = make_problem(spec, k, 40, Activation::softplus, 11);
    std::vector<ScoreModel> models;
    models.push_back(exact_score_model(spec, p.X));
    models.push_back(gaussian_forms_model(p.X));
    for (std::size_t mi = 0; mi < models.size(); ++mi)
      for (auto reg : {LossSpec::Regulariser::norm, LossSpec::Regulariser::norm_squared})
        for (int sign : {1, -1}) {
          const ScoreLoss loss(models[mi], p.y, 2.5, sign, reg, 3.0);
          const double err = gradient_error(loss, p.A, p.w, nullptr);
          BOOST_TEST_INFO(spec.name << " model " << mi << " reg " << int(reg) << " sign " << sign);
          BOOST_TEST(err < 1e-6);
          ++checked;
        }
    // A minibatch with a repeated index exercises the gathered path.
    const std::vector<Index> batch{3, 17, 5, 5, 39, 0, 22};
    const ScoreLoss loss(exact_score_model(spec, p.X), p.y, 1.5, -1, LossSpec::Regulariser::norm, 0.7);
    BOOST_TEST_INFO(spec.name << " minibatch");
    BOOST_TEST(gradient_error(loss, p.A, p.w, &batch) < 1e-6);
  }
  BOOST_TEST(checked == 5 * 2 * 2 * 2);
}

BOOST_AUTO_TEST_CASE(per_sample_paths_gradients_match_finite_differences) {
  // Core's general log_derivs (G3, G4 present for the mixture and the Student-t) and the LLSFE
  // estimates, through the per-sample representation; k < d as well.
  const int d = 3;
  for (int k : {2, 3}) {
    for (const auto& spec : test_distributions(d)) {
      const Problem p = make_problem(spec, k, 30, Activation::tanh, 5);
      auto dist = make_distribution(spec);
      const ScoreLoss loss(per_sample_model(*dist, p.X), p.y, 3.0, 1,
                           LossSpec::Regulariser::norm_squared, 0.5);
      BOOST_TEST_INFO(spec.name << " k " << k);
      BOOST_TEST(gradient_error(loss, p.A, p.w, nullptr) < 1e-6);
    }
    const Problem p = make_problem(preset_distribution("paper_mixture", d), k, 60, Activation::relu, 9);
    BandwidthRule bw;
    bw.value = 0.8;
    for (bool loo : {false, true}) {
      std::uint32_t st = 0;
      const ScoreLoss loss(llsfe_model(p.X, bw, loo, st), p.y, 2.0, -1,
                           LossSpec::Regulariser::norm, 1.0);
      BOOST_TEST_INFO("llsfe loo " << loo);
      BOOST_TEST(gradient_error(loss, p.A, p.w, nullptr) < 1e-6);
      const std::vector<Index> batch{1, 2, 3, 50, 59};
      BOOST_TEST(gradient_error(loss, p.A, p.w, &batch) < 1e-6);
    }
  }
}

BOOST_AUTO_TEST_CASE(l2_gradients_match_finite_differences) {
  for (Activation act : {Activation::relu, Activation::tanh, Activation::softplus, Activation::sigmoid}) {
    for (const auto& spec : test_distributions(4)) {
      const Problem p = make_problem(spec, 3, 50, act, 3);
      for (bool learn_w : {false, true}) {
        const L2Loss loss(p.X, p.y, act, learn_w, LossSpec::Regulariser::norm, learn_w ? 0.0 : 2.0);
        BOOST_TEST_INFO(to_string(act) << " " << spec.name << " learn_w " << learn_w);
        BOOST_TEST(gradient_error(loss, p.A, p.w, nullptr, learn_w) < 1e-6);
        const std::vector<Index> batch{0, 4, 9, 49};
        BOOST_TEST(gradient_error(loss, p.A, p.w, &batch, learn_w) < 1e-6);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(fast_sums_match_brute_force_full_tensors) {
  // Σ_{i≠j} Ê[y S4(a_i,a_i,a_j,a_j)] − μ Σ_i Ê[y S4(a_i,a_i,a_i,a_i)] with the full d⁴ tensor from
  // core's scores_from_log_derivs and a plain double loop, against the (Σ)² − Σ² identities.
  const int d = 3;
  for (int k : {1, 2, 3}) {
    for (const auto& spec : test_distributions(d)) {
      const Problem p = make_problem(spec, k, 25, Activation::relu, 21);
      auto dist = make_distribution(spec);
      std::vector<LogDerivs> D;
      for (Index n = 0; n < p.X.cols(); ++n) D.push_back(dist->log_derivs(p.X.col(n)));
      const double brute = brute_force_data_part(D, p.y, p.A, 1.7);
      const ScoreLoss exact(exact_score_model(spec, p.X), p.y, 1.7, 1, LossSpec::Regulariser::norm, 0);
      const ScoreLoss general(per_sample_model(*dist, p.X), p.y, 1.7, 1, LossSpec::Regulariser::norm, 0);
      BOOST_TEST_INFO(spec.name << " k " << k << " brute " << brute);
      BOOST_TEST(std::abs(exact.data_part(p.A, nullptr, nullptr) - brute) <= 1e-9 * (1 + std::abs(brute)));
      BOOST_TEST(std::abs(general.data_part(p.A, nullptr, nullptr) - brute) <= 1e-9 * (1 + std::abs(brute)));
      // The signed loss: sign multiplies the data part only, the regulariser stays a penalty.
      const ScoreLoss neg(exact_score_model(spec, p.X), p.y, 1.7, -1, LossSpec::Regulariser::norm, 4.0);
      const double reg = regulariser(p.A, LossSpec::Regulariser::norm, 4.0, nullptr);
      BOOST_TEST(reg > 0);
      BOOST_TEST(std::abs(neg.evaluate(p.A, p.w, nullptr, nullptr, nullptr) - (-brute + reg)) <=
                 1e-9 * (1 + std::abs(brute)));
    }
  }
  // Per-sample LLSFE estimates against the brute force over the same estimates.
  const Problem p = make_problem(preset_distribution("gaussian", 2), 2, 40, Activation::relu, 4);
  BandwidthRule bw;
  bw.value = 0.9;
  std::vector<LogDerivs> D;
  for (Index n = 0; n < p.X.cols(); ++n) D.push_back(llsfe2(p.X, p.X.col(n), 0.9).log_derivs);
  std::uint32_t st = 0;
  const ScoreLoss lhat(llsfe_model(p.X, bw, false, st), p.y, 2.0, 1, LossSpec::Regulariser::norm, 0);
  const double brute = brute_force_data_part(D, p.y, p.A, 2.0);
  BOOST_TEST(std::abs(lhat.data_part(p.A, nullptr, nullptr) - brute) <= 1e-9 * (1 + std::abs(brute)));
}

BOOST_AUTO_TEST_CASE(G_equals_L_for_standard_gaussian_input) {
  const DistributionSpec spec = preset_distribution("gaussian", 4);
  const Problem p = make_problem(spec, 3, 200, Activation::relu, 8);
  const ScoreLoss G(gaussian_forms_model(p.X), p.y, 30, -1, LossSpec::Regulariser::norm, 5);
  const ScoreLoss L(exact_score_model(spec, p.X), p.y, 30, -1, LossSpec::Regulariser::norm, 5);
  MatrixXd gG, gL;
  const double vG = G.evaluate(p.A, p.w, nullptr, &gG, nullptr);
  const double vL = L.evaluate(p.A, p.w, nullptr, &gL, nullptr);
  BOOST_TEST(std::abs(vG - vL) <= 1e-12 * std::abs(vG));
  BOOST_TEST((gG - gL).norm() <= 1e-12 * gG.norm());
  // And G differs from L where the input is not N(0, I) (the test can fail).
  const DistributionSpec lap = preset_distribution("laplace", 4);
  const Problem q = make_problem(lap, 3, 200, Activation::relu, 8);
  const ScoreLoss Gq(gaussian_forms_model(q.X), q.y, 30, -1, LossSpec::Regulariser::norm, 0);
  const ScoreLoss Lq(exact_score_model(lap, q.X), q.y, 30, -1, LossSpec::Regulariser::norm, 0);
  BOOST_TEST(std::abs(Gq.data_part(q.A, nullptr, nullptr) - Lq.data_part(q.A, nullptr, nullptr)) >
             1e-3 * std::abs(Lq.data_part(q.A, nullptr, nullptr)));
}

BOOST_AUTO_TEST_CASE(stein_identity_population_check) {
  // Gaussian input, smooth activation, unit teacher rows: by Stein's identity
  // E[y t2(x,u)] = Σ_i w*_i E[σ⁗(⟨a*_i,x⟩)] ⟨u,a*_i⟩⁴ with E[σ⁗(z)] = κ = E[σ(z)He4(z)].
  // Checked against the Monte Carlo mean within 5 standard errors, at a u where the signal is large.
  const int d = 2, k = 2;
  const Index n = 400000;
  auto dist = make_distribution(preset_distribution("gaussian", d));
  MatrixXd X(d, n);
  Stream s(99, 0, 0, 0);
  dist->sample(s, X);
  TeacherSpec ts;
  ts.matrix = TeacherSpec::Matrix::orthogonal;
  ts.activation = Activation::softplus;
  ts.weights = TeacherSpec::Weights::ones;
  Stream st(99, 0, 0, 2);
  const Teacher t = make_teacher(ts, d, k, st);
  const VectorXd y = teacher_outputs(t, X);
  const double kappa = hermite4_coefficient(Activation::softplus);
  for (int which = 0; which < 2; ++which) {
    const VectorXd u = t.A.row(which).transpose();
    // Per-sample y·t2 with the Gaussian form, for the standard error; and the loss's own value.
    VectorXd terms(n);
    for (Index j = 0; j < n; ++j) {
      const double ux = u.dot(X.col(j)), uu = u.squaredNorm();
      terms(j) = y(j) * (std::pow(ux, 4) - 6 * uu * ux * ux + 3 * uu * uu);
    }
    const double mean = terms.mean();
    const double se = std::sqrt((terms.array() - mean).square().sum() / double(n - 1) / double(n));
    double expected = 0;
    for (int i = 0; i < k; ++i) expected += t.w(i) * kappa * std::pow(u.dot(t.A.row(i)), 4);
    BOOST_TEST_INFO("kappa " << kappa << " mean " << mean << " se " << se << " expected " << expected);
    BOOST_TEST(std::abs(expected) > 8 * se);  // the check has power
    BOOST_TEST(std::abs(mean - expected) < 5 * se);
    // The loss with k = 1, μ = 1: data part = −Ê[y t2(x, u)].
    const ScoreLoss loss(exact_score_model(preset_distribution("gaussian", d), X), y, 1.0, 1,
                         LossSpec::Regulariser::norm, 0);
    BOOST_TEST(std::abs(-loss.data_part(u.transpose(), nullptr, nullptr) - mean) < 1e-9 * (1 + std::abs(mean)));
  }
}

BOOST_AUTO_TEST_CASE(population_gradient_small_at_teacher) {
  // Gaussian input, ReLU, k = d = 3, sign auto (−1): the gradient of L at A* is small compared
  // with the gradient at a random unit-row point (Theorem 2: A* is a critical point up to the
  // O(μκ/λ) norm shift, which the (‖a‖−1)² regulariser makes small for large λ).
  const int d = 3;
  const DistributionSpec spec = preset_distribution("gaussian", d);
  auto dist = make_distribution(spec);
  const Index n = 200000;
  MatrixXd X(d, n);
  Stream s(5, 0, 0, 0);
  dist->sample(s, X);
  TeacherSpec ts;
  Stream st(5, 0, 0, 2);
  const Teacher t = make_teacher(ts, d, d, st);
  const VectorXd y = teacher_outputs(t, X);
  BOOST_TEST(automatic_sign(Activation::relu) == -1);
  const ScoreLoss L(exact_score_model(spec, X), y, 0.5, -1, LossSpec::Regulariser::norm, 50.0);
  MatrixXd g_star, g_rand;
  L.evaluate(t.A, t.w, nullptr, &g_star, nullptr);
  Stream sa(5, 0, 0, 1);
  MatrixXd A = random_matrix(d, d, sa);
  A.rowwise().normalize();
  L.evaluate(A, t.w, nullptr, &g_rand, nullptr);
  BOOST_TEST_INFO("|grad at A*| " << g_star.norm() << " |grad at random| " << g_rand.norm());
  BOOST_TEST(g_star.norm() < 0.15 * g_rand.norm());
}

BOOST_AUTO_TEST_CASE(hermite_coefficients) {
  const double relu = hermite4_coefficient(Activation::relu);
  BOOST_TEST(std::abs(relu + 1.0 / std::sqrt(2 * M_PI)) < 1e-10);
  BOOST_TEST(std::abs(hermite4_coefficient(Activation::relu, 2.0) - 2 * relu) < 1e-10);
  BOOST_TEST(std::abs(hermite4_coefficient(Activation::tanh)) < 1e-12);
  BOOST_TEST(std::abs(hermite4_coefficient(Activation::sigmoid)) < 1e-12);
  // softplus: E[σ⁗(z)] = E[sigmoid'''(z)] = ∫ s(1−s)(1−6s+6s²) φ, by a separate quadrature.
  double ref = 0;
  const double h = 1e-3;
  for (int i = -14000; i <= 14000; ++i) {
    const double z = i * h, sg = 1 / (1 + std::exp(-z));
    const double w = (i == -14000 || i == 14000) ? 0.5 : 1.0;
    ref += w * h * sg * (1 - sg) * (1 - 6 * sg + 6 * sg * sg) * std::exp(-z * z / 2) / std::sqrt(2 * M_PI);
  }
  BOOST_TEST(std::abs(hermite4_coefficient(Activation::softplus) - ref) < 1e-8);
  BOOST_CHECK_THROW(automatic_sign(Activation::tanh), std::invalid_argument);
  BOOST_TEST(automatic_sign(Activation::softplus) == (ref > 0 ? 1 : -1));
}

BOOST_AUTO_TEST_CASE(activation_derivatives) {
  for (Activation a : {Activation::relu, Activation::tanh, Activation::softplus, Activation::sigmoid})
    for (double z : {-30.0, -2.0, -0.3, 0.4, 1.7, 40.0}) {
      const double h = 1e-6;
      const double fd = (activate(a, z + h) - activate(a, z - h)) / (2 * h);
      BOOST_TEST(std::abs(fd - activate_derivative(a, z)) < 1e-8);
      BOOST_TEST(std::isfinite(activate(a, 800 * z)));
    }
}

BOOST_AUTO_TEST_CASE(teacher_matrices) {
  Stream s(1, 2, 3, 4);
  const MatrixXd Q = random_orthogonal(6, s);
  BOOST_TEST((Q.transpose() * Q - MatrixXd::Identity(6, 6)).norm() < 1e-12);
  TeacherSpec ts;
  ts.matrix = TeacherSpec::Matrix::conditioned;
  ts.condition = 100;
  const Teacher t = make_teacher(ts, 5, 4, s);
  Eigen::JacobiSVD<MatrixXd> svd(t.A);
  const VectorXd sv = svd.singularValues();
  BOOST_TEST(std::abs(sv(0) - 1.0) < 1e-12);
  BOOST_TEST(std::abs(sv(0) / sv(3) - 100.0) < 1e-8);
  ts.matrix = TeacherSpec::Matrix::identity;
  ts.weights = TeacherSpec::Weights::random_signs;
  const Teacher ti = make_teacher(ts, 5, 3, s);
  BOOST_TEST((ti.A - MatrixXd::Identity(3, 5)).norm() == 0.0);
  BOOST_TEST((ti.w.array().abs() == 1.0).all());
  // Same stream position, same teacher: keyed by the stream only.
  Stream a(4, 4, 4, 2), b(4, 4, 4, 2);
  ts.matrix = TeacherSpec::Matrix::orthogonal;
  BOOST_TEST((make_teacher(ts, 4, 4, a).A - make_teacher(ts, 4, 4, b).A).norm() == 0.0);
  BOOST_CHECK_THROW(make_teacher(ts, 3, 4, a), std::invalid_argument);
}
