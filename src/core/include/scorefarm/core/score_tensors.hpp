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

// The inverse map: g, G2, G3, G4 from S1..S4 (G2 = S2 − gg, G3 = S3 − g⊗3 − 3 sym(G2⊗g),
// G4 = S4 − g⊗4 − 6 sym(G2⊗g⊗g) − 3 sym(G2⊗G2) − 4 sym(G3⊗g)). Used by mixtures, whose scores
// are posterior averages of Gaussian scores.
LogDerivs log_derivs_from_scores(const Scores& S);

// Contractions of S4 that never form a d^4 tensor (SPEC §1).
double S4_uuvv(const LogDerivs& D, const Eigen::VectorXd& u, const Eigen::VectorXd& v);
double S4_uuuu(const LogDerivs& D, const Eigen::VectorXd& u);
// S4(u,u,u,v) = α³β + 3 Guu αβ + 3 Guv α² + 3 Guu Guv + β G3(u,u,u) + 3α G3(u,u,v) + G4(u,u,u,v).
double S4_uuuv(const LogDerivs& D, const Eigen::VectorXd& u, const Eigen::VectorXd& v);

// Contractions of dense tensors, used by the formulas above when G3/G4 are present.
double contract3(const Tensor& T, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                 const Eigen::VectorXd& c);
double contract4(const Tensor& T, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                 const Eigen::VectorXd& c, const Eigen::VectorXd& e);

}  // namespace scorefarm
