// Error norms (SPEC §4).
#include "scorefarm/core/norms.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "scorefarm/core/rng.hpp"

namespace scorefarm {

double spectral_norm_sym(const Eigen::MatrixXd& E) {
  if (E.rows() != E.cols()) throw std::invalid_argument("spectral_norm_sym: matrix is not square");
  if (E.size() == 0) return 0.0;
  if (!E.allFinite()) return std::numeric_limits<double>::quiet_NaN();
  if (E.rows() == 1) return std::abs(E(0, 0));
  if (E.rows() == 2) {
    const double mid = 0.5 * (E(0, 0) + E(1, 1));
    const double rad = std::hypot(0.5 * (E(0, 0) - E(1, 1)), 0.5 * (E(0, 1) + E(1, 0)));
    return std::abs(mid) + rad;  // max(|mid + rad|, |mid − rad|)
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (E + E.transpose()), Eigen::EigenvaluesOnly);
  return es.eigenvalues().cwiseAbs().maxCoeff();
}

double frobenius_norm(const Tensor& T) {
  double s = 0.0;
  for (double v : T.data) s += v * v;
  return std::sqrt(s);
}

namespace {

// p(θ) = T(u,u,u,u) with u = (cos θ, sin θ) = Σ_k a_k cos^(4−k) θ sin^k θ, where a_k sums the
// entries with k indices equal to 1 (valid for any T, symmetric or not).
struct AnglePoly {
  double a[5] = {0, 0, 0, 0, 0};
  explicit AnglePoly(const Tensor& T) {
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        for (int k = 0; k < 2; ++k)
          for (int l = 0; l < 2; ++l) a[i + j + k + l] += T(i, j, k, l);
  }
  double operator()(double t) const {
    const double c = std::cos(t), s = std::sin(t);
    return (((a[0] * c + a[1] * s) * c + a[2] * s * s) * c + a[3] * s * s * s) * c + a[4] * s * s * s * s;
  }
};

double refine_abs_max(const AnglePoly& p, double lo, double hi) {
  // Golden-section search for the maximum of |p| on a bracket containing one local maximum; the
  // value's error is quadratic in the angle's, so a 1e-10 bracket is exact to rounding.
  const double r = 0.6180339887498949;
  double x1 = hi - r * (hi - lo), x2 = lo + r * (hi - lo);
  double f1 = std::abs(p(x1)), f2 = std::abs(p(x2));
  for (int it = 0; it < 200 && hi - lo > 1e-10; ++it) {
    if (f1 < f2) {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + r * (hi - lo);
      f2 = std::abs(p(x2));
    } else {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - r * (hi - lo);
      f1 = std::abs(p(x1));
    }
  }
  return std::max({f1, f2, std::abs(p(0.5 * (lo + hi)))});
}

double spectral_d2(const Tensor& T) {
  const AnglePoly p(T);
  // p has period π and at most 4 extrema per period (degree-4 trigonometric polynomial), so a
  // 512-point grid brackets every local maximum of |p| that can matter.
  constexpr int N = 512;
  const double step = M_PI / N;
  std::vector<double> v(N);
  for (int k = 0; k < N; ++k) v[k] = std::abs(p(k * step));
  double best = *std::max_element(v.begin(), v.end());
  for (int k = 0; k < N; ++k) {
    const double prev = v[(k + N - 1) % N], next = v[(k + 1) % N];
    if (v[k] >= prev && v[k] >= next)
      best = std::max(best, refine_abs_max(p, (k - 1) * step, (k + 1) * step));
  }
  return best;
}

// y_i = T(·, x, x, x)
void contract_xxx(const Tensor& T, const Eigen::VectorXd& x, Eigen::VectorXd& y) {
  const int d = T.d;
  y.setZero(d);
  for (int i = 0; i < d; ++i) {
    double si = 0.0;
    for (int j = 0; j < d; ++j) {
      double sj = 0.0;
      for (int k = 0; k < d; ++k) {
        const double* row = &T.data[((static_cast<std::size_t>(i) * d + j) * d + k) * d];
        double sk = 0.0;
        for (int l = 0; l < d; ++l) sk += row[l] * x(l);
        sj += sk * x(k);
      }
      si += sj * x(j);
    }
    y(i) = si;
  }
}

// Shifted symmetric higher-order power method (Kolda & Mayo 2011) for max of σ·T(x,x,x,x) on the
// unit sphere, σ = ±1. With shift α ≥ 3‖T‖_F the iteration is monotone; it converges to a local
// maximiser, so the result is a lower bound of the spectral norm.
double sshopm(const Tensor& T, double sigma, Eigen::VectorXd x, double alpha) {
  Eigen::VectorXd y;
  double lambda = -std::numeric_limits<double>::infinity();
  for (int it = 0; it < 500; ++it) {
    contract_xxx(T, x, y);
    const double now = sigma * x.dot(y);
    Eigen::VectorXd z = sigma * y + alpha * x;
    const double nz = z.norm();
    if (!(nz > 0.0)) break;
    x = z / nz;
    if (std::abs(now - lambda) <= 1e-14 * (std::abs(now) + alpha)) {
      lambda = now;
      break;
    }
    lambda = now;
  }
  contract_xxx(T, x, y);
  return std::abs(x.dot(y));
}

}  // namespace

SpectralResult spectral_norm_sym4(const Tensor& T) {
  if (T.order != 4) throw std::invalid_argument("spectral_norm_sym4: tensor is not of order 4");
  SpectralResult R;
  const int d = T.d;
  for (double v : T.data)
    if (!std::isfinite(v)) {
      R.value = std::numeric_limits<double>::quiet_NaN();
      R.exact = d <= 2;
      return R;
    }
  if (d == 0) {
    R.exact = true;
    return R;
  }
  if (d == 1) {
    R.value = std::abs(T.data[0]);
    R.exact = true;
    return R;
  }
  if (d == 2) {
    R.value = spectral_d2(T);
    R.exact = true;
    return R;
  }
  // d > 2: multi-start SS-HOPM, a lower bound flagged as such.
  const double alpha = 3.0 * frobenius_norm(T);
  if (alpha == 0.0) {
    R.exact = false;
    return R;
  }
  std::vector<Eigen::VectorXd> starts;
  for (int i = 0; i < d; ++i) starts.push_back(Eigen::VectorXd::Unit(d, i));
  if (d <= 8)
    for (int i = 0; i < d; ++i)
      for (int j = i + 1; j < d; ++j) {
        starts.push_back((Eigen::VectorXd::Unit(d, i) + Eigen::VectorXd::Unit(d, j)) / std::sqrt(2.0));
        starts.push_back((Eigen::VectorXd::Unit(d, i) - Eigen::VectorXd::Unit(d, j)) / std::sqrt(2.0));
      }
  // Deterministic "random" starts (a fixed Philox stream), so the bound is reproducible.
  Stream rng(0x5ca1ab1eULL, 0, 0, 0);
  for (int s = 0; s < 8; ++s) {
    Eigen::VectorXd v(d);
    rng.fill_normal(v.data(), d);
    starts.push_back(v / v.norm());
  }
  double best = 0.0;
  for (const auto& x0 : starts) {
    best = std::max(best, sshopm(T, +1.0, x0, alpha));
    best = std::max(best, sshopm(T, -1.0, x0, alpha));
  }
  R.value = best;
  R.exact = false;
  return R;
}

}  // namespace scorefarm
