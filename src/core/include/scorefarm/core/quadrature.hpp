#pragma once
// Quadrature for the model side of the local likelihood (paper eq. 3 and 5): integrals of a radial
// kernel times a smooth function over the ball of radius R in R^d, d = 1, 2, 3.
//
// The rule is a product rule in polar / spherical coordinates, order m:
//   radius     r ∈ [0, R]      m Gauss–Legendre nodes, Jacobian r^(d−1) folded into the weights
//   d = 1      directions ±1   (so [−R, 0] and [0, R] each get m Gauss–Legendre nodes)
//   d = 2      azimuth θ       2m equally spaced nodes (the trapezoid rule, which is the Gauss rule
//                              for periodic functions: exact for trigonometric polynomials of
//                              degree ≤ 2m − 1, where a Gauss–Legendre rule in θ would be exact
//                              only to degree ~m)
//   d = 3      z = cos φ       m Gauss–Legendre nodes on [−1, 1]; azimuth as for d = 2.
// Accuracy statement (checked in tests/core/test_quadrature.cpp): for a monomial t^α and a radial
// profile κ(r) the rule integrates ∫_{|t|≤R} κ(|t|) t^α dt exactly (to rounding) whenever
// |α| ≤ 2m − 1 and κ(r)·r^(|α|+d−1) is a polynomial in r of degree ≤ 2m − 1. The Epanechnikov
// profile 1 − r² and the tricube profile (1 − r³)³ are polynomials in r, so their monomial moments
// are exact for |α| ≤ 2m − d − 2 and |α| ≤ 2m − d − 9 respectively. Smooth non-polynomial
// integrands (exp of a polynomial) converge geometrically in m.
#include <vector>

#include <Eigen/Dense>

namespace scorefarm {

// Gauss–Legendre rule with m ≥ 1 nodes on [a, b]: exact for polynomials of degree ≤ 2m − 1.
struct GaussLegendre {
  std::vector<double> nodes;
  std::vector<double> weights;
};
GaussLegendre gauss_legendre(int m, double a = -1.0, double b = 1.0);

// A quadrature rule for Lebesgue measure on the ball {|t| ≤ radius} in R^dim.
struct BallQuadrature {
  int dim = 0;
  int order = 0;
  double radius = 1.0;
  Eigen::MatrixXd points;   // dim x N, one node per column
  Eigen::VectorXd radii;    // |point|, for radial kernels
  Eigen::VectorXd weights;  // N weights; Σ weights = volume of the ball
  int size() const { return static_cast<int>(weights.size()); }
};

// dim ∈ {1, 2, 3}, order m ≥ 1, radius > 0; throws std::invalid_argument otherwise.
// Number of nodes: 2m (d = 1), 2m² (d = 2), 2m³ (d = 3).
BallQuadrature ball_quadrature(int dim, int order, double radius = 1.0);

// Exact ∫_{|t|=1} t^α dσ(t) over the unit sphere in R^d (α.size() = d): 0 unless every α_i is even,
// otherwise 2 Π Γ((α_i+1)/2) / Γ((|α|+d)/2). An independent reference for the tests.
double sphere_monomial_integral(const std::vector<int>& alpha);

}  // namespace scorefarm
