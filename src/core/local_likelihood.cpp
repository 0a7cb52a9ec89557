#include "scorefarm/core/local_likelihood.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

namespace scorefarm {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double neg_inf = -std::numeric_limits<double>::infinity();

double factorial(int k) {
  double f = 1.0;
  for (int i = 2; i <= k; ++i) f *= i;
  return f;
}

// log Σ exp(a_q), stable.
double log_sum_exp(const Eigen::VectorXd& a) {
  const double top = a.maxCoeff();
  if (!std::isfinite(top)) return top;
  return top + std::log((a.array() - top).exp().sum());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernels

LocalKernel parse_local_kernel(const std::string& name) {
  if (name == "gaussian") return LocalKernel::gaussian;
  if (name == "epanechnikov") return LocalKernel::epanechnikov;
  if (name == "tricube") return LocalKernel::tricube;
  throw std::invalid_argument("unknown kernel '" + name +
                              "' (expected gaussian, epanechnikov or tricube)");
}

std::string local_kernel_name(LocalKernel kernel) {
  switch (kernel) {
    case LocalKernel::gaussian: return "gaussian";
    case LocalKernel::epanechnikov: return "epanechnikov";
    case LocalKernel::tricube: return "tricube";
  }
  return "unknown";
}

double local_kernel_profile(LocalKernel kernel, double r, double gaussian_radius) {
  switch (kernel) {
    case LocalKernel::gaussian: return r <= gaussian_radius ? std::exp(-0.5 * r * r) : 0.0;
    case LocalKernel::epanechnikov: return r < 1.0 ? 1.0 - r * r : 0.0;
    case LocalKernel::tricube: {
      if (!(r < 1.0)) return 0.0;
      const double c = 1.0 - r * r * r;
      return c * c * c;
    }
  }
  return 0.0;
}

int default_quadrature_order(LocalKernel kernel, int dim) {
  if (kernel == LocalKernel::gaussian) return dim >= 3 ? 32 : 48;
  return 16;
}

// ---------------------------------------------------------------------------------------------
// Monomial basis

MonomialBasis::MonomialBasis(int dim, int max_degree) : dim_(dim), max_degree_(max_degree) {
  if (dim < 1) throw std::invalid_argument("MonomialBasis: dimension must be ≥ 1");
  if (max_degree < 0) throw std::invalid_argument("MonomialBasis: degree must be ≥ 0");
  const int base = max_degree + 1;
  std::size_t codes = 1;
  for (int i = 0; i < dim; ++i) codes *= static_cast<std::size_t>(base);
  code_to_index_.assign(codes, -1);
  auto code_of = [&](const std::vector<int>& a) {
    std::size_t c = 0;
    for (int i = dim - 1; i >= 0; --i) c = c * base + a[i];
    return c;
  };
  // Degree by degree; inside a degree, lexicographically descending exponents (x1^k first). The
  // order inside a degree does not depend on max_degree, so the basis of degree p is a prefix of
  // the basis of degree 2p.
  for (int k = 0; k <= max_degree; ++k) {
    begin_.push_back(static_cast<int>(exponents_.size()));
    std::vector<int> a(dim, 0);
    // enumerate compositions of k into dim parts, descending lexicographic
    std::function<void(int, int)> rec = [&](int pos, int left) {
      if (pos == dim - 1) {
        a[pos] = left;
        const int idx = static_cast<int>(exponents_.size());
        exponents_.push_back(a);
        degree_.push_back(k);
        code_to_index_[code_of(a)] = idx;
        if (k == 0) {
          parent_.push_back(-1);
          variable_.push_back(-1);
        } else {
          int j = 0;
          while (a[j] == 0) ++j;
          std::vector<int> p = a;
          --p[j];
          parent_.push_back(code_to_index_[code_of(p)]);
          variable_.push_back(j);
        }
        return;
      }
      for (int v = left; v >= 0; --v) {
        a[pos] = v;
        rec(pos + 1, left - v);
      }
    };
    rec(0, k);
  }
  begin_.push_back(static_cast<int>(exponents_.size()));
}

int MonomialBasis::index_of(const std::vector<int>& alpha) const {
  if (static_cast<int>(alpha.size()) != dim_) return -1;
  int total = 0;
  std::size_t c = 0;
  for (int i = dim_ - 1; i >= 0; --i) {
    if (alpha[i] < 0) return -1;
    total += alpha[i];
    if (total > max_degree_) return -1;
    c = c * (max_degree_ + 1) + alpha[i];
  }
  return code_to_index_[c];
}

void MonomialBasis::evaluate(const double* t, double* out) const {
  out[0] = 1.0;
  const int n = size();
  for (int i = 1; i < n; ++i) out[i] = out[parent_[i]] * t[variable_[i]];
}

// ---------------------------------------------------------------------------------------------
// The solver

namespace {
// Runs first in the constructor's initialiser list, before the bases are sized from dim/degree.
int checked_dim(int dim, const LocalLikelihoodOptions& options) {
  if (dim < 1 || dim > 3)
    throw std::invalid_argument("llsfe: dimension d must be 1, 2 or 3 for the degree-p local "
                                "likelihood, got " + std::to_string(dim));
  if (options.degree < 1 || options.degree > 4)
    throw std::invalid_argument("llsfe: degree must be 1, 2, 3 or 4, got " +
                                std::to_string(options.degree));
  return dim;
}
}  // namespace

LocalLikelihood::LocalLikelihood(int dim, LocalLikelihoodOptions options)
    : dim_(checked_dim(dim, options)),
      options_(options),
      radius_(1.0),
      basis_(dim, options.degree),
      basis2_(dim, 2 * options.degree) {
  if (options.quadrature_order == 0)
    options_.quadrature_order = default_quadrature_order(options.kernel, dim);
  // Below p + 2 the rule cannot resolve the degree-2p moments of the Hessian (the discrete
  // exponential family on the nodes then has no maximiser): refuse instead of failing silently.
  if (options_.quadrature_order < options.degree + 2)
    throw std::invalid_argument("llsfe: quadrature_order must be ≥ degree + 2 = " +
                                std::to_string(options.degree + 2) + ", got " +
                                std::to_string(options_.quadrature_order));
  if (options.kernel == LocalKernel::gaussian) {
    if (!(options.gaussian_radius > 0.0) || !std::isfinite(options.gaussian_radius))
      throw std::invalid_argument("llsfe: gaussian_radius must be positive and finite");
    radius_ = options.gaussian_radius;
  }
  if (options.max_iterations < 1) throw std::invalid_argument("llsfe: max_iterations must be ≥ 1");
  if (!(options.tolerance > 0.0)) throw std::invalid_argument("llsfe: tolerance must be > 0");

  {
    double nodes = 2.0;
    for (int i = 1; i < dim; ++i) nodes *= options_.quadrature_order;
    nodes *= options_.quadrature_order;
    if (nodes * basis2_.size() > 3.0e7)
      throw std::invalid_argument("llsfe: quadrature_order " +
                                  std::to_string(options_.quadrature_order) +
                                  " is too large for d = " + std::to_string(dim) +
                                  " (the node table would exceed 240 MB)");
  }
  quad_ = ball_quadrature(dim, options_.quadrature_order, radius_);
  const int N = quad_.size();
  const int M2 = basis2_.size();
  log_kw_.resize(N);
  phi2_.resize(N, M2);
  std::vector<double> row(M2);
  for (int q = 0; q < N; ++q) {
    const double kappa = local_kernel_profile(options_.kernel, quad_.radii[q], radius_);
    log_kw_[q] = kappa > 0.0 ? std::log(quad_.weights[q] * kappa) : neg_inf;
    basis2_.evaluate(quad_.points.col(q).data(), row.data());
    for (int j = 0; j < M2; ++j) phi2_(q, j) = row[j];
  }
  const int K = basis_.size();
  product_.assign(static_cast<std::size_t>(K) * K, -1);
  std::vector<int> a(dim);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      for (int c = 0; c < dim; ++c) a[c] = basis_.exponent(i)[c] + basis_.exponent(j)[c];
      product_[static_cast<std::size_t>(i) * K + j] = basis2_.index_of(a);
    }
}

LocalDataMoments LocalLikelihood::data_moments(const Eigen::MatrixXd& X, const Eigen::VectorXd& x,
                                                double h) const {
  if (X.rows() != dim_ || x.size() != dim_)
    throw std::invalid_argument("llsfe: samples have dimension " + std::to_string(X.rows()) +
                                " and the query point " + std::to_string(x.size()) +
                                ", the estimator was built for " + std::to_string(dim_));
  if (!(h > 0.0) || !std::isfinite(h))
    throw std::invalid_argument("llsfe: bandwidth h must be positive and finite, got " +
                                std::to_string(h));
  const int K = basis_.size();
  LocalDataMoments out;
  out.n = X.cols();
  out.mean = Eigen::VectorXd::Zero(K);
  // Kernel weights are bounded below by exp(−R²/2) ≥ e^−50 inside the support (R ≤ 10 in
  // practice) and by 0 for compact kernels, so no log-sum-exp shift is needed here. Sums are
  // accumulated in blocks to keep the rounding error independent of n.
  Eigen::VectorXd block_sum = Eigen::VectorXd::Zero(K);
  double block_w = 0.0, block_w2 = 0.0, sum_w = 0.0, sum_w2 = 0.0;
  std::vector<double> t(dim_), phi(K);
  const double inv_h = 1.0 / h;
  const double r2_max = radius_ * radius_;
  int in_block = 0;
  for (Eigen::Index i = 0; i < X.cols(); ++i) {
    double r2 = 0.0;
    for (int c = 0; c < dim_; ++c) {
      t[c] = (X(c, i) - x[c]) * inv_h;
      r2 += t[c] * t[c];
    }
    if (!std::isfinite(r2)) {
      out.finite = false;
      continue;
    }
    if (r2 > r2_max) continue;
    const double w = local_kernel_profile(options_.kernel, std::sqrt(r2), radius_);
    if (!(w > 0.0)) continue;
    ++out.support_points;
    basis_.evaluate(t.data(), phi.data());
    for (int k = 0; k < K; ++k) block_sum[k] += w * phi[k];
    block_w += w;
    block_w2 += w * w;
    if (++in_block == 1024) {
      out.mean += block_sum;
      sum_w += block_w;
      sum_w2 += block_w2;
      block_sum.setZero();
      block_w = block_w2 = 0.0;
      in_block = 0;
    }
  }
  out.mean += block_sum;
  sum_w += block_w;
  sum_w2 += block_w2;
  if (sum_w > 0.0) {
    out.mean /= sum_w;
    out.log_mass = std::log(sum_w) - std::log(static_cast<double>(out.n));
    out.ess = sum_w * sum_w / sum_w2;
  } else {
    out.mean.setZero();
    out.mean[0] = 1.0;
    out.log_mass = neg_inf;
    out.ess = 0.0;
  }
  if (!out.mean.allFinite()) out.finite = false;
  return out;
}

Eigen::VectorXd LocalLikelihood::model_moments(const Eigen::VectorXd& theta, double* psi) const {
  const int K = basis_.size();
  // log of (quadrature weight × kernel × e^{θ·φ}) at every node; ψ by log-sum-exp
  Eigen::VectorXd lw = log_kw_ + phi2_.middleCols(1, K - 1) * theta;
  const double log_z = log_sum_exp(lw);
  if (psi) *psi = log_z;
  if (!std::isfinite(log_z)) return Eigen::VectorXd::Constant(basis2_.size(), nan_value);
  const Eigen::VectorXd p = (lw.array() - log_z).exp().matrix();
  return phi2_.transpose() * p;
}

double LocalLikelihood::objective(const Eigen::VectorXd& theta, const Eigen::VectorXd& m) const {
  const int K = basis_.size();
  Eigen::VectorXd lw = log_kw_ + phi2_.middleCols(1, K - 1) * theta;
  return theta.dot(m.segment(1, K - 1)) - log_sum_exp(lw);
}

Eigen::VectorXd LocalLikelihood::gradient(const Eigen::VectorXd& theta, const Eigen::VectorXd& m) const {
  const int K = basis_.size();
  const Eigen::VectorXd M = model_moments(theta);
  return m.segment(1, K - 1) - M.segment(1, K - 1);
}

namespace {
// Cov_θ[φ] over basis indices 1..K−1 from the moments of degree ≤ 2p.
Eigen::MatrixXd covariance_from_moments(const Eigen::VectorXd& M, const std::vector<int>& product,
                                        int K) {
  Eigen::MatrixXd C(K - 1, K - 1);
  for (int i = 1; i < K; ++i)
    for (int j = i; j < K; ++j) {
      const double c = M[product[static_cast<std::size_t>(i) * K + j]] - M[i] * M[j];
      C(i - 1, j - 1) = c;
      C(j - 1, i - 1) = c;
    }
  return C;
}
}  // namespace

Eigen::MatrixXd LocalLikelihood::hessian(const Eigen::VectorXd& theta) const {
  return -covariance_from_moments(model_moments(theta), product_, basis_.size());
}

LogDerivs LocalLikelihood::log_derivs_from_theta(const Eigen::VectorXd& theta, double h) const {
  const int d = dim_;
  const int p = options_.degree;
  LogDerivs D;
  D.g = Eigen::VectorXd::Zero(d);
  D.G2 = Eigen::MatrixXd::Zero(d, d);
  if (p >= 3) D.G3 = Tensor(d, 3);
  if (p >= 4) D.G4 = Tensor(d, 4);
  // ∂^α log f(x) = θ_α α! / h^|α| (Taylor coefficient of the monomial t^α, t = v/h).
  auto coef = [&](const std::vector<int>& alpha) {
    const int idx = basis_.index_of(alpha);
    double af = 1.0;
    int k = 0;
    for (int a : alpha) {
      af *= factorial(a);
      k += a;
    }
    return theta[idx - 1] * af / std::pow(h, k);
  };
  std::vector<int> a(d);
  auto reset = [&] { std::fill(a.begin(), a.end(), 0); };
  for (int i = 0; i < d; ++i) {
    reset();
    ++a[i];
    D.g[i] = coef(a);
  }
  if (p >= 2)
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) {
        reset();
        ++a[i];
        ++a[j];
        D.G2(i, j) = coef(a);
      }
  if (p >= 3)
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j)
        for (int k = 0; k < d; ++k) {
          reset();
          ++a[i];
          ++a[j];
          ++a[k];
          D.G3(i, j, k) = coef(a);
        }
  if (p >= 4)
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j)
        for (int k = 0; k < d; ++k)
          for (int l = 0; l < d; ++l) {
            reset();
            ++a[i];
            ++a[j];
            ++a[k];
            ++a[l];
            D.G4(i, j, k, l) = coef(a);
          }
  return D;
}

