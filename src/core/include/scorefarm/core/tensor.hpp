#pragma once
// Dense symmetric tensors of order 3 and 4, stored flat and row-major: T(i,j,k,l) is
// data[((i*d + j)*d + k)*d + l]. Only used where the full tensor is wanted (estimate output,
// error norms, tests); training uses the contractions in score_tensors.hpp instead.
#include <cstddef>
#include <vector>

namespace scorefarm {

struct Tensor {
  int d = 0;
  int order = 0;
  std::vector<double> data;  // d^order values, row-major

  Tensor() = default;
  Tensor(int dim, int ord);  // zero-filled
  std::size_t size() const { return data.size(); }
  double& operator()(int i, int j, int k) { return data[(std::size_t(i) * d + j) * d + k]; }
  double operator()(int i, int j, int k) const { return data[(std::size_t(i) * d + j) * d + k]; }
  double& operator()(int i, int j, int k, int l) {
    return data[((std::size_t(i) * d + j) * d + k) * d + l];
  }
  double operator()(int i, int j, int k, int l) const {
    return data[((std::size_t(i) * d + j) * d + k) * d + l];
  }
  bool empty() const { return data.empty(); }
};

}  // namespace scorefarm
