#include "scorefarm/training/losses.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/score_tensors.hpp"
#include "scorefarm/core/status.hpp"
#include "scorefarm/training/activation.hpp"

namespace scorefarm::training {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

MatrixXd gather_columns(const MatrixXd& M, const std::vector<Index>& idx) {
  MatrixXd out(M.rows(), static_cast<Index>(idx.size()));
  for (std::size_t j = 0; j < idx.size(); ++j) out.col(Index(j)) = M.col(idx[j]);
  return out;
}

// Inverse and log-determinant of a symmetric positive-definite matrix; throws naming `what`.
MatrixXd spd_inverse(const MatrixXd& S, const std::string& what, double* logdet) {
  Eigen::LLT<MatrixXd> llt(S);
  if (llt.info() != Eigen::Success)
    throw std::invalid_argument(what + ": covariance is not positive definite");
  if (logdet) *logdet = 2.0 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  return llt.solve(MatrixXd::Identity(S.rows(), S.cols()));
}

}  // namespace

int ScoreModel::dim() const {
  return has_per_sample ? int(per_sample.g.rows()) : int(Z.rows());
}
Index ScoreModel::size() const { return has_per_sample ? per_sample.g.cols() : Z.cols(); }

ScoreModel gaussian_forms_model(const MatrixXd& X) {
  const Index d = X.rows();
  ScoreModel m;
  m.Z = X;
  GaussianFormTerm t;
  t.L = -MatrixXd::Identity(d, d);
  t.G2 = -MatrixXd::Identity(d, d);
  m.forms.push_back(std::move(t));
  return m;
}

ScoreModel exact_score_model(const DistributionSpec& spec, const MatrixXd& X) {
  const Index d = X.rows(), n = X.cols();
  if (spec.d != d)
    throw std::invalid_argument("exact_score_model: distribution dimension " +
                                std::to_string(spec.d) + " != data dimension " + std::to_string(d));
  ScoreModel m;
  switch (spec.kind) {
    case DistributionSpec::Kind::gaussian:
    case DistributionSpec::Kind::mixture: {
      if (spec.components.empty())
        throw std::invalid_argument("exact_score_model: distribution has no components");
      m.Z = X;
      const std::size_t K = spec.components.size();
      std::vector<MatrixXd> prec(K);
      std::vector<double> logdet(K);
      for (std::size_t c = 0; c < K; ++c) {
        const auto& comp = spec.components[c];
        prec[c] = spd_inverse(comp.cov, "distribution.components[" + std::to_string(c) + "]",
                              &logdet[c]);
        GaussianFormTerm t;
        t.L = -prec[c];
        t.b = prec[c] * comp.mean;  // g_c = −Λ_c (x − μ_c)
        t.G2 = -prec[c];
        m.forms.push_back(std::move(t));
      }
      if (K > 1) {
        // Posterior weights π_c(x) ∝ p_c N(x; μ_c, Σ_c), by log-sum-exp (paper Example 2).
        double wsum = 0;
        for (const auto& comp : spec.components) wsum += comp.weight;
        MatrixXd logp(Index(K), n);
        for (std::size_t c = 0; c < K; ++c) {
          const MatrixXd D = X.colwise() - spec.components[c].mean;
          const VectorXd quad = (D.array() * (prec[c] * D).array()).colwise().sum().transpose();
          logp.row(Index(c)) = (std::log(spec.components[c].weight / wsum) - 0.5 * logdet[c] -
                                0.5 * quad.array()).transpose();
        }
        for (std::size_t c = 0; c < K; ++c) m.forms[c].weight.resize(n);
        for (Index j = 0; j < n; ++j) {
          const double mx = logp.col(j).maxCoeff();
          double s = 0;
          for (std::size_t c = 0; c < K; ++c) s += std::exp(logp(Index(c), j) - mx);
          for (std::size_t c = 0; c < K; ++c)
            m.forms[c].weight(j) = std::exp(logp(Index(c), j) - mx) / s;
        }
      }
      return m;
    }
    case DistributionSpec::Kind::laplace: {
      // f = Π exp(−|x_i|/b)/(2b): g = −sgn(x)/b and G2 = G3 = G4 = 0 almost everywhere, so
      // S4 = sgn(x)^⊗4 / b⁴ (the paper's form for b = 1; SPEC §2).
      if (!(spec.laplace_scale > 0)) throw std::invalid_argument("laplace_scale must be > 0");
      m.Z = X.unaryExpr([](double v) { return double((v > 0) - (v < 0)); });
      GaussianFormTerm t;
      t.L = -MatrixXd::Identity(d, d) / spec.laplace_scale;
      m.forms.push_back(std::move(t));
      return m;
    }
    case DistributionSpec::Kind::student_t: {
      const double cells = double(n) * std::pow(double(d), 4);
      if (cells > 2e7)
        throw std::invalid_argument(
            "loss L with a student_t input stores dense G3, G4 per sample: n·d⁴ = " +
            std::to_string(cells) + " exceeds 2e7; use smaller n or d");
      auto dist = make_distribution(spec);
      return per_sample_model(*dist, X);
    }
  }
  throw std::invalid_argument("exact_score_model: unknown distribution kind");
}

