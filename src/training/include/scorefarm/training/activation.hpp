#pragma once
// Activations σ of the teacher and student networks (paper eq. 16, 18), applied elementwise.
#include <Eigen/Dense>

#include "scorefarm/training/training_spec.hpp"

namespace scorefarm::training {

double activate(Activation a, double z);
double activate_derivative(Activation a, double z);  // ReLU: 0 at z = 0

// S = σ(P) and, when dS is non-null, dS = σ'(P), elementwise. dS may be null.
void activate(Activation a, const Eigen::MatrixXd& P, Eigen::MatrixXd& S, Eigen::MatrixXd* dS);

// κ(σ, s) = E[σ(s z) He4(z)], z ~ N(0, 1), He4(z) = z⁴ − 6z² + 3. By Stein's identity this equals
// s⁴ E[σ⁗(s z)], the fourth Hermite coefficient that decides the sign of the landscape of eq. 19
// (paper eq. 21: κ*_i = w*_i E[σ⁗(⟨a*_i, x⟩)] must be positive). Computed by composite Simpson on
// [−14, 14] with 0 as a node (so ReLU's kink costs no accuracy): relu gives −s/√(2π) to ~1e-12;
// tanh and sigmoid give 0 (σ − σ(0) is odd).
double hermite4_coefficient(Activation a, double s = 1.0);

// The data-part sign of `automatic`: sign(κ(σ, 1)). Throws std::invalid_argument when |κ| < 1e-9
// (tanh, sigmoid), where no sign makes eq. 19 informative for inputs symmetric about 0.
int automatic_sign(Activation a);

}  // namespace scorefarm::training
