// Input distributions with exact scores (SPEC §2).
#include "scorefarm/core/distribution.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "scorefarm/core/score_tensors.hpp"

namespace scorefarm {

void Distribution::sample_one(Stream& stream, Eigen::Ref<Eigen::VectorXd> out) const {
  Eigen::MatrixXd one(dim(), 1);
  sample(stream, one);
  out = one.col(0);
}

namespace {

constexpr double log_two_pi = 1.8378770664093454835606594728112;

std::string fmt_double(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

// Cholesky of a covariance with a validation message naming `field`.
Eigen::LLT<Eigen::MatrixXd> checked_llt(const Eigen::MatrixXd& S, int d, const std::string& field) {
  if (S.rows() != d || S.cols() != d)
    throw std::invalid_argument(field + ": expected a " + std::to_string(d) + "x" + std::to_string(d) +
                                " matrix, got " + std::to_string(S.rows()) + "x" +
                                std::to_string(S.cols()));
  if (!S.allFinite()) throw std::invalid_argument(field + ": non-finite entry");
  if (!S.isApprox(S.transpose(), 1e-12) && (S - S.transpose()).cwiseAbs().maxCoeff() > 1e-12)
    throw std::invalid_argument(field + ": not symmetric");
  Eigen::LLT<Eigen::MatrixXd> llt(0.5 * (S + S.transpose()));
  if (llt.info() != Eigen::Success) throw std::invalid_argument(field + ": not positive definite");
  const Eigen::VectorXd diag = llt.matrixLLT().diagonal();
  if (diag.minCoeff() <= 0.0 || !diag.allFinite())
    throw std::invalid_argument(field + ": not positive definite");
  return llt;
}

// out = mean + L z for lower-triangular L (d x d), without temporaries. out may alias z: row i
// only reads z_0..z_i, so going from the last row up never reads an overwritten entry.
inline void affine_lower(const Eigen::MatrixXd& L, const Eigen::VectorXd& mean, const double* z,
                         double* out, int d) {
  for (int i = d - 1; i >= 0; --i) {
    double s = 0.0;
    for (int j = 0; j <= i; ++j) s += L(i, j) * z[j];
    out[i] = mean(i) + s;
  }
}

void check_vector(const Eigen::VectorXd& v, int d, const std::string& field) {
  if (v.size() != d)
    throw std::invalid_argument(field + ": expected " + std::to_string(d) + " values, got " +
                                std::to_string(v.size()));
  if (!v.allFinite()) throw std::invalid_argument(field + ": non-finite entry");
}

// ---------------------------------------------------------------------------------------------
class Gaussian final : public Distribution {
 public:
  Gaussian(Eigen::VectorXd mean, const Eigen::MatrixXd& cov, const std::string& field)
      : mean_(std::move(mean)), llt_(checked_llt(cov, static_cast<int>(mean_.size()), field)) {
    const int d = dim();
    L_ = llt_.matrixL();
    precision_ = llt_.solve(Eigen::MatrixXd::Identity(d, d));
    precision_ = 0.5 * (precision_ + precision_.transpose());
    log_norm_ = -0.5 * d * log_two_pi - L_.diagonal().array().log().sum();
  }
  int dim() const override { return static_cast<int>(mean_.size()); }
  std::string describe() const override { return "gaussian(d=" + std::to_string(dim()) + ")"; }
  double log_density(const Eigen::VectorXd& x) const override {
    const Eigen::VectorXd z = L_.triangularView<Eigen::Lower>().solve(x - mean_);
    return log_norm_ - 0.5 * z.squaredNorm();
  }
  LogDerivs log_derivs(const Eigen::VectorXd& x) const override {
    LogDerivs D;
    D.g = -precision_ * (x - mean_);
    D.G2 = -precision_;
    return D;
  }
  void sample(Stream& stream, Eigen::Ref<Eigen::MatrixXd> out) const override {
    const int d = dim();
    const Eigen::Index n = out.cols();
    if (n == 0) return;
    if (out.outerStride() == d) {
      stream.fill_normal(out.data(), static_cast<std::size_t>(d) * n);
    } else {
      for (Eigen::Index i = 0; i < n; ++i) stream.fill_normal(out.col(i).data(), d);
    }
    if (d == 2) {  // the paper's case, unrolled
      const double l00 = L_(0, 0), l10 = L_(1, 0), l11 = L_(1, 1), m0 = mean_(0), m1 = mean_(1);
      for (Eigen::Index i = 0; i < n; ++i) {
        double* c = out.col(i).data();
        const double z0 = c[0], z1 = c[1];
        c[0] = m0 + l00 * z0;
        c[1] = m1 + (l10 * z0 + l11 * z1);
      }
      return;
    }
    for (Eigen::Index i = 0; i < n; ++i) affine_lower(L_, mean_, out.col(i).data(), out.col(i).data(), d);
  }
  const Eigen::VectorXd& mean() const { return mean_; }
  const Eigen::MatrixXd& precision() const { return precision_; }
  const Eigen::MatrixXd& L() const { return L_; }
  double log_norm() const { return log_norm_; }

 private:
  Eigen::VectorXd mean_;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  Eigen::MatrixXd L_;
  Eigen::MatrixXd precision_;
  double log_norm_ = 0.0;
};

// ---------------------------------------------------------------------------------------------
class Mixture final : public Distribution {
 public:
  Mixture(const std::vector<GaussianComponent>& comps, int d) {
    double total = 0.0;
    for (std::size_t k = 0; k < comps.size(); ++k) {
      const std::string field = "components[" + std::to_string(k) + "]";
      const double w = comps[k].weight;
      if (!(w > 0.0) || !std::isfinite(w))
        throw std::invalid_argument(field + ".weight: must be a positive finite number, got " +
                                    fmt_double(w));
      check_vector(comps[k].mean, d, field + ".mean");
      parts_.emplace_back(comps[k].mean, comps[k].cov, field + ".cov");
      total += w;
    }
    double acc = 0.0;
    for (const auto& c : comps) {
      log_weight_.push_back(std::log(c.weight / total));
      acc += c.weight / total;
      cumulative_.push_back(acc);
    }
    cumulative_.back() = 1.0;
  }
  int dim() const override { return parts_.front().dim(); }
  std::string describe() const override {
    return "mixture(d=" + std::to_string(dim()) + ", k=" + std::to_string(parts_.size()) + ")";
  }
  // log f = log Σ_k exp(log p_k + log N_k(x)), by log-sum-exp; fills the posterior weights.
  double log_density_and_posterior(const Eigen::VectorXd& x, std::vector<double>* post) const {
    std::vector<double> lp(parts_.size());
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      lp[k] = log_weight_[k] + parts_[k].log_density(x);
      mx = std::max(mx, lp[k]);
    }
    double s = 0.0;
    for (double& v : lp) {
      v = std::exp(v - mx);
      s += v;
    }
    if (post) {
      post->resize(lp.size());
      for (std::size_t k = 0; k < lp.size(); ++k) (*post)[k] = lp[k] / s;
    }
    return mx + std::log(s);
  }
  double log_density(const Eigen::VectorXd& x) const override {
    return log_density_and_posterior(x, nullptr);
  }
  // S_m = Σ_k π_k(x) S_m^(k)(x) (SPEC §2), converted back to g, G2, G3, G4.
  LogDerivs log_derivs(const Eigen::VectorXd& x) const override {
    std::vector<double> post;
    log_density_and_posterior(x, &post);
    const int d = dim();
    Scores S;
    S.S1 = Eigen::VectorXd::Zero(d);
    S.S2 = Eigen::MatrixXd::Zero(d, d);
    S.S3 = Tensor(d, 3);
    S.S4 = Tensor(d, 4);
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      if (post[k] == 0.0) continue;
      const Scores Sk = scores_from_log_derivs(parts_[k].log_derivs(x));
      S.S1 += post[k] * Sk.S1;
      S.S2 += post[k] * Sk.S2;
      for (std::size_t i = 0; i < S.S3.size(); ++i) S.S3.data[i] += post[k] * Sk.S3.data[i];
      for (std::size_t i = 0; i < S.S4.size(); ++i) S.S4.data[i] += post[k] * Sk.S4.data[i];
    }
    return log_derivs_from_scores(S);
  }
  void sample(Stream& stream, Eigen::Ref<Eigen::MatrixXd> out) const override {
    const int d = dim();
    Eigen::VectorXd z(d);
    for (Eigen::Index i = 0; i < out.cols(); ++i) {
      const double u = stream.uniform();
      std::size_t k = 0;
      while (k + 1 < cumulative_.size() && u >= cumulative_[k]) ++k;
      stream.fill_normal(z.data(), d);
      affine_lower(parts_[k].L(), parts_[k].mean(), z.data(), out.col(i).data(), d);
    }
  }

