#pragma once
// The training losses of paper §3–4 (SPEC §6), each with an analytic gradient in A (rows a_i).
//
//   ℓ2(A, w) = Ê[(ŷ(x) − y)²],  ŷ = Σ_i w_i σ(⟨a_i, x⟩)                          (paper eq. 17)
//   L(A)     = s·[ Σ_{i≠j} Ê[y S4(x)(a_i,a_i,a_j,a_j)] − μ Σ_i Ê[y S4(x)(a_i,a_i,a_i,a_i)] ] + R(A)
//                                                                          (paper eq. 19–20)
//   G(A)     = L(A) with the N(0, I) score whatever the input (Ge et al. 2017)
//   L̂(A)     = L(A) with S4 built from per-sample LLSFE estimates of (g, G2)   (paper §4.2)
//   R(A)     = λ Σ_i (‖a_i‖ − 1)²  (paper)   or   λ Σ_i (‖a_i‖² − 1)²  (Ge et al.)
//
// s ∈ {+1, −1} multiplies the data part only: the regulariser must stay a penalty. Every loss also
// adds R (λ = 0 switches it off, as the paper's ℓ2 has none).
//
// How S4 is contracted (SPEC §1; never a d⁴ tensor). Per sample, with α_i = ⟨g, a_i⟩,
// B = A G2 Aᵀ, c_i = B_ii, C = tr B, s2 = Σ α_i², s4 = Σ α_i⁴, the (Σ)² − Σ² identities give
//   Σ_{i≠j} t1 = s2² − s4 + 2C·s2 − 6 Σ c_i α_i² + 4 αᵀBα + C² − 3 Σ c_i² + 2‖B‖_F²
//   Σ_i t2     = s4 + 6 Σ c_i α_i² + 3 Σ c_i²
// (plus the G3/G4 terms of SPEC §1 when present). Two representations of S4 over the data:
//  * Gaussian forms: S4(x) = Σ_c π_c(x) S4_c(x), each S4_c the score of a Gaussian-shaped term with
//    g_c(x) = L_c z + b_c (z a column of a basis Z: X, or sgn X for the Laplace) and a constant G2_c.
//    Covers N(μ,Σ), the mixture (posterior-weighted forms, paper Example 2), the product Laplace
//    (g = −sgn(x)/b, G2 = 0 a.e.) and G. Every term of degree ≤ 2 in α goes through the data moment
//    Σ_n ω_n g_n g_nᵀ (precomputed for full batches), so an evaluation costs two k×d×n products
//    (A·Z and the gradient) per distinct L_c plus O(k·n) elementwise work: O(n k d).
//  * Per-sample: g_n, G2_n (and optional dense G3_n, G4_n) at each point; O(n k d²) per evaluation.
//    Used by L̂ and by the Student-t (whose log-density has non-zero G3, G4).
#include <cstdint>
#include <memory>
#include <vector>

#include <Eigen/Dense>

#include "scorefarm/core/bandwidth.hpp"
#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/tensor.hpp"
#include "scorefarm/training/training_spec.hpp"