namespace {
void fill_nan(LogDerivs& D) {
  D.g.setConstant(nan_value);
  D.G2.setConstant(nan_value);
  std::fill(D.G3.data.begin(), D.G3.data.end(), nan_value);
  std::fill(D.G4.data.begin(), D.G4.data.end(), nan_value);
}
bool all_finite(const LogDerivs& D) {
  auto ok = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double z) { return std::isfinite(z); });
  };
  return D.g.allFinite() && D.G2.allFinite() && ok(D.G3.data) && ok(D.G4.data);
}
}  // namespace

LocalLikelihoodFit LocalLikelihood::solve(const LocalDataMoments& data, double h) const {
  if (!(h > 0.0) || !std::isfinite(h))
    throw std::invalid_argument("llsfe: bandwidth h must be positive and finite, got " +
                                std::to_string(h));
  const int K = basis_.size();
  if (data.mean.size() != K)
    throw std::invalid_argument("llsfe: data moments have " + std::to_string(data.mean.size()) +
                                " entries, expected " + std::to_string(K));
  LocalLikelihoodFit fit;
  fit.estimate.h = h;
  fit.estimate.ess = data.ess;
  fit.support_points = data.support_points;
  fit.theta = Eigen::VectorXd::Zero(K - 1);
  std::uint32_t& st = fit.estimate.status;
  if (data.support_points < K) st |= status::few_points;
  if (data.ess < dim_ + 1) st |= status::low_ess;

  auto fail = [&](std::uint32_t bits) {
    st |= bits | status::failed;
    fit.estimate.log_derivs = log_derivs_from_theta(fit.theta, h);
    fill_nan(fit.estimate.log_derivs);
    fit.a0 = nan_value;
    fit.moment_residual = std::numeric_limits<double>::infinity();
    return fit;
  };
  if (!data.finite || !data.mean.allFinite()) return fail(status::nonfinite);
  if (data.support_points == 0 || !(data.ess > 0.0)) return fail(status::few_points);

  const Eigen::VectorXd m = data.mean;
  Eigen::VectorXd& theta = fit.theta;
  double psi = 0.0;
  Eigen::VectorXd M = model_moments(theta, &psi);
  double value = theta.dot(m.segment(1, K - 1)) - psi;
  bool converged = false;
  double previous_decrement = std::numeric_limits<double>::infinity();
  for (int it = 0; it < options_.max_iterations; ++it) {
    if (!M.allFinite() || !std::isfinite(value)) return fail(status::nonfinite);
    const Eigen::VectorXd grad = m.segment(1, K - 1) - M.segment(1, K - 1);
    Eigen::MatrixXd C = covariance_from_moments(M, product_, K);
    // Equilibrate before factorising: degree-4 monomials on the unit ball have variances ~100×
    // smaller than degree-1 ones.
    const Eigen::VectorXd s = C.diagonal().cwiseMax(1e-300).cwiseSqrt().cwiseInverse();
    const Eigen::MatrixXd Cs = s.asDiagonal() * C * s.asDiagonal();
    Eigen::LLT<Eigen::MatrixXd> llt(Cs);
    if (llt.info() != Eigen::Success) return fail(status::not_converged);
    const Eigen::VectorXd step = s.asDiagonal() * llt.solve(s.asDiagonal() * grad);
    const double decrement = grad.dot(step);  // λ² = ∇ℓᵀ Cov⁻¹ ∇ℓ ≥ 0
    fit.decrement = decrement;
    if (!std::isfinite(decrement)) return fail(status::nonfinite);
    if (decrement <= options_.tolerance) {
      converged = true;
      break;
    }
    // Rounding floor: in the quadratic phase λ² must fall fast; if it stops falling at a level
    // already far below what matters (1e-16 ≈ relative change of ℓ in the last bit), stop.
    if (decrement < 1e-16 && decrement > 0.25 * previous_decrement) {
      converged = true;
      break;
    }
    previous_decrement = decrement;
    // Backtracking line search (Armijo). Close to the optimum (λ² < 1e-6) the quadratic model is
    // exact to rounding and the full step is taken: the Armijo test would be lost in rounding.
    double t = 1.0;
    bool accepted = false;
    Eigen::VectorXd trial;
    double trial_psi = 0.0;
    Eigen::VectorXd trial_M;
    for (int ls = 0; ls < 60; ++ls) {
      // ψ alone is a cheap matrix-vector product; the moments (the expensive part, degree 2p)
      // are computed only at the accepted point.
      trial = theta + t * step;
      const double trial_value = objective(trial, m);
      if (std::isfinite(trial_value) &&
          (decrement < 1e-6 || trial_value >= value + 1e-4 * t * decrement)) {
        trial_M = model_moments(trial, &trial_psi);
        if (trial_M.allFinite()) {
          value = trial.dot(m.segment(1, K - 1)) - trial_psi;
          accepted = true;
          break;
        }
      }
      t *= 0.5;
    }
    ++fit.iterations;
    if (!accepted) break;  // line search stalled: not converged
    theta = trial;
    psi = trial_psi;
    M = trial_M;
  }
  fit.psi = psi;
  fit.moment_residual = (m.segment(1, K - 1) - M.segment(1, K - 1)).cwiseAbs().maxCoeff();
  fit.a0 = data.log_mass - dim_ * std::log(h) - psi;
  fit.estimate.log_derivs = log_derivs_from_theta(theta, h);
  if (!converged) {
    st |= status::not_converged | status::failed;
    fill_nan(fit.estimate.log_derivs);
    return fit;
  }
  if (!all_finite(fit.estimate.log_derivs)) return fail(status::nonfinite);
  return fit;
}