 private:
  std::vector<Gaussian> parts_;
  std::vector<double> log_weight_;
  std::vector<double> cumulative_;
};

// ---------------------------------------------------------------------------------------------
// f(x) = Π exp(−|x_i|/b)/(2b): g = −sgn(x)/b, G2 = G3 = G4 = 0 almost everywhere, so
// S_m = (−s/b)^⊗m with s = sgn(x) (SPEC §2).
class Laplace final : public Distribution {
 public:
  Laplace(int d, double b) : d_(d), b_(b) {}
  int dim() const override { return d_; }
  std::string describe() const override {
    return "laplace(d=" + std::to_string(d_) + ", b=" + fmt_double(b_) + ")";
  }
  double log_density(const Eigen::VectorXd& x) const override {
    return -x.cwiseAbs().sum() / b_ - d_ * std::log(2.0 * b_);
  }
  LogDerivs log_derivs(const Eigen::VectorXd& x) const override {
    LogDerivs D;
    D.g.resize(d_);
    for (int i = 0; i < d_; ++i) D.g(i) = x(i) > 0 ? -1.0 / b_ : (x(i) < 0 ? 1.0 / b_ : 0.0);
    D.G2 = Eigen::MatrixXd::Zero(d_, d_);
    return D;
  }
  void sample(Stream& stream, Eigen::Ref<Eigen::MatrixXd> out) const override {
    for (Eigen::Index i = 0; i < out.cols(); ++i)
      for (int j = 0; j < d_; ++j) out(j, i) = b_ * stream.laplace();
  }