ScoreModel per_sample_model(const Distribution& dist, const MatrixXd& X) {
  const Index d = X.rows(), n = X.cols();
  ScoreModel m;
  m.has_per_sample = true;
  auto& ps = m.per_sample;
  ps.g.resize(d, n);
  ps.G2.resize(std::size_t(n));
  for (Index j = 0; j < n; ++j) {
    LogDerivs D = dist.log_derivs(X.col(j));
    ps.g.col(j) = D.g;
    ps.G2[std::size_t(j)] = D.G2;
    if (j == 0 && !D.G3.empty()) ps.G3.resize(std::size_t(n));
    if (j == 0 && !D.G4.empty()) ps.G4.resize(std::size_t(n));
    if (!ps.G3.empty()) ps.G3[std::size_t(j)] = std::move(D.G3);
    if (!ps.G4.empty()) ps.G4[std::size_t(j)] = std::move(D.G4);
  }
  return m;
}

ScoreModel llsfe_model(const MatrixXd& X, const BandwidthRule& rule, bool leave_one_out,
                       std::uint32_t& status_bits) {
  const Index d = X.rows(), n = X.cols();
  const double h = rule.bandwidth(X);
  ScoreModel m;
  m.has_per_sample = true;
  auto& ps = m.per_sample;
  ps.g.setZero(d, n);
  ps.G2.assign(std::size_t(n), MatrixXd::Zero(d, d));
  ps.weight.setOnes(n);
  MatrixXd rest(d, n > 0 ? n - 1 : 0);
  for (Index j = 0; j < n; ++j) {
    Estimate e;
    if (leave_one_out) {
      rest.leftCols(j) = X.leftCols(j);
      rest.rightCols(n - 1 - j) = X.rightCols(n - 1 - j);
      e = llsfe2(rest, X.col(j), h);
    } else {
      e = llsfe2(X, X.col(j), h);
    }
    const bool usable = !(e.status & status::failure_mask) && e.log_derivs.g.allFinite() &&
                        e.log_derivs.G2.allFinite();
    if (!usable) {
      ps.weight(j) = 0.0;  // excluded from every sum; the record says so
      status_bits |= status::few_points;
      continue;
    }
    status_bits |= e.status & ~status::failure_mask;
    ps.g.col(j) = e.log_derivs.g;
    ps.G2[std::size_t(j)] = e.log_derivs.G2;
  }
  return m;
}

double regulariser(const MatrixXd& A, LossSpec::Regulariser kind, double lambda, MatrixXd* gA) {
  if (lambda == 0.0) return 0.0;
  double value = 0.0;
  for (Index i = 0; i < A.rows(); ++i) {
    const double sq = A.row(i).squaredNorm();
    if (kind == LossSpec::Regulariser::norm) {
      const double nrm = std::sqrt(sq);
      value += lambda * (nrm - 1.0) * (nrm - 1.0);
      // d/da ‖a‖ = a/‖a‖; at a = 0 the penalty has no gradient direction, take 0.
      if (gA && nrm > 0) gA->row(i) += (2.0 * lambda * (nrm - 1.0) / nrm) * A.row(i);
    } else {
      value += lambda * (sq - 1.0) * (sq - 1.0);
      if (gA) gA->row(i) += (4.0 * lambda * (sq - 1.0)) * A.row(i);
    }
  }
  return value;
}

// ---------------------------------------------------------------- ℓ2

