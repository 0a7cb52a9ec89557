#include "scorefarm/core/quadrature.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace scorefarm {

namespace {
constexpr double pi = 3.14159265358979323846;
}

GaussLegendre gauss_legendre(int m, double a, double b) {
  if (m < 1) throw std::invalid_argument("gauss_legendre: order must be ≥ 1, got " + std::to_string(m));
  if (!(b > a)) throw std::invalid_argument("gauss_legendre: need a < b");
  GaussLegendre rule;
  rule.nodes.resize(m);
  rule.weights.resize(m);
  const double mid = 0.5 * (a + b);
  const double half = 0.5 * (b - a);
  // Newton on the Legendre polynomial P_m from Tricomi's initial guess; the roots are symmetric, so
  // compute the upper half and mirror it (keeps the rule exactly symmetric).
  for (int i = 0; i < (m + 1) / 2; ++i) {
    double z = std::cos(pi * (i + 0.75) / (m + 0.5));
    double dp = 0.0;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1.0, p1 = 0.0;
      for (int k = 1; k <= m; ++k) {  // three-term recurrence: k P_k = (2k−1) z P_{k−1} − (k−1) P_{k−2}
        const double p2 = p1;
        p1 = p0;
        p0 = ((2.0 * k - 1.0) * z * p1 - (k - 1.0) * p2) / k;
      }
      dp = m * (z * p0 - p1) / (z * z - 1.0);  // P_m'(z)
      const double dz = p0 / dp;
      z -= dz;
      if (std::abs(dz) < 1e-16) {
        // one more evaluation of the derivative at the converged root
        p0 = 1.0;
        p1 = 0.0;
        for (int k = 1; k <= m; ++k) {
          const double p2 = p1;
          p1 = p0;
          p0 = ((2.0 * k - 1.0) * z * p1 - (k - 1.0) * p2) / k;
        }
        dp = m * (z * p0 - p1) / (z * z - 1.0);
        break;
      }
    }
    const double w = 2.0 / ((1.0 - z * z) * dp * dp);
    rule.nodes[i] = mid + half * z;  // z > 0: nodes come out in decreasing order, fixed below
    rule.weights[i] = half * w;
    rule.nodes[m - 1 - i] = mid - half * z;
    rule.weights[m - 1 - i] = half * w;
  }
  if (m % 2 == 1) rule.nodes[m / 2] = mid;  // the middle root is exactly 0
  // ascending order
  for (int i = 0; i < m / 2; ++i) {
    std::swap(rule.nodes[i], rule.nodes[m - 1 - i]);
    std::swap(rule.weights[i], rule.weights[m - 1 - i]);
  }
  return rule;
}

BallQuadrature ball_quadrature(int dim, int order, double radius) {
  if (dim < 1 || dim > 3)
    throw std::invalid_argument("ball_quadrature: dimension must be 1, 2 or 3, got " +
                                std::to_string(dim));
  if (order < 1)
    throw std::invalid_argument("ball_quadrature: order must be ≥ 1, got " + std::to_string(order));
  if (!(radius > 0.0) || !std::isfinite(radius))
    throw std::invalid_argument("ball_quadrature: radius must be positive and finite");
  const GaussLegendre rad = gauss_legendre(order, 0.0, radius);
  BallQuadrature q;
  q.dim = dim;
  q.order = order;
  q.radius = radius;
  const int m = order;
  if (dim == 1) {
    q.points.resize(1, 2 * m);
    q.weights.resize(2 * m);
    int k = 0;
    for (int s = -1; s <= 1; s += 2)
      for (int i = 0; i < m; ++i, ++k) {
        q.points(0, k) = s * rad.nodes[i];
        q.weights[k] = rad.weights[i];
      }
  } else {
    const int n_az = 2 * m;
    const double w_az = 2.0 * pi / n_az;
    GaussLegendre polar;
    int n_polar = 1;
    if (dim == 3) {
      polar = gauss_legendre(m, -1.0, 1.0);
      n_polar = m;
    }
    const int total = m * n_polar * n_az;
    q.points.resize(dim, total);
    q.weights.resize(total);
    int k = 0;
    for (int i = 0; i < m; ++i) {
      const double r = rad.nodes[i];
      const double wr = rad.weights[i] * (dim == 2 ? r : r * r);
      for (int j = 0; j < n_polar; ++j) {
        const double z = dim == 3 ? polar.nodes[j] : 0.0;
        const double s = dim == 3 ? std::sqrt(std::max(0.0, 1.0 - z * z)) : 1.0;
        const double wz = dim == 3 ? polar.weights[j] : 1.0;
        for (int a = 0; a < n_az; ++a, ++k) {
          // offset by half a step so that no node sits on an axis (symmetric, and avoids
          // accidental alignment with the kernel's or the data's coordinate structure)
          const double th = w_az * (a + 0.5);
          q.points(0, k) = r * s * std::cos(th);
          q.points(1, k) = r * s * std::sin(th);
          if (dim == 3) q.points(2, k) = r * z;
          q.weights[k] = wr * wz * w_az;
        }
      }
    }
  }
  q.radii = q.points.colwise().norm().transpose();
  return q;
}

double sphere_monomial_integral(const std::vector<int>& alpha) {
  if (alpha.empty()) throw std::invalid_argument("sphere_monomial_integral: empty exponent");
  double log_num = 0.0;
  double total = 0.0;
  for (int a : alpha) {
    if (a < 0) throw std::invalid_argument("sphere_monomial_integral: negative exponent");
    if (a % 2 != 0) return 0.0;
    const double b = 0.5 * (a + 1);
    log_num += std::lgamma(b);
    total += b;
  }
  return 2.0 * std::exp(log_num - std::lgamma(total));
}

}  // namespace scorefarm