namespace scorefarm::training {

// One Gaussian-shaped term of a score model.
struct GaussianFormTerm {
  Eigen::MatrixXd L;       // d x d; g_c(x_n) = L z_n + b
  Eigen::VectorXd b;       // d, or empty for 0
  Eigen::VectorXd weight;  // n posterior weights π_c(x_n), or empty for all 1
  Eigen::MatrixXd G2;      // d x d constant ∇² log f_c, or empty for 0
};

struct PerSampleScores {
  Eigen::MatrixXd g;                // d x n
  std::vector<Eigen::MatrixXd> G2;  // n matrices d x d (empty vector: G2 = 0)
  std::vector<Tensor> G3, G4;       // empty vectors, or n dense tensors each
  Eigen::VectorXd weight;           // n; 0 excludes a sample (failed estimate); empty: all 1
};

// S4 of the input at every training point (see above). Exactly one of the representations is used.
struct ScoreModel {
  Eigen::MatrixXd Z;  // d x n basis of the forms
  std::vector<GaussianFormTerm> forms;
  bool has_per_sample = false;
  PerSampleScores per_sample;
  int dim() const;
  Eigen::Index size() const;
};

// Ge et al.'s G: the N(0, I) forms (g = −x, G2 = −I) at the columns of X (d x n).
ScoreModel gaussian_forms_model(const Eigen::MatrixXd& X);
// The exact score of `spec` at the columns of X: forms for gaussian, mixture and laplace; the
// per-sample representation with G3, G4 from core's log_derivs for student_t (cost n·d⁴ memory:
// throws std::invalid_argument when n·d⁴ > 2e7).
ScoreModel exact_score_model(const DistributionSpec& spec, const Eigen::MatrixXd& X);
// The per-sample representation from any distribution's log_derivs (G3/G4 kept when present).
ScoreModel per_sample_model(const Distribution& dist, const Eigen::MatrixXd& X);
// L̂: per-sample LLSFE estimates (g, G2) at every column of X, computed from X itself (without the
// point when leave_one_out), bandwidth from `rule` applied to the whole X. Samples whose estimate
// failed are given weight 0 and set status::few_points in `status`; the warning bits of the
// estimates (low_ess, sigma_tiny) are OR-ed into `status` too.
ScoreModel llsfe_model(const Eigen::MatrixXd& X, const BandwidthRule& rule, bool leave_one_out,
                       std::uint32_t& status);

// Regulariser value; adds its gradient to *gA when gA is non-null.
double regulariser(const Eigen::MatrixXd& A, LossSpec::Regulariser kind, double lambda,
                   Eigen::MatrixXd* gA);

class Loss {
 public:
  virtual ~Loss() = default;
  // Value at (A, w) over the samples in `batch` (all when null; Ê is the mean over them). When
  // gA (k x d) / gw (k) are non-null they are overwritten with the gradient. w is ignored by the
  // score losses; for ℓ2 it is the second layer (w* when not learned).
  virtual double evaluate(const Eigen::MatrixXd& A, const Eigen::VectorXd& w,
                          const std::vector<Eigen::Index>* batch, Eigen::MatrixXd* gA,
                          Eigen::VectorXd* gw) const = 0;
  virtual bool learns_w() const { return false; }
  virtual Eigen::Index samples() const = 0;
};

class L2Loss final : public Loss {
 public:
  L2Loss(Eigen::MatrixXd X, Eigen::VectorXd y, Activation activation, bool learn_w,
         LossSpec::Regulariser regulariser, double lambda);
  double evaluate(const Eigen::MatrixXd& A, const Eigen::VectorXd& w,
                  const std::vector<Eigen::Index>* batch, Eigen::MatrixXd* gA,
                  Eigen::VectorXd* gw) const override;
  bool learns_w() const override { return learn_w_; }
  Eigen::Index samples() const override { return X_.cols(); }

 private:
  Eigen::MatrixXd X_;
  Eigen::VectorXd y_;
  Activation activation_;
  bool learn_w_;
  LossSpec::Regulariser regulariser_;
  double lambda_;
};

class ScoreLoss final : public Loss {
 public:
  // sign: +1 or −1 (resolved), multiplies the data part only.
  ScoreLoss(ScoreModel model, Eigen::VectorXd y, double mu, int sign,
            LossSpec::Regulariser regulariser, double lambda);
  double evaluate(const Eigen::MatrixXd& A, const Eigen::VectorXd& w,
                  const std::vector<Eigen::Index>* batch, Eigen::MatrixXd* gA,
                  Eigen::VectorXd* gw) const override;
  Eigen::Index samples() const override { return y_.size(); }
  // The unsigned data part Σ_{i≠j} Ê[y t1] − μ Σ_i Ê[y t2] and its gradient (gA overwritten).
  double data_part(const Eigen::MatrixXd& A, const std::vector<Eigen::Index>* batch,
                   Eigen::MatrixXd* gA) const;

 private:
  double forms_part(const Eigen::MatrixXd& A, const std::vector<Eigen::Index>* batch,
                    Eigen::MatrixXd* gA) const;
  double per_sample_part(const Eigen::MatrixXd& A, const std::vector<Eigen::Index>* batch,
                         Eigen::MatrixXd* gA) const;
  struct Group {
    Eigen::MatrixXd L;
    bool identity = false;
    std::vector<int> terms;
  };
  ScoreModel model_;
  Eigen::VectorXd y_;
  double mu_;
  int sign_;
  LossSpec::Regulariser regulariser_;
  double lambda_;
  std::vector<Group> groups_;
  std::vector<Eigen::VectorXd> omega_;  // per term: y_n π_c(x_n) / n (full batch)
  std::vector<Eigen::MatrixXd> moment_; // per term: Σ_n ω_n g_n g_nᵀ (full batch)
};

// The data part by brute force: per sample, S4 from core's scores_from_log_derivs (full d⁴
// tensor) and the double loop over i ≠ j. O(n d⁴ k²): for tests and the benchmark baseline only.
double brute_force_data_part(const std::vector<LogDerivs>& derivs, const Eigen::VectorXd& y,
                             const Eigen::MatrixXd& A, double mu);

}  // namespace scorefarm::training
