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
    // L̂: per-sample LLSFE (g, G2) estimated from the sample itself, for every input distribution,
    // both regularisers, both signs, with and without leave-one-out.
    for (const auto& spec : test_distributions(d)) {
      const Problem p = make_problem(spec, k, 60, Activation::relu, 9);
      BandwidthRule bw;
      bw.value = 0.9;
      for (bool loo : {false, true}) {
        std::uint32_t st = 0;
        const ScoreModel model = llsfe_model(p.X, bw, loo, st);
        BOOST_TEST((model.per_sample.weight.array() > 0).count() >= 50);  // most estimates usable
        for (auto reg : {LossSpec::Regulariser::norm, LossSpec::Regulariser::norm_squared})
          for (int sign : {1, -1}) {
            const ScoreLoss loss(model, p.y, 2.0, sign, reg, 1.0);
            BOOST_TEST_INFO("llsfe " << spec.name << " k " << k << " loo " << loo << " reg "
                                     << int(reg) << " sign " << sign);
            BOOST_TEST(gradient_error(loss, p.A, p.w, nullptr) < 1e-6);
          }
        const ScoreLoss loss(model, p.y, 2.0, -1, LossSpec::Regulariser::norm, 1.0);
        const std::vector<Index> batch{1, 2, 3, 50, 59};
        BOOST_TEST_INFO("llsfe minibatch " << spec.name);
        BOOST_TEST(gradient_error(loss, p.A, p.w, &batch) < 1e-6);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(l2_gradients_match_finite_differences) {
  for (Activation act : {Activation::relu, Activation::tanh, Activation::softplus, Activation::sigmoid}) {
    for (const auto& spec : test_distributions(4)) {
      const Problem p = make_problem(spec, 3, 50, act, 3);
      for (bool learn_w : {false, true}) {
        for (auto reg : {LossSpec::Regulariser::norm, LossSpec::Regulariser::norm_squared})
          for (double lambda : {0.0, 2.0}) {
            const L2Loss loss(p.X, p.y, act, learn_w, reg, lambda);
            BOOST_TEST_INFO(to_string(act) << " " << spec.name << " learn_w " << learn_w << " reg "
                                           << int(reg) << " lambda " << lambda);
            BOOST_TEST(gradient_error(loss, p.A, p.w, nullptr, learn_w) < 1e-6);
            const std::vector<Index> batch{0, 4, 9, 49};
            BOOST_TEST(gradient_error(loss, p.A, p.w, &batch, learn_w) < 1e-6);
          }
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

// E[σ⁗(⟨a, x⟩)] for σ = softplus and ⟨a, x⟩ ~ N(0, r²), by the trapezoid rule on the closed form
// softplus⁗ = sigmoid‴ = s(1 − s)(1 − 6s + 6s²): independent of hermite4_coefficient (which
// integrates σ·He4, the other side of Stein's identity).
double softplus_fourth_derivative_mean(double r) {
  double acc = 0;
  const double h = 1e-3;
  for (int i = -14000; i <= 14000; ++i) {
    const double z = i * h, sg = 1 / (1 + std::exp(-r * z));
    const double wt = (i == -14000 || i == 14000) ? 0.5 : 1.0;
    acc += wt * h * sg * (1 - sg) * (1 - 6 * sg + 6 * sg * sg) * std::exp(-z * z / 2) /
           std::sqrt(2 * M_PI);
  }
  return acc;
}

BOOST_AUTO_TEST_CASE(stein_identity_population_check) {
  // Gaussian input, smooth activation: by Stein's identity E[y S4(x)(u,u,v,v)] = E[∂_u²∂_v² y], so
  //   E[y t2(x,u)]   = Σ_i w*_i E[σ⁗(⟨a*_i,x⟩)] ⟨u,a*_i⟩⁴
  //   E[y t1(x,u,v)] = Σ_i w*_i E[σ⁗(⟨a*_i,x⟩)] ⟨u,a*_i⟩²⟨v,a*_i⟩²
  // and the whole data part of L at any A is Σ_i κ_i [Σ_{j≠l} ⟨a_j,a*_i⟩²⟨a_l,a*_i⟩² − μ Σ_j ⟨a_j,a*_i⟩⁴].
  // The loss's Monte Carlo value is checked against that population value within 4.5 standard
  // errors (the per-sample terms are recomputed with the Gaussian t1/t2 of SPEC §6 for the error
  // bar). Teacher rows have norm 3 so that softplus has a sizeable fourth derivative.
  const int d = 2, k = 2;
  const Index n = 1000000;
  const double r = 3.0, mu = 1.3;
  auto dist = make_distribution(preset_distribution("gaussian", d));
  MatrixXd X(d, n);
  Stream s(99, 0, 0, 0);
  dist->sample(s, X);
  TeacherSpec ts;
  ts.matrix = TeacherSpec::Matrix::orthogonal;
  ts.activation = Activation::softplus;
  Stream st(99, 0, 0, 2);
  Teacher t = make_teacher(ts, d, k, st);
  t.A *= r;
  t.w << 1.0, 0.5;  // distinct weights: the two units contribute differently
  const VectorXd y = teacher_outputs(t, X);
  const double e4 = softplus_fourth_derivative_mean(r);  // E[σ⁗(⟨a*_i, x⟩)], ‖a*_i‖ = r
  const ScoreLoss loss(exact_score_model(preset_distribution("gaussian", d), X), y, mu, 1,
                       LossSpec::Regulariser::norm, 0);
  Stream sa(3, 3, 3, 3);
  std::vector<MatrixXd> points;
  points.push_back(t.A.row(0) / r);            // k = 1: −μ Ê[y t2(x, a*_1/r)]
  points.push_back(t.A / r);                   // the teacher directions
  points.push_back(random_matrix(k, d, sa).rowwise().normalized());  // a generic point
  points.push_back(random_matrix(3, d, sa).rowwise().normalized());  // more rows than the teacher
  for (const MatrixXd& A : points) {
    double expected = 0;
    for (int i = 0; i < k; ++i) {
      const VectorXd p = A * t.A.row(i).transpose();  // ⟨a_j, a*_i⟩
      const double s2 = p.squaredNorm(), s4 = p.array().pow(4).sum();
      expected += t.w(i) * e4 * (s2 * s2 - s4 - mu * s4);
    }
    VectorXd terms(n);
    for (Index j = 0; j < n; ++j) {
      double T = 0;
      for (Index a = 0; a < A.rows(); ++a) {
        const VectorXd u = A.row(a).transpose();
        const double ux = u.dot(X.col(j)), uu = u.squaredNorm();
        for (Index b = 0; b < A.rows(); ++b) {
          const VectorXd v = A.row(b).transpose();
          const double vx = v.dot(X.col(j)), vv = v.squaredNorm(), uv = u.dot(v);
          if (a == b)
            T -= mu * (std::pow(ux, 4) - 6 * uu * ux * ux + 3 * uu * uu);
          else
            T += ux * ux * vx * vx - uu * vx * vx - vv * ux * ux - 4 * ux * vx * uv + uu * vv +
                 2 * uv * uv;
        }
      }
      terms(j) = y(j) * T;
    }
    const double mean = terms.mean();
    const double se = std::sqrt((terms.array() - mean).square().sum() / double(n - 1) / double(n));
    const double value = loss.data_part(A, nullptr, nullptr);
    BOOST_TEST_INFO("E[d4 sigma] " << e4 << " loss " << value << " mean " << mean << " se " << se
                                   << " expected " << expected << " rows " << A.rows());
    BOOST_TEST(std::abs(value - mean) < 1e-8 * (1 + std::abs(mean)));  // same sum, two codes
    BOOST_TEST(std::abs(expected) > 6 * se);                           // the check has power
    BOOST_TEST(std::abs(value - expected) < 4.5 * se);
  }
}

BOOST_AUTO_TEST_CASE(population_gradient_small_at_teacher_critical_point) {
  // Gaussian input, ReLU, k = d = 3, sign auto (−1). In the population (Stein), the signed data
  // part is |κ| Σ_i [Σ_{j≠l} ⟨a_j,a*_i⟩²⟨a_l,a*_i⟩² − μ Σ_j ⟨a_j,a*_i⟩⁴], κ = −1/√(2π) for ReLU.
  // Its gradient at A* is −4μ|κ| a*_j per row (not 0): the critical point is r·A* with
  // 2λ(r − 1) = 4μ|κ| r³ (Theorem 2's norm shift). There the Monte Carlo gradient is small compared
  // with the gradient at a random unit-row point; at A* itself its norm is about 4μ|κ|√k.
  const int d = 3;
  const DistributionSpec spec = preset_distribution("gaussian", d);
  auto dist = make_distribution(spec);
  const Index n = 2400000;
  MatrixXd X(d, n);
  Stream s(5, 0, 0, 0);
  dist->sample(s, X);
  TeacherSpec ts;
  Stream st(5, 0, 0, 2);
  const Teacher t = make_teacher(ts, d, d, st);
  const VectorXd y = teacher_outputs(t, X);
  BOOST_TEST(automatic_sign(Activation::relu) == -1);
  const double mu = 0.5, lambda = 5.0, kappa = 1.0 / std::sqrt(2 * M_PI);
  double r = 1.0;
  for (int it = 0; it < 200; ++it) r = 1.0 + 2.0 * mu * kappa * r * r * r / lambda;  // contraction
  BOOST_TEST(std::abs(2 * lambda * (r - 1) - 4 * mu * kappa * r * r * r) < 1e-12);
  const ScoreLoss L(exact_score_model(spec, X), y, mu, -1, LossSpec::Regulariser::norm, lambda);
  MatrixXd g_crit, g_star, g_rand;
  L.evaluate(r * t.A, t.w, nullptr, &g_crit, nullptr);
  L.evaluate(t.A, t.w, nullptr, &g_star, nullptr);
  Stream sa(5, 0, 0, 1);
  MatrixXd A = random_matrix(d, d, sa);
  A.rowwise().normalize();
  L.evaluate(A, t.w, nullptr, &g_rand, nullptr);
  // Monte Carlo standard error of the gradient, from 20 disjoint batches of the same sample.
  const int nb = 20;
  const Index m = n / nb;
  MatrixXd sum = MatrixXd::Zero(d, d), sq = MatrixXd::Zero(d, d), gb;
  for (int b = 0; b < nb; ++b) {
    std::vector<Index> batch(static_cast<std::size_t>(m));
    for (Index j = 0; j < m; ++j) batch[std::size_t(j)] = b * m + j;
    L.evaluate(r * t.A, t.w, &batch, &gb, nullptr);
    sum += gb;
    sq += gb.cwiseProduct(gb);
  }
  const MatrixXd var = (sq - sum.cwiseProduct(sum) / nb) / (nb - 1);  // per-batch variance
  const double se = std::sqrt(var.sum() / nb);                        // ‖SE of the mean‖
  BOOST_TEST_INFO("|grad at rA*| " << g_crit.norm() << " |grad at A*| " << g_star.norm()
                                   << " |grad at random| " << g_rand.norm() << " r " << r
                                   << " se " << se);
  BOOST_TEST(g_star.norm() > 8 * se);  // the check has power
  BOOST_TEST(g_crit.norm() < 3 * se);   // χ with 9 dof: ‖g‖/se ≈ 3 would already be unlikely
  BOOST_TEST(g_rand.norm() > 8 * se);
  const double at_star = 4 * mu * kappa * std::sqrt(3.0);
  BOOST_TEST(std::abs(g_star.norm() - at_star) < 0.1 * at_star);
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