 private:
  int d_;
  double b_;
};

// ---------------------------------------------------------------------------------------------
// Multivariate Student-t: log f = const − c log q with c = (ν+d)/2, q = ν + Q, Q = rᵀPr, r = x−μ,
// P = Σ⁻¹. With q1 = ∇q = 2Pr, q2 = ∇²q = 2P and ∇³q = 0, the derivatives of φ = log q are
//   φ_i    = q_i/q
//   φ_ij   = q_ij/q − q_i q_j/q²
//   φ_ijk  = −(q_ij q_k + q_ik q_j + q_jk q_i)/q² + 2 q_i q_j q_k/q³
//   φ_ijkl = −(q_ij q_kl + q_ik q_jl + q_il q_jk)/q² + 2 Σ_6 (q_ab q_c q_e)/q³ − 6 q_i q_j q_k q_l/q⁴
// and G_m = −c φ_m.
class StudentT final : public Distribution {
 public:
  StudentT(Eigen::VectorXd loc, const Eigen::MatrixXd& scatter, double nu)
      : loc_(std::move(loc)), nu_(nu) {
    const int d = dim();
    auto llt = checked_llt(scatter, d, "scatter");
    L_ = llt.matrixL();
    P_ = llt.solve(Eigen::MatrixXd::Identity(d, d));
    P_ = 0.5 * (P_ + P_.transpose());
    c_ = 0.5 * (nu_ + d);
    log_norm_ = std::lgamma(c_) - std::lgamma(0.5 * nu_) - 0.5 * d * std::log(nu_ * M_PI) -
                L_.diagonal().array().log().sum();
  }
  int dim() const override { return static_cast<int>(loc_.size()); }
  std::string describe() const override {
    return "student_t(d=" + std::to_string(dim()) + ", nu=" + fmt_double(nu_) + ")";
  }
  double log_density(const Eigen::VectorXd& x) const override {
    const Eigen::VectorXd z = L_.triangularView<Eigen::Lower>().solve(x - loc_);
    return log_norm_ - c_ * std::log1p(z.squaredNorm() / nu_);
  }
  LogDerivs log_derivs(const Eigen::VectorXd& x) const override {
    const int d = dim();
    const Eigen::VectorXd r = x - loc_;
    const Eigen::VectorXd q1 = 2.0 * (P_ * r);
    const Eigen::MatrixXd& P = P_;
    const double q = nu_ + r.dot(P * r);
    const double q2 = q * q, q3 = q2 * q, q4 = q3 * q;
    LogDerivs D;
    D.g = -c_ * q1 / q;
    D.G2 = -c_ * (2.0 * P / q - q1 * q1.transpose() / q2);
    D.G3 = Tensor(d, 3);
    D.G4 = Tensor(d, 4);
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j)
        for (int k = 0; k < d; ++k) {
          const double phi = -2.0 * (P(i, j) * q1(k) + P(i, k) * q1(j) + P(j, k) * q1(i)) / q2 +
                             2.0 * q1(i) * q1(j) * q1(k) / q3;
          D.G3(i, j, k) = -c_ * phi;
          for (int l = 0; l < d; ++l) {
            const double pairs = 4.0 * (P(i, j) * P(k, l) + P(i, k) * P(j, l) + P(i, l) * P(j, k));
            const double six = 2.0 * (P(i, j) * q1(k) * q1(l) + P(i, k) * q1(j) * q1(l) +
                                      P(i, l) * q1(j) * q1(k) + P(j, k) * q1(i) * q1(l) +
                                      P(j, l) * q1(i) * q1(k) + P(k, l) * q1(i) * q1(j));
            const double phi4 =
                -pairs / q2 + 2.0 * six / q3 - 6.0 * q1(i) * q1(j) * q1(k) * q1(l) / q4;
            D.G4(i, j, k, l) = -c_ * phi4;
          }
        }
    return D;
  }
  // x = μ + L z / sqrt(χ²_ν / ν).
  void sample(Stream& stream, Eigen::Ref<Eigen::MatrixXd> out) const override {
    const int d = dim();
    Eigen::VectorXd z(d);
    for (Eigen::Index i = 0; i < out.cols(); ++i) {
      stream.fill_normal(z.data(), d);
      const double w = std::sqrt(stream.chi_square(nu_) / nu_);
      z /= w;
      affine_lower(L_, loc_, z.data(), out.col(i).data(), d);
    }
  }

