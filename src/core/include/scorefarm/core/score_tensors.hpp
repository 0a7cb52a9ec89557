#pragma once
// Score functions S_m = ∇^m f / f built from the derivatives of log f (SPEC §1, paper eq. 2).
#include <Eigen/Dense>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/tensor.hpp"

namespace scorefarm {

struct Scores {
  Eigen::VectorXd S1;
  Eigen::MatrixXd S2;
  Tensor S3;
  Tensor S4;
};

// S1..S4 with the full formulas (G3, G4 included when present).
Scores scores_from_log_derivs(const LogDerivs& D);

// Contractions of S4 that never form a d^4 tensor (SPEC §1).
double S4_uuvv(const LogDerivs& D, const Eigen::VectorXd& u, const Eigen::VectorXd& v);
double S4_uuuu(const LogDerivs& D, const Eigen::VectorXd& u);
double S4_uuuv(const LogDerivs& D, const Eigen::VectorXd& u, const Eigen::VectorXd& v);

// Contractions of dense tensors, used by the formulas above when G3/G4 are present.
double contract3(const Tensor& T, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                 const Eigen::VectorXd& c);
double contract4(const Tensor& T, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                 const Eigen::VectorXd& c, const Eigen::VectorXd& e);

}  // namespace scorefarm
