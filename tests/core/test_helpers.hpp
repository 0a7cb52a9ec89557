#pragma once
// Independent reference computations for the core tests: generic dense tensors of any order,
// outer products and the permutation-average sym written from its definition.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <Eigen/Dense>

#include "scorefarm/core/rng.hpp"
#include "scorefarm/core/tensor.hpp"

namespace testing_ref {

// A dense tensor of any order, row-major like scorefarm::Tensor.
struct Dense {
  int d = 0, m = 0;
  std::vector<double> a;
  Dense(int d_, int m_) : d(d_), m(m_), a(static_cast<std::size_t>(std::pow(d_, m_) + 0.5), 0.0) {}
  std::size_t index(const std::vector<int>& idx) const {
    std::size_t k = 0;
    for (int i : idx) k = k * d + i;
    return k;
  }
  std::vector<int> multi(std::size_t k) const {
    std::vector<int> idx(m);
    for (int p = m - 1; p >= 0; --p) {
      idx[p] = static_cast<int>(k % d);
      k /= d;
    }
    return idx;
  }
  Dense operator+(const Dense& o) const {
    Dense r = *this;
    for (std::size_t i = 0; i < a.size(); ++i) r.a[i] += o.a[i];
    return r;
  }
  Dense operator*(double s) const {
    Dense r = *this;
    for (double& v : r.a) v *= s;
    return r;
  }
};

inline Dense from_vector(const Eigen::VectorXd& v) {
  Dense t(static_cast<int>(v.size()), 1);
  for (int i = 0; i < v.size(); ++i) t.a[i] = v(i);
  return t;
}
inline Dense from_matrix(const Eigen::MatrixXd& M) {
  Dense t(static_cast<int>(M.rows()), 2);
  for (int i = 0; i < M.rows(); ++i)
    for (int j = 0; j < M.cols(); ++j) t.a[t.index({i, j})] = M(i, j);
  return t;
}
inline Dense from_tensor(const scorefarm::Tensor& T) {
  Dense t(T.d, T.order);
  t.a = T.data;
  return t;
}

inline Dense outer(const Dense& A, const Dense& B) {
  Dense r(A.d, A.m + B.m);
  for (std::size_t i = 0; i < A.a.size(); ++i)
    for (std::size_t j = 0; j < B.a.size(); ++j) r.a[i * B.a.size() + j] = A.a[i] * B.a[j];
  return r;
}

// sym(T): the average of T over all m! permutations of its indices (the definition, SPEC §1).
inline Dense sym(const Dense& T) {
  Dense r(T.d, T.m);
  std::vector<int> perm(T.m);
  for (std::size_t k = 0; k < T.a.size(); ++k) {
    const std::vector<int> idx = T.multi(k);
    std::iota(perm.begin(), perm.end(), 0);
    double s = 0.0;
    int count = 0;
    do {
      std::vector<int> p(T.m);
      for (int q = 0; q < T.m; ++q) p[q] = idx[perm[q]];
      s += T.a[T.index(p)];
      ++count;
    } while (std::next_permutation(perm.begin(), perm.end()));
    r.a[k] = s / count;
  }
  return r;
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

inline Eigen::MatrixXd random_matrix(scorefarm::Stream& s, int r, int c) {
  Eigen::MatrixXd M(r, c);
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < c; ++j) M(i, j) = s.normal();
  return M;
}
inline Eigen::MatrixXd random_sym(scorefarm::Stream& s, int d) {
  Eigen::MatrixXd M = random_matrix(s, d, d);
  return 0.5 * (M + M.transpose());
}
inline Eigen::MatrixXd random_spd(scorefarm::Stream& s, int d) {
  Eigen::MatrixXd M = random_matrix(s, d, d);
  return M * M.transpose() + 0.5 * Eigen::MatrixXd::Identity(d, d);
}
inline scorefarm::Tensor random_sym_tensor(scorefarm::Stream& s, int d, int order) {
  Dense t(d, order);
  for (double& v : t.a) v = s.normal();
  t = sym(t);
  scorefarm::Tensor T(d, order);
  T.data = t.a;
  return T;
}

}  // namespace testing_ref
