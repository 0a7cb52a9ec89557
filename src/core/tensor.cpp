#include "scorefarm/core/tensor.hpp"

#include <stdexcept>

namespace scorefarm {

Tensor::Tensor(int dim, int ord) : d(dim), order(ord) {
  if (dim < 0 || ord < 0) throw std::invalid_argument("Tensor: negative dimension or order");
  std::size_t size = 1;
  for (int i = 0; i < ord; ++i) size *= static_cast<std::size_t>(dim);
  data.assign(size, 0.0);
}

}  // namespace scorefarm