LocalLikelihoodFit LocalLikelihood::estimate(const Eigen::MatrixXd& X, const Eigen::VectorXd& x,
                                             double h) const {
  return solve(data_moments(X, x, h), h);
}

const LocalLikelihood& cached_local_likelihood(int dim, const LocalLikelihoodOptions& options) {
  // A handful of configurations per process at most (one per cell kind); building one costs about
  // one Newton iteration, so the cache is an optimisation only and never changes a result.
  thread_local std::vector<std::unique_ptr<LocalLikelihood>> cache;
  for (const auto& s : cache) {
    const LocalLikelihoodOptions& o = s->options();
    const int order = options.quadrature_order == 0 ? default_quadrature_order(options.kernel, dim)
                                                    : options.quadrature_order;
    if (s->dim() == dim && o.degree == options.degree && o.kernel == options.kernel &&
        o.quadrature_order == order && o.gaussian_radius == options.gaussian_radius &&
        o.max_iterations == options.max_iterations && o.tolerance == options.tolerance)
      return *s;
  }
  if (cache.size() >= 16) cache.erase(cache.begin());
  cache.push_back(std::make_unique<LocalLikelihood>(dim, options));
  return *cache.back();
}

Estimate llsfe_local(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h,
                     const LocalLikelihoodOptions& options) {
  return cached_local_likelihood(static_cast<int>(X.rows()), options).estimate(X, x, h).estimate;
}

}  // namespace scorefarm
