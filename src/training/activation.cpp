#include "scorefarm/training/activation.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace scorefarm::training {

namespace {

inline double sigmoid(double z) {
  // Stable on both sides: exp of a non-positive argument only.
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

inline double softplus(double z) {
  // log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}): no overflow for large |z|.
  return (z > 0 ? z : 0.0) + std::log1p(std::exp(-std::abs(z)));
}

}  // namespace

double activate(Activation a, double z) {
  switch (a) {
    case Activation::relu: return z > 0 ? z : 0.0;
    case Activation::tanh: return std::tanh(z);
    case Activation::softplus: return softplus(z);
    case Activation::sigmoid: return sigmoid(z);
  }
  return 0.0;
}

double activate_derivative(Activation a, double z) {
  switch (a) {
    case Activation::relu: return z > 0 ? 1.0 : 0.0;
    case Activation::tanh: {
      const double t = std::tanh(z);
      return 1.0 - t * t;
    }
    case Activation::softplus: return sigmoid(z);
    case Activation::sigmoid: {
      const double s = sigmoid(z);
      return s * (1.0 - s);
    }
  }
  return 0.0;
}

void activate(Activation a, const Eigen::MatrixXd& P, Eigen::MatrixXd& S, Eigen::MatrixXd* dS) {
  S.resize(P.rows(), P.cols());
  if (dS) dS->resize(P.rows(), P.cols());
  const Eigen::Index size = P.size();
  const double* p = P.data();
  double* s = S.data();
  double* ds = dS ? dS->data() : nullptr;
  if (a == Activation::relu) {
    for (Eigen::Index i = 0; i < size; ++i) s[i] = p[i] > 0 ? p[i] : 0.0;
    if (ds)
      for (Eigen::Index i = 0; i < size; ++i) ds[i] = p[i] > 0 ? 1.0 : 0.0;
    return;
  }
  for (Eigen::Index i = 0; i < size; ++i) s[i] = activate(a, p[i]);
  if (ds)
    for (Eigen::Index i = 0; i < size; ++i) ds[i] = activate_derivative(a, p[i]);
}

double hermite4_coefficient(Activation a, double s) {
  // Composite Simpson on [−L, L] with an even number of intervals on each side of 0, so that 0 is a
  // node: the integrand is smooth on each half even for ReLU. Tails beyond 14 are < 1e-40.
  const double L = 14.0;
  const int half = 14000;  // intervals per side
  const double h = L / half;
  const double inv_sqrt_2pi = 0.3989422804014327;
  auto f = [&](double z) {
    const double z2 = z * z;
    return activate(a, s * z) * (z2 * z2 - 6.0 * z2 + 3.0) * inv_sqrt_2pi * std::exp(-0.5 * z2);
  };
  double total = 0.0;
  for (int side = -1; side <= 1; side += 2) {
    double acc = f(0.0) + f(side * L);
    for (int i = 1; i < half; ++i) acc += (i % 2 ? 4.0 : 2.0) * f(side * i * h);
    total += acc * h / 3.0;
  }
  return total;
}

int automatic_sign(Activation a) {
  const double kappa = hermite4_coefficient(a, 1.0);
  if (std::abs(kappa) < 1e-9)
    throw std::invalid_argument("sign: auto is undefined for activation " + to_string(a) +
                                ": its fourth Hermite coefficient E[σ(z)He4(z)] is 0, so eq. 19 "
                                "carries no signal for symmetric inputs; set sign to +1 or -1");
  return kappa > 0 ? 1 : -1;
}

}  // namespace scorefarm::training