L2Loss::L2Loss(MatrixXd X, VectorXd y, Activation activation, bool learn_w,
               LossSpec::Regulariser regulariser, double lambda)
    : X_(std::move(X)), y_(std::move(y)), activation_(activation), learn_w_(learn_w),
      regulariser_(regulariser), lambda_(lambda) {
  if (X_.cols() != y_.size()) throw std::invalid_argument("L2Loss: X and y sizes differ");
}

double L2Loss::evaluate(const MatrixXd& A, const VectorXd& w, const std::vector<Index>* batch,
                        MatrixXd* gA, VectorXd* gw) const {
  MatrixXd Xb_store;
  VectorXd yb_store;
  const MatrixXd* Xb = &X_;
  const VectorXd* yb = &y_;
  if (batch) {
    Xb_store = gather_columns(X_, *batch);
    yb_store.resize(Index(batch->size()));
    for (std::size_t j = 0; j < batch->size(); ++j) yb_store(Index(j)) = y_((*batch)[j]);
    Xb = &Xb_store;
    yb = &yb_store;
  }
  const Index k = A.rows(), m = Xb->cols();
  // One GEMM for P = A X, one fused pass over P (residuals, then P overwritten in place with the
  // back-propagated (2/m) r_n w_i σ'(p_in)), one GEMM for the gradient: no k x n temporaries
  // besides P itself.
  MatrixXd P;
  P.noalias() = A * (*Xb);
  const bool relu = activation_ == Activation::relu;
  const bool want_gw = gw && learn_w_;
  if (want_gw) gw->setZero(k);
  const double two_m = 2.0 / double(m);
  double value = 0.0;
  for (Index j = 0; j < m; ++j) {
    double* p = P.col(j).data();
    double r = 0.0;
    for (Index i = 0; i < k; ++i)
      r += w(i) * (relu ? (p[i] > 0 ? p[i] : 0.0) : activate(activation_, p[i]));
    r -= (*yb)(j);
    value += r * r;
    if (want_gw)
      for (Index i = 0; i < k; ++i)
        (*gw)(i) += two_m * r * (relu ? (p[i] > 0 ? p[i] : 0.0) : activate(activation_, p[i]));
    if (gA) {
      // ∂/∂a_i = (2/m) Σ_n r_n w_i σ'(⟨a_i, x_n⟩) x_n
      const double c = two_m * r;
      for (Index i = 0; i < k; ++i)
        p[i] = c * w(i) * (relu ? (p[i] > 0 ? 1.0 : 0.0) : activate_derivative(activation_, p[i]));
    }
  }
  value /= double(m);
  if (gA) gA->noalias() = P * Xb->transpose();
  if (gw && !learn_w_) gw->setZero(k);
  value += regulariser(A, regulariser_, lambda_, gA);
  return value;
}

// ---------------------------------------------------------------- score losses

ScoreLoss::ScoreLoss(ScoreModel model, VectorXd y, double mu, int sign,
                     LossSpec::Regulariser regulariser, double lambda)
    : model_(std::move(model)), y_(std::move(y)), mu_(mu), sign_(sign),
      regulariser_(regulariser), lambda_(lambda) {
  if (sign_ != 1 && sign_ != -1) throw std::invalid_argument("ScoreLoss: sign must be +1 or -1");
  if (model_.size() != y_.size()) throw std::invalid_argument("ScoreLoss: model and y sizes differ");
  const Index n = y_.size();
  for (std::size_t c = 0; c < model_.forms.size(); ++c) {
    const auto& t = model_.forms[c];
    // Terms with the same L share the k×d×n product A·L·Z.
    std::size_t gi = 0;
    for (; gi < groups_.size(); ++gi)
      if (groups_[gi].L.rows() == t.L.rows() && groups_[gi].L == t.L) break;
    if (gi == groups_.size()) {
      Group g;
      g.L = t.L;
      g.identity = t.L.isIdentity(0.0);
      groups_.push_back(std::move(g));
    }
    groups_[gi].terms.push_back(int(c));
    // Full-batch weights ω_n = y_n π_c(x_n)/n and moment Σ_n ω_n g_n g_nᵀ.
    VectorXd omega = y_ / double(n);
    if (t.weight.size()) omega.array() *= t.weight.array();
    MatrixXd G;
    G.noalias() = t.L * model_.Z;
    if (t.b.size()) G.colwise() += t.b;
    MatrixXd Gw = G;
    Gw.array().rowwise() *= omega.transpose().array();
    MatrixXd M;
    M.noalias() = Gw * G.transpose();
    omega_.push_back(std::move(omega));
    moment_.push_back(std::move(M));
  }
}

