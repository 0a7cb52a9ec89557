#pragma once
// Degree-p local likelihood score-function estimator (paper eq. 3–5, Theorem 1), p = 1..4, d = 1..3.
//
// The paper maximises the local log-likelihood (eq. 3)
//   L_x(a) = Σ_i K((X_i − x)/h) P(X_i − x) − n ∫ K((u − x)/h) exp(P(u − x)) du
// over polynomials P(v) = a0 + a1ᵀv + ½ A2(v,v) + ⅙ A3(v,v,v) + (1/24) A4(v,v,v,v) of degree p, and
// then uses p = 2 with a Gaussian kernel, where the maximiser has a closed form (llsfe.hpp). For
// p ≥ 3 the S4 estimate needs G3 and G4, which p = 2 sets to zero; SPEC §3 shows its error then has a
// floor ‖4 sym(G3⊗g) + G4‖_F. This file solves the general problem numerically.
//
// Formulation (what is actually solved). Work in scaled coordinates t = (u − x)/h, where the kernel
// lives on the unit ball and every monomial is O(1): P(x + h t) = a0' + θ·φ(t), with φ(t) the
// monomials t^α, 1 ≤ |α| ≤ p (unique entries of the symmetric tensors; graded order). Profiling
// out a0 and dividing by the kernel mass Σ_i K(t_i) turns eq. 3 into the exponential-family
// log-likelihood
//   ℓ(θ) = θ·m − ψ(θ),   m = Σ_i K(t_i) φ(t_i) / Σ_i K(t_i),   ψ(θ) = log ∫ K(t) e^{θ·φ(t)} dt,
// which is strictly concave: ∇ℓ = m − E_θ[φ] (data moments − model moments: paper eq. 5) and
// ∇²ℓ = −Cov_θ[φ] (minus the centred model second moments). Newton's method with Armijo
// backtracking from θ = 0 solves it; ψ and the model moments use the ball quadrature of
// quadrature.hpp with log-sum-exp weights. Derivatives of log f at x follow from θ:
//   ∂^α log f(x) ≈ θ_α · α! / h^|α|,   α! = Π α_i!
// giving g = a1, G2 = A2, G3 = A3, G4 = A4 as full symmetric tensors (core's scores_from_log_derivs
// then uses the full S1..S4 formulas). a0 (so the LLDE density estimate f̂(x) = e^{a0}) is
//   a0 = log((1/n) Σ_i K(t_i)) − d log h − ψ(θ).
//
// Kernels (profiles κ(r), r = |v|/h; constants are irrelevant, they shift a0 only):
//   epanechnikov  κ = 1 − r²      on r ≤ 1   (default for p ≥ 3)
//   tricube       κ = (1 − r³)³   on r ≤ 1
//   gaussian      κ = exp(−r²/2)  truncated at r ≤ R (gaussian_radius, default 8), in the data sum
//                 and in the integral alike. Over all of R^d the integral ∫K e^{P} diverges when the
//                 degree-p term (p ≥ 3) is not negative definite; truncation keeps the problem
//                 well posed. The truncated mass is exp(−R²/2) ≈ 1e-14 at R = 8, so at p = 2 the
//                 solution agrees with the closed form llsfe2 to ~1e-10 (tested to 1e-8).
//
// Status bits (status.hpp), always set, never thrown:
//   few_points     fewer samples in the kernel's support (weight > 0) than coefficients C(p+d, d);
//                  the maximiser may not exist, and is very noisy if it does.
//   low_ess        (Σw)²/Σw² < d + 1, as in llsfe2.
//   not_converged  Newton did not reach the tolerance within max_iterations or the line search
//                  stalled; also sets failed (the result does not solve eq. 5).
//   nonfinite      a non-finite moment, integral or estimate; also sets failed.
//   failed         no usable estimate (including: no sample in the support at all).
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/quadrature.hpp"

namespace scorefarm {

enum class LocalKernel { gaussian, epanechnikov, tricube };
LocalKernel parse_local_kernel(const std::string& name);  // throws std::invalid_argument
std::string local_kernel_name(LocalKernel kernel);
// κ(r) for r = |v|/h ≥ 0; 0 outside the support (r > 1, or r > radius for the Gaussian).
double local_kernel_profile(LocalKernel kernel, double r, double gaussian_radius = 8.0);

// Default quadrature order m (nodes: 2m, 2m², 2m³ for d = 1, 2, 3), chosen from the accuracy
// check in the README (change of the solution against order 64/40 references): compact kernels 16
// (solution accurate to ~1e-9 in d = 2, ~1e-7 in d = 3 relative to |θ|); Gaussian kernel of radius
// 8: 48 for d ≤ 2 and 32 for d = 3 (~1e-12; 48 in d = 3 would need a 290 MB node table at p = 4).
int default_quadrature_order(LocalKernel kernel, int dim);

struct LocalLikelihoodOptions {
  int degree = 4;                          // p ∈ {1, 2, 3, 4}
  LocalKernel kernel = LocalKernel::epanechnikov;
  int quadrature_order = 0;                // m ≥ p + 2; 0 means default_quadrature_order(kernel, d)
  double gaussian_radius = 8.0;            // truncation radius of the Gaussian kernel, units of h
  int max_iterations = 100;                // Newton iterations
  double tolerance = 1e-24;                // stop when the Newton decrement λ² = ∇ℓᵀ Cov⁻¹ ∇ℓ ≤ this
};

// All monomials t^α in d variables with |α| ≤ max_degree, graded (degree 0 first, then 1, ...);
// index 0 is the constant. Each monomial of degree ≥ 1 is its parent times one variable, so a full
// evaluation costs one multiply per monomial.
class MonomialBasis {
 public:
  MonomialBasis(int dim, int max_degree);
  int dim() const { return dim_; }
  int max_degree() const { return max_degree_; }
  int size() const { return static_cast<int>(exponents_.size()); }
  const std::vector<int>& exponent(int i) const { return exponents_[i]; }
  int degree(int i) const { return degree_[i]; }
  // Index of t^α, or −1 when |α| > max_degree.
  int index_of(const std::vector<int>& alpha) const;
  // out[i] = t^α_i for i < size(); out must hold size() values.
  void evaluate(const double* t, double* out) const;
  // First index of degree k (k ≤ max_degree + 1; index_begin(max_degree + 1) == size()).
  int index_begin(int k) const { return begin_[k]; }

