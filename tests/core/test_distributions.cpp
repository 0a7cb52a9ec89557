#define BOOST_TEST_MODULE distributions
#include <boost/test/unit_test.hpp>

#include <functional>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/score_tensors.hpp"
#include "test_helpers.hpp"

using namespace scorefarm;
using namespace testing_ref;

namespace {

using Fn = std::function<double(const Eigen::VectorXd&)>;

// ∂/∂x_i by the fourth-order central stencil (f(x−2e) − 8f(x−e) + 8f(x+e) − f(x+2e))/(12ε).
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

// Full m-th derivative tensor of F at x by nested finite differences.
Dense fd_tensor(const Fn& F, const Eigen::VectorXd& x, int m, double eps) {
  const int d = static_cast<int>(x.size());
  Dense T(d, m);
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

struct Case {
  std::string label;
  DistributionSpec spec;
  Eigen::VectorXd x;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  {
    DistributionSpec s = preset_distribution("gaussian", 2);
    s.components[0].mean = Eigen::Vector2d(0.3, -0.2);
    s.components[0].cov << 1.5, 0.4, 0.4, 0.8;
    out.push_back({"gaussian", s, Eigen::Vector2d(0.7, 0.9)});
  }
  out.push_back({"paper_mixture", preset_distribution("paper_mixture", 2), Eigen::Vector2d(0.4, -0.3)});
  {
    DistributionSpec s = preset_distribution("paper_mixture", 2);
    s.components[0].weight = 0.3;
    s.components[1].weight = 0.5;
    s.components[1].cov << 0.7, -0.2, -0.2, 1.3;
    s.components.push_back({0.2, Eigen::Vector2d(0.5, 1.5), Eigen::Matrix2d::Identity() * 0.6});
    out.push_back({"mixture3", s, Eigen::Vector2d(0.2, 0.6)});
  }
  {
    DistributionSpec s = preset_distribution("laplace", 2);
    s.laplace_scale = 0.8;
    out.push_back({"laplace", s, Eigen::Vector2d(0.6, -0.9)});
  }
  {
    DistributionSpec s = preset_distribution("student_t", 2);
    s.nu = 6.5;
    s.location = Eigen::Vector2d(0.1, 0.2);
    s.scatter << 1.2, 0.3, 0.3, 0.9;
    out.push_back({"student_t", s, Eigen::Vector2d(0.8, -0.5)});
  }
  {
    DistributionSpec s = preset_distribution("student_t", 3);
    out.push_back({"student_t3", s, Eigen::Vector3d(0.5, -0.4, 0.9)});
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(scores_match_finite_differences_of_the_density) {
  // S_m = ∇^m f / f with ∇^m f by finite differences of f itself (not of log f).
  for (const Case& c : cases()) {
    auto dist = make_distribution(c.spec);
    const Fn f = [&](const Eigen::VectorXd& y) { return std::exp(dist->log_density(y)); };
    const double f0 = f(c.x);
    const Scores S = scores_from_log_derivs(dist->log_derivs(c.x));
    const Dense S1 = fd_tensor(f, c.x, 1, 1e-3) * (1.0 / f0);
    const Dense S2 = fd_tensor(f, c.x, 2, 2e-3) * (1.0 / f0);
    const Dense S3 = fd_tensor(f, c.x, 3, 5e-3) * (1.0 / f0);
    const Dense S4 = fd_tensor(f, c.x, 4, 1e-2) * (1.0 / f0);
    BOOST_TEST(rel_err(from_vector(S.S1).a, S1.a) < 1e-9, c.label << " S1");
    BOOST_TEST(rel_err(from_matrix(S.S2).a, S2.a) < 1e-8, c.label << " S2");
    BOOST_TEST(rel_err(S.S3.data, S3.a) < 1e-6, c.label << " S3");
    BOOST_TEST(rel_err(S.S4.data, S4.a) < 1e-5, c.label << " S4");
  }
}

BOOST_AUTO_TEST_CASE(log_derivatives_match_finite_differences_of_log_density) {
  for (const Case& c : cases()) {
    auto dist = make_distribution(c.spec);
    const Fn lf = [&](const Eigen::VectorXd& y) { return dist->log_density(y); };
    const LogDerivs D = dist->log_derivs(c.x);
    BOOST_TEST(rel_err(from_vector(D.g).a, fd_tensor(lf, c.x, 1, 1e-3).a) < 1e-9, c.label << " g");
    BOOST_TEST(rel_err(from_matrix(D.G2).a, fd_tensor(lf, c.x, 2, 2e-3).a) < 1e-8, c.label << " G2");
    const int d = D.dim();
    const Dense G3 = D.G3.empty() ? Dense(d, 3) : from_tensor(D.G3);
    const Dense G4 = D.G4.empty() ? Dense(d, 4) : from_tensor(D.G4);
    BOOST_TEST(rel_err(G3.a, fd_tensor(lf, c.x, 3, 5e-3).a) < 1e-6, c.label << " G3");
    BOOST_TEST(rel_err(G4.a, fd_tensor(lf, c.x, 4, 1e-2).a) < 1e-5, c.label << " G4");
  }
}

BOOST_AUTO_TEST_CASE(densities_integrate_to_one) {
  // Gaussian, mixture and Laplace on a 2-D grid; Student-t radially with r = tan θ.
  for (const std::string name : {"gaussian", "paper_mixture", "laplace"}) {
    auto dist = make_distribution(preset_distribution(name, 2));
    const double L = 30.0, step = 0.05;
    double sum = 0.0;
    Eigen::VectorXd x(2);
    for (double a = -L + step / 2; a < L; a += step)
      for (double b = -L + step / 2; b < L; b += step) {
        x << a, b;
        sum += std::exp(dist->log_density(x));
      }
    BOOST_TEST(std::abs(sum * step * step - 1.0) < 2e-3, name);
  }
  auto t = make_distribution(preset_distribution("student_t", 2));
  const int N = 200000;
  double sum = 0.0;
  for (int k = 0; k < N; ++k) {
    const double th = (k + 0.5) / N * (M_PI / 2);
    const double r = std::tan(th), dr = 1.0 / (std::cos(th) * std::cos(th));
    sum += std::exp(t->log_density(Eigen::Vector2d(r, 0.0))) * r * dr;
  }
  BOOST_TEST(std::abs(2 * M_PI * sum * (M_PI / 2) / N - 1.0) < 1e-6);
}

BOOST_AUTO_TEST_CASE(sample_moments_match) {
  const int n = 200000;
  auto check = [&](const std::string& label, const DistributionSpec& spec, const Eigen::VectorXd& mean,
                   const Eigen::MatrixXd& cov) {
    auto dist = make_distribution(spec);
    Eigen::MatrixXd X(spec.d, n);
    Stream s(99, 0, 0);
    dist->sample(s, X);
    const Eigen::VectorXd m = X.rowwise().mean();
    const Eigen::MatrixXd C = (X.colwise() - m) * (X.colwise() - m).transpose() / (n - 1);
    const double se = std::sqrt(cov.diagonal().maxCoeff() / n);
    BOOST_TEST((m - mean).cwiseAbs().maxCoeff() < 5 * se, label << " mean " << m.transpose());
    BOOST_TEST((C - cov).cwiseAbs().maxCoeff() < 0.03 * cov.cwiseAbs().maxCoeff(), label << " cov\n" << C);
  };
  {
    DistributionSpec s = preset_distribution("gaussian", 2);
    s.components[0].mean = Eigen::Vector2d(1.0, -2.0);
    s.components[0].cov << 2.0, 0.6, 0.6, 0.5;
    check("gaussian", s, s.components[0].mean, s.components[0].cov);
  }
  {
    DistributionSpec s = preset_distribution("paper_mixture", 2);
    s.components[0].weight = 0.25;
    s.components[1].weight = 0.75;
    Eigen::Vector2d mu = 0.25 * Eigen::Vector2d(1, 1) + 0.75 * Eigen::Vector2d(-1, -1);
    Eigen::Matrix2d second = Eigen::Matrix2d::Identity() + Eigen::Matrix2d::Ones();
    check("mixture", s, mu, second - mu * mu.transpose());
  }
  {
    DistributionSpec s = preset_distribution("laplace", 3);
    s.laplace_scale = 0.5;
    check("laplace", s, Eigen::Vector3d::Zero(), Eigen::Matrix3d::Identity() * 2 * 0.25);
  }
  {
    DistributionSpec s = preset_distribution("student_t", 2);
    s.nu = 12.0;
    s.location = Eigen::Vector2d(0.5, 0.0);
    s.scatter << 1.0, 0.5, 0.5, 2.0;
    check("student_t", s, s.location, s.scatter * (12.0 / 10.0));
  }
}

BOOST_AUTO_TEST_CASE(sampling_is_a_pure_function_of_the_stream) {
  for (const auto& name : preset_distribution_names()) {
    auto dist = make_distribution(preset_distribution(name, 3));
    Eigen::MatrixXd A(3, 101), B(3, 101);
    Stream s1(5, 6, 7, 0), s2(5, 6, 7, 0);
    dist->sample(s1, A);
    dist->sample(s2, B);
    BOOST_TEST((A.array() == B.array()).all(), name);
    BOOST_TEST(A.allFinite(), name);
  }
}

BOOST_AUTO_TEST_CASE(validation_names_the_field) {
  auto message = [](const DistributionSpec& s) {
    try {
      make_distribution(s);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  {
    DistributionSpec s = preset_distribution("gaussian", 2);
    s.components[0].cov << 1, 2, 2, 1;  // indefinite
    BOOST_TEST(message(s).find("components[0].cov") != std::string::npos, message(s));
  }
  {
    DistributionSpec s = preset_distribution("paper_mixture", 2);
    s.components[1].weight = -1;
    BOOST_TEST(message(s).find("components[1].weight") != std::string::npos, message(s));
  }
  {
    DistributionSpec s = preset_distribution("paper_mixture", 2);
    s.components[1].mean = Eigen::Vector3d::Zero();
    BOOST_TEST(message(s).find("components[1].mean") != std::string::npos, message(s));
  }
  {
    DistributionSpec s = preset_distribution("student_t", 2);
    s.nu = 4.0;
    BOOST_TEST(message(s).find("nu") != std::string::npos, message(s));
  }
  {
    DistributionSpec s = preset_distribution("student_t", 2);
    s.scatter = Eigen::Matrix3d::Identity();
    BOOST_TEST(message(s).find("scatter") != std::string::npos, message(s));
  }
  {
    DistributionSpec s = preset_distribution("laplace", 2);
    s.laplace_scale = 0.0;
    BOOST_TEST(message(s).find("laplace_scale") != std::string::npos, message(s));
  }
  BOOST_CHECK_THROW(preset_distribution("cauchy", 2), std::invalid_argument);
  BOOST_CHECK_THROW(preset_distribution("gaussian", 0), std::invalid_argument);
}