double ScoreLoss::evaluate(const MatrixXd& A, const VectorXd& /*w*/,
                           const std::vector<Index>* batch, MatrixXd* gA, VectorXd* gw) const {
  double value = sign_ * data_part(A, batch, gA);
  if (gA && sign_ < 0) *gA = -*gA;
  if (gw) gw->setZero(A.rows());
  value += regulariser(A, regulariser_, lambda_, gA);
  return value;
}

double ScoreLoss::data_part(const MatrixXd& A, const std::vector<Index>* batch,
                            MatrixXd* gA) const {
  if (A.cols() != model_.dim())
    throw std::invalid_argument("ScoreLoss: A has " + std::to_string(A.cols()) +
                                " columns, the data dimension is " + std::to_string(model_.dim()));
  if (gA) gA->setZero(A.rows(), A.cols());
  double value = 0.0;
  if (!model_.forms.empty()) value += forms_part(A, batch, gA);
  if (model_.has_per_sample) value += per_sample_part(A, batch, gA);
  return value;
}

double ScoreLoss::forms_part(const MatrixXd& A, const std::vector<Index>* batch,
                             MatrixXd* gA) const {
  const Index k = A.rows();
  const double mu1 = 1.0 + mu_;
  MatrixXd Zb_store;
  const MatrixXd* Zb = &model_.Z;
  if (batch) {
    Zb_store = gather_columns(model_.Z, *batch);
    Zb = &Zb_store;
  }
  const Index m = Zb->cols();
  double value = 0.0;
  MatrixXd AZ, Q, Rsum, AMg, W, H, B, K, Gamma;
  VectorXd c, rrow, omega_b;
  MatrixXd Mg_b;
  for (const Group& group : groups_) {
    if (group.identity)
      AZ.noalias() = A * (*Zb);
    else
      AZ.noalias() = (A * group.L) * (*Zb);
    if (gA) Rsum.setZero(k, m);
    for (int ci : group.terms) {
      const GaussianFormTerm& t = model_.forms[std::size_t(ci)];
      const VectorXd* omega = &omega_[std::size_t(ci)];
      const MatrixXd* Mg = &moment_[std::size_t(ci)];
      if (batch) {
        omega_b.resize(m);
        for (Index j = 0; j < m; ++j) {
          const Index n = (*batch)[std::size_t(j)];
          omega_b(j) = y_(n) * (t.weight.size() ? t.weight(n) : 1.0) / double(m);
        }
        MatrixXd G;
        G.noalias() = t.L * (*Zb);
        if (t.b.size()) G.colwise() += t.b;
        MatrixXd Gw = G;
        Gw.array().rowwise() *= omega_b.transpose().array();
        Mg_b.noalias() = Gw * G.transpose();
        omega = &omega_b;
        Mg = &Mg_b;
      }
      const bool shifted = t.b.size() > 0;
      if (shifted) {
        Q = AZ;
        Q.colwise() += A * t.b;
      }
      const MatrixXd& Qr = shifted ? Q : AZ;
      // Quartic part Σ_n ω_n (s2² − (1+μ) s4) and its α-gradient 4 s2 α − 4(1+μ) α³.
      if (gA && shifted) rrow.setZero(k);
      double quartic = 0.0;
      const double* om = omega->data();
      for (Index j = 0; j < m; ++j) {
        const double w = om[j];
        if (w == 0.0) continue;
        const double* q = Qr.col(j).data();
        double s2 = 0, s4 = 0;
        for (Index i = 0; i < k; ++i) {
          const double q2 = q[i] * q[i];
          s2 += q2;
          s4 += q2 * q2;
        }
        quartic += w * (s2 * s2 - mu1 * s4);
        if (gA) {
          double* r = Rsum.col(j).data();
          const double a = 4.0 * w * s2, b4 = 4.0 * mu1 * w;
          if (shifted) {
            for (Index i = 0; i < k; ++i) {
              const double v = q[i] * (a - b4 * q[i] * q[i]);
              r[i] += v;
              rrow(i) += v;
            }
          } else {
            for (Index i = 0; i < k; ++i) r[i] += q[i] * (a - b4 * q[i] * q[i]);
          }
        }
      }
      value += quartic;
      // Parts of degree ≤ 2 in α through W = Σ_n ω_n α_n α_nᵀ = A Mg Aᵀ.
      AMg.noalias() = A * (*Mg);
      W.noalias() = AMg * A.transpose();
      const double Sw = omega->sum();
      const double trW = W.trace();
      const bool hasG2 = t.G2.size() > 0;
      double C = 0.0;
      if (hasG2) {
        H.noalias() = A * t.G2;
        B.noalias() = H * A.transpose();
        c = B.diagonal();
        C = c.sum();
        value += 2.0 * C * trW - 6.0 * mu1 * c.dot(W.diagonal()) +
                 4.0 * (B.array() * W.array()).sum() +
                 Sw * (C * C - 3.0 * mu1 * c.squaredNorm() + 2.0 * B.squaredNorm());
      }
      if (gA) {
        if (hasG2) {
          // α-linear part: K α with K = diag(4C − 12(1+μ)c) + 8B, summed: K A Mg.
          K = 8.0 * B;
          K.diagonal().array() += 4.0 * C - 12.0 * mu1 * c.array();
          gA->noalias() += K * AMg;
          // B-part: ∂/∂B summed over samples (Γ̄), then ∇_A = 2 Γ̄ A G2.
          Gamma = 4.0 * W + (4.0 * Sw) * B;
          Gamma.diagonal().array() +=
              2.0 * trW + 2.0 * C * Sw - 6.0 * mu1 * (W.diagonal().array() + Sw * c.array());
          gA->noalias() += 2.0 * (Gamma * H);
        }
        if (shifted) gA->noalias() += rrow * t.b.transpose();
      }
    }
    if (gA) {
      if (group.identity)
        gA->noalias() += Rsum * Zb->transpose();
      else
        gA->noalias() += (Rsum * Zb->transpose()) * group.L.transpose();
    }
  }
  return value;
}