 private:
  int dim_;
  int max_degree_;
  std::vector<std::vector<int>> exponents_;
  std::vector<int> degree_;
  std::vector<int> parent_;
  std::vector<int> variable_;
  std::vector<int> begin_;
  std::vector<int> code_to_index_;  // exponent code (base max_degree+1) -> index
};

// The data side of eq. 5 in scaled coordinates.
struct LocalDataMoments {
  Eigen::VectorXd mean;              // m_α = Σ K(t_i) t_i^α / Σ K(t_i), all |α| ≤ p (index 0: 1)
  double log_mass = 0.0;             // log((1/n) Σ_i K(t_i)); −inf when no sample has weight
  double ess = 0.0;                  // (Σw)²/Σw²
  std::int64_t support_points = 0;   // samples with K(t_i) > 0
  std::int64_t n = 0;
  bool finite = true;
};

struct LocalLikelihoodFit {
  Estimate estimate;                 // g, G2, G3 (p ≥ 3), G4 (p = 4); h; ess; status
  Eigen::VectorXd theta;             // coefficients of t^α, 1 ≤ |α| ≤ p (basis indices 1..)
  double psi = 0.0;                  // ψ(θ) = log ∫ K(t) e^{θ·φ(t)} dt
  double a0 = 0.0;                   // log of the local density estimate f̂(x)
  int iterations = 0;                // Newton steps taken
  double decrement = 0.0;            // final λ²
  double moment_residual = 0.0;      // max_α |m_α − E_θ[t^α]| at the solution (eq. 5 residual)
  std::int64_t support_points = 0;
};

class LocalLikelihood {
 public:
  // Validates (dim 1..3, degree 1..4, order ≥ degree + 2, radius > 0, max_iterations ≥ 1, tolerance > 0)
  // and builds the quadrature tables once; throws std::invalid_argument naming the bad option.
  LocalLikelihood(int dim, LocalLikelihoodOptions options);

  int dim() const { return dim_; }
  const LocalLikelihoodOptions& options() const { return options_; }
  int coefficient_count() const { return basis_.size(); }  // C(p + d, d), a0 included
  const MonomialBasis& basis() const { return basis_; }     // |α| ≤ p
  const BallQuadrature& quadrature() const { return quad_; }
  double support_radius() const { return radius_; }         // 1, or gaussian_radius

  // The full estimate at x from samples X (d x n). Throws std::invalid_argument on h ≤ 0 or a
  // dimension mismatch; numerical trouble goes into the status.
  LocalLikelihoodFit estimate(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h) const;

  LocalDataMoments data_moments(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h) const;

  // Newton from given data moments (e.g. exact population moments in tests).
  LocalLikelihoodFit solve(const LocalDataMoments& moments, double h) const;

  // The profiled objective ℓ(θ) = θ·m − ψ(θ) and its derivatives (θ, m as in LocalLikelihoodFit:
  // θ has size() − 1 entries, m has size() entries with m[0] = 1). Exposed for tests.
  double objective(const Eigen::VectorXd& theta, const Eigen::VectorXd& m) const;
  Eigen::VectorXd gradient(const Eigen::VectorXd& theta, const Eigen::VectorXd& m) const;
  Eigen::MatrixXd hessian(const Eigen::VectorXd& theta) const;
  // Model moments E_θ[t^α] for all |α| ≤ 2p (basis of degree 2p; index 0 = 1), and ψ(θ).
  Eigen::VectorXd model_moments(const Eigen::VectorXd& theta, double* psi = nullptr) const;
  const MonomialBasis& moment_basis() const { return basis2_; }

  // θ → LogDerivs (g, G2, G3, G4) at bandwidth h.
  LogDerivs log_derivs_from_theta(const Eigen::VectorXd& theta, double h) const;

 private:
  int dim_;
  LocalLikelihoodOptions options_;
  double radius_;
  MonomialBasis basis_;          // |α| ≤ p
  MonomialBasis basis2_;         // |α| ≤ 2p (products of two basis monomials)
  BallQuadrature quad_;
  Eigen::VectorXd log_kw_;       // log(quadrature weight · κ(r)) per node (−inf where κ = 0)
  Eigen::MatrixXd phi2_;         // basis2 monomials at the nodes, size(basis2) x N
  std::vector<int> product_;     // product_[i*K + j] = basis2 index of φ_i φ_j, K = basis size
};

// A per-thread cache of solvers keyed by (dim, options): the quadrature tables are built once per
// configuration instead of once per trial.
const LocalLikelihood& cached_local_likelihood(int dim, const LocalLikelihoodOptions& options);

// Convenience: one estimate, using cached_local_likelihood(X.rows(), options).
Estimate llsfe_local(const Eigen::MatrixXd& X, const Eigen::VectorXd& x, double h,
                     const LocalLikelihoodOptions& options);

}  // namespace scorefarm
