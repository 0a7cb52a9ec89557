#include "scorefarm/training/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "scorefarm/training/activation.hpp"

namespace scorefarm::training {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
// Rows scaled to unit length; zero rows stay zero.
MatrixXd normalised_rows(const MatrixXd& M) {
  MatrixXd N = M;
  for (Index i = 0; i < M.rows(); ++i) {
    const double r = M.row(i).norm();
    if (r > 0) N.row(i) /= r;
  }
  return N;
}
}  // namespace

MatrixXd teacher_pseudo_inverse(const MatrixXd& Astar) {
  // Â*ᵀ (Â* Â*ᵀ)⁻¹ of the row-normalised teacher, through a solve; A* has full row rank by
  // construction (k ≤ d).
  const MatrixXd N = normalised_rows(Astar);
  const MatrixXd gram = N * N.transpose();
  return N.transpose() * gram.ldlt().solve(MatrixXd::Identity(gram.rows(), gram.cols()));
}

ParameterError parameter_error(const MatrixXd& A, const MatrixXd& teacher_pinv) {
  ParameterError e;
  if (!A.allFinite()) {
    e.row = e.column = std::numeric_limits<double>::infinity();
    return e;
  }
  const MatrixXd M = (normalised_rows(A) * teacher_pinv).cwiseAbs();
  e.row = 1.0 - M.rowwise().maxCoeff().minCoeff();
  e.column = 1.0 - M.colwise().maxCoeff().minCoeff();
  return e;
}

std::vector<int> hungarian(const MatrixXd& cost) {
  // Kuhn–Munkres with potentials (shortest augmenting paths), 1-based internally.
  const int n = int(cost.rows());
  if (cost.cols() != n) throw std::invalid_argument("hungarian: cost matrix must be square");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0), minv(n + 1);
  std::vector<int> p(n + 1, 0), way(n + 1, 0);
  std::vector<char> used(n + 1);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const int i0 = p[j0];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= n; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const int j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  std::vector<int> assignment(n, -1);
  for (int j = 1; j <= n; ++j)
    if (p[j] > 0) assignment[p[j] - 1] = j - 1;
  return assignment;
}

std::vector<int> exhaustive_assignment(const MatrixXd& cost) {
  const int n = int(cost.rows());
  if (cost.cols() != n || n > 10)
    throw std::invalid_argument("exhaustive_assignment: square cost matrix with k <= 10 required");
  std::vector<int> perm(n), best;
  std::iota(perm.begin(), perm.end(), 0);
  double best_cost = std::numeric_limits<double>::infinity();
  do {
    double s = 0;
    for (int i = 0; i < n; ++i) s += cost(i, perm[i]);
    if (s < best_cost) {
      best_cost = s;
      best = perm;
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

MatchingError matching_error(const MatrixXd& A, const MatrixXd& Astar) {
  const Index k = A.rows();
  MatchingError out;
  if (!A.allFinite()) {
    out.max = out.mean = std::numeric_limits<double>::infinity();
    return out;
  }
  const MatrixXd cost =
      (1.0 - (normalised_rows(A) * normalised_rows(Astar).transpose()).cwiseAbs().array()).matrix();
  out.assignment = k <= 8 ? exhaustive_assignment(cost) : hungarian(cost);
  double sum = 0.0, mx = 0.0;
  for (Index i = 0; i < k; ++i) {
    const double c = std::max(0.0, cost(i, out.assignment[std::size_t(i)]));
    sum += c;
    mx = std::max(mx, c);
  }
  out.max = mx;
  out.mean = sum / double(k);
  return out;
}

VectorXd refit_second_layer(const MatrixXd& A, Activation act, const MatrixXd& X,
                            const VectorXd& y) {
  MatrixXd S;
  activate(act, A * X, S, nullptr);
  const MatrixXd F = S.transpose();  // n x k
  return F.colPivHouseholderQr().solve(y);
}

double network_mse(const MatrixXd& A, const VectorXd& w, Activation act, const MatrixXd& X,
                   const VectorXd& y) {
  MatrixXd S;
  activate(act, A * X, S, nullptr);
  return (S.transpose() * w - y).squaredNorm() / double(y.size());
}

}  // namespace scorefarm::training