double ScoreLoss::per_sample_part(const MatrixXd& A, const std::vector<Index>* batch,
                                  MatrixXd* gA) const {
  const PerSampleScores& ps = model_.per_sample;
  const Index k = A.rows(), d = A.cols();
  const Index m = batch ? Index(batch->size()) : ps.g.cols();
  const double mu1 = 1.0 + mu_;
  const bool hasG2 = !ps.G2.empty(), hasG3 = !ps.G3.empty(), hasG4 = !ps.G4.empty();
  MatrixXd H(k, d), B = MatrixXd::Zero(k, k), Gamma(k, k);
  VectorXd alpha(k), c = VectorXd::Zero(k), Ba = VectorXd::Zero(k), dalpha(k);
  MatrixXd V3(d, k), T3(k, k), T4(k, k);
  std::vector<MatrixXd> M3(std::size_t(hasG3 ? k : 0)), M4(std::size_t(hasG4 ? k : 0));
  double value = 0.0;
  for (Index j = 0; j < m; ++j) {
    const Index n = batch ? (*batch)[std::size_t(j)] : j;
    const double w = y_(n) * (ps.weight.size() ? ps.weight(n) : 1.0) / double(m);
    if (w == 0.0) continue;
    const auto g = ps.g.col(n);
    alpha.noalias() = A * g;
    double C = 0.0;
    if (hasG2) {
      H.noalias() = A * ps.G2[std::size_t(n)];
      B.noalias() = H * A.transpose();
      c = B.diagonal();
      C = c.sum();
      Ba.noalias() = B * alpha;
    }
    const double s2 = alpha.squaredNorm();
    const double s4 = alpha.array().pow(4).sum();
    const double cq = (c.array() * alpha.array().square()).sum();
    const double qBq = alpha.dot(Ba);
    const double sc2 = c.squaredNorm();
    double T = s2 * s2 - s4 + 2.0 * C * s2 - 6.0 * cq + 4.0 * qBq + C * C - 3.0 * sc2 +
               2.0 * B.squaredNorm() - mu_ * (s4 + 6.0 * cq + 3.0 * sc2);
    if (gA) {
      dalpha = 4.0 * s2 * alpha.array() - 4.0 * mu1 * alpha.array().cube() +
               (4.0 * C - 12.0 * mu1 * c.array()) * alpha.array() + 8.0 * Ba.array();
      gA->noalias() += (w * dalpha) * g.transpose();
      if (hasG2) {
        Gamma = 4.0 * B + 4.0 * alpha * alpha.transpose();
        Gamma.diagonal().array() +=
            2.0 * s2 + 2.0 * C - 6.0 * mu1 * (alpha.array().square() + c.array());
        gA->noalias() += (2.0 * w) * (Gamma * H);
      }
    }
    // G3/G4 terms (SPEC §1): Σ_{i≠j} [2α_j G3(a_i,a_i,a_j) + 2α_i G3(a_i,a_j,a_j) + G4(a_i,a_i,a_j,a_j)]
    // = Σ_{i≠j} [4α_j T3_ij + T4_ij] with T3_ij = G3(a_i,a_i,a_j), T4_ij = G4(a_i,a_i,a_j,a_j);
    // and −μ Σ_i [4α_i T3_ii + T4_ii]. Dense per-sample tensors: meant for small d.
    if (hasG3) {
      const Tensor& G3 = ps.G3[std::size_t(n)];
      for (Index i = 0; i < k; ++i) {
        MatrixXd& Mi = M3[std::size_t(i)];  // G3(a_i, ·, ·)
        Mi.setZero(d, d);
        for (Index r = 0; r < d; ++r)
          for (Index p = 0; p < d; ++p)
            for (Index q = 0; q < d; ++q) Mi(p, q) += A(i, r) * G3(int(r), int(p), int(q));
        V3.col(i).noalias() = Mi * A.row(i).transpose();  // G3(a_i, a_i, ·)
      }
      T3.noalias() = V3.transpose() * A.transpose();  // T3(i, j) = v3_i · a_j
      for (Index i = 0; i < k; ++i)
        for (Index jj = 0; jj < k; ++jj) {
          const double coef = (i == jj) ? -mu_ : 1.0;
          T += coef * 4.0 * alpha(jj) * T3(i, jj);
          if (!gA) continue;
          if (i != jj) {
            gA->row(jj) += (w * 4.0 * T3(i, jj)) * g.transpose();
            gA->row(jj) += (w * 4.0 * alpha(jj)) * V3.col(i).transpose();
            gA->row(i) += (w * 8.0 * alpha(jj)) * (M3[std::size_t(i)] * A.row(jj).transpose()).transpose();
          } else {
            gA->row(i) += (-mu_ * w) * (4.0 * T3(i, i) * g + 12.0 * alpha(i) * V3.col(i)).transpose();
          }
        }
    }
    if (hasG4) {
      const Tensor& G4 = ps.G4[std::size_t(n)];
      for (Index i = 0; i < k; ++i) {
        MatrixXd& Mi = M4[std::size_t(i)];  // G4(a_i, a_i, ·, ·)
        Mi.setZero(d, d);
        for (Index r = 0; r < d; ++r)
          for (Index s = 0; s < d; ++s) {
            const double ars = A(i, r) * A(i, s);
            for (Index p = 0; p < d; ++p)
              for (Index q = 0; q < d; ++q) Mi(p, q) += ars * G4(int(r), int(s), int(p), int(q));
          }
      }
      for (Index i = 0; i < k; ++i)
        for (Index jj = 0; jj < k; ++jj) {
          const VectorXd Maj = M4[std::size_t(i)] * A.row(jj).transpose();
          T4(i, jj) = A.row(jj).dot(Maj);
          if (i != jj) {
            T += T4(i, jj);
            if (gA) {
              gA->row(jj) += (2.0 * w) * Maj.transpose();
              gA->row(i) += (2.0 * w) * (M4[std::size_t(jj)] * A.row(i).transpose()).transpose();
            }
          } else {
            T -= mu_ * T4(i, i);
            if (gA) gA->row(i) += (-4.0 * mu_ * w) * Maj.transpose();
          }
        }
    }
    value += w * T;
  }
  return value;
}

double brute_force_data_part(const std::vector<LogDerivs>& derivs, const VectorXd& y,
                             const MatrixXd& A, double mu) {
  const Index k = A.rows();
  const double m = double(derivs.size());
  double value = 0.0;
  for (std::size_t n = 0; n < derivs.size(); ++n) {
    const Scores S = scores_from_log_derivs(derivs[n]);
    double T = 0.0;
    for (Index i = 0; i < k; ++i) {
      const VectorXd ai = A.row(i).transpose();
      for (Index j = 0; j < k; ++j) {
        const VectorXd aj = A.row(j).transpose();
        if (i != j) T += contract4(S.S4, ai, ai, aj, aj);
      }
      T -= mu * contract4(S.S4, ai, ai, ai, ai);
    }
    value += y(Index(n)) * T / m;
  }
  return value;
}

}  // namespace scorefarm::training
