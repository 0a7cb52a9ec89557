#include "scorefarm/core/trial.hpp"

namespace scorefarm {

std::size_t TrialRunner::record_width() const {
  std::size_t width = 0;
  for (const auto& f : fields()) width += f.length;
  return width;
}

}  // namespace scorefarm