 private:
  Eigen::VectorXd loc_;
  double nu_;
  Eigen::MatrixXd L_, P_;
  double c_ = 0.0, log_norm_ = 0.0;
};

}  // namespace

DistributionSpec preset_distribution(const std::string& name, int d) {
  if (d < 1) throw std::invalid_argument("d: must be at least 1, got " + std::to_string(d));
  DistributionSpec spec;
  spec.name = name;
  spec.d = d;
  if (name == "gaussian") {
    spec.kind = DistributionSpec::Kind::gaussian;
    spec.components = {{1.0, Eigen::VectorXd::Zero(d), Eigen::MatrixXd::Identity(d, d)}};
  } else if (name == "paper_mixture") {
    spec.kind = DistributionSpec::Kind::mixture;
    spec.components = {{0.5, Eigen::VectorXd::Ones(d), Eigen::MatrixXd::Identity(d, d)},
                       {0.5, -Eigen::VectorXd::Ones(d), Eigen::MatrixXd::Identity(d, d)}};
  } else if (name == "laplace") {
    spec.kind = DistributionSpec::Kind::laplace;
    spec.laplace_scale = 1.0;
  } else if (name == "student_t") {
    spec.kind = DistributionSpec::Kind::student_t;
    spec.nu = 5.0;
    spec.location = Eigen::VectorXd::Zero(d);
    spec.scatter = Eigen::MatrixXd::Identity(d, d);
  } else {
    std::string known;
    for (const auto& n : preset_distribution_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("distribution: unknown preset '" + name + "' (known: " + known + ")");
  }
  return spec;
}

std::vector<std::string> preset_distribution_names() {
  return {"gaussian", "paper_mixture", "laplace", "student_t"};
}

std::unique_ptr<Distribution> make_distribution(const DistributionSpec& spec) {
  const int d = spec.d;
  if (d < 1) throw std::invalid_argument("d: must be at least 1, got " + std::to_string(d));
  switch (spec.kind) {
    case DistributionSpec::Kind::gaussian: {
      if (spec.components.size() != 1)
        throw std::invalid_argument("components: a gaussian needs exactly one component, got " +
                                    std::to_string(spec.components.size()));
      check_vector(spec.components[0].mean, d, "components[0].mean");
      return std::make_unique<Gaussian>(spec.components[0].mean, spec.components[0].cov,
                                        "components[0].cov");
    }
    case DistributionSpec::Kind::mixture:
      if (spec.components.empty())
        throw std::invalid_argument("components: a mixture needs at least one component");
      return std::make_unique<Mixture>(spec.components, d);
    case DistributionSpec::Kind::laplace:
      if (!(spec.laplace_scale > 0.0) || !std::isfinite(spec.laplace_scale))
        throw std::invalid_argument("laplace_scale: must be a positive finite number, got " +
                                    fmt_double(spec.laplace_scale));
      return std::make_unique<Laplace>(d, spec.laplace_scale);
    case DistributionSpec::Kind::student_t: {
      if (!(spec.nu > 4.0) || !std::isfinite(spec.nu))
        throw std::invalid_argument("nu: Student-t needs finite nu > 4 (finite fourth moments), got " +
                                    fmt_double(spec.nu));
      Eigen::VectorXd loc = spec.location.size() == 0 ? Eigen::VectorXd::Zero(d) : spec.location;
      check_vector(loc, d, "location");
      Eigen::MatrixXd scatter =
          spec.scatter.size() == 0 ? Eigen::MatrixXd::Identity(d, d) : spec.scatter;
      return std::make_unique<StudentT>(loc, scatter, spec.nu);
    }
  }
  throw std::invalid_argument("kind: unknown distribution kind");
}

}  // namespace scorefarm
