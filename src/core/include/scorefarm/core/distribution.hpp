#pragma once
// Input distributions with exact scores: the ground truth of every estimator study (SPEC §2).
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "scorefarm/core/rng.hpp"
#include "scorefarm/core/tensor.hpp"

namespace scorefarm {

// Derivatives of log f at one point: g = ∇ log f, G2 = ∇² log f, G3, G4 (SPEC §1).
// G3/G4 are empty when they vanish identically (Gaussian, LLSFE p = 2): consumers treat empty as 0.
struct LogDerivs {
  Eigen::VectorXd g;
  Eigen::MatrixXd G2;
  Tensor G3;
  Tensor G4;
  int dim() const { return static_cast<int>(g.size()); }
};

class Distribution {
 public:
  virtual ~Distribution() = default;
  virtual int dim() const = 0;
  virtual std::string describe() const = 0;
  virtual double log_density(const Eigen::VectorXd& x) const = 0;
  // Exact derivatives of log f at x. For the product Laplace they hold almost everywhere.
  virtual LogDerivs log_derivs(const Eigen::VectorXd& x) const = 0;
  // Fills the n columns of `out` (d x n) with independent draws.
  virtual void sample(Stream& stream, Eigen::Ref<Eigen::MatrixXd> out) const = 0;
  void sample_one(Stream& stream, Eigen::Ref<Eigen::VectorXd> out) const;
};

struct GaussianComponent {
  double weight = 1.0;
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
};

// A plain-data description of a distribution; what configs are parsed into.
struct DistributionSpec {
  enum class Kind { gaussian, mixture, laplace, student_t };
  Kind kind = Kind::gaussian;
  std::string name = "gaussian";  // label written into the cell table
  int d = 2;
  std::vector<GaussianComponent> components;  // gaussian: exactly one; mixture: one or more
  double laplace_scale = 1.0;                 // product Laplace: density Π exp(-|x_i|/b)/(2b)
  double nu = 5.0;                            // Student-t degrees of freedom, > 4
  Eigen::VectorXd location;                   // Student-t location
  Eigen::MatrixXd scatter;                    // Student-t scatter matrix (positive definite)
};

// Named presets in dimension d: "gaussian" (N(0,I)), "paper_mixture" (0.5 N(1,I) + 0.5 N(-1,I)),
// "laplace" (product Laplace, b = 1), "student_t" (nu = 5, identity scatter). Throws on unknown.
DistributionSpec preset_distribution(const std::string& name, int d);
std::vector<std::string> preset_distribution_names();

// Validates the spec (positive-definite covariances, weights > 0, nu > 4...) and builds it.
// Throws std::invalid_argument with a message naming the offending field.
std::unique_ptr<Distribution> make_distribution(const DistributionSpec& spec);

}  // namespace scorefarm
