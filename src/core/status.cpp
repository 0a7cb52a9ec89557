#include "scorefarm/core/status.hpp"

namespace scorefarm {

std::string describe_status(std::uint32_t bits) {
  if (bits == status::ok) return "ok";
  static const struct {
    std::uint32_t bit;
    const char* name;
  } names[] = {{status::failed, "failed"},         {status::low_ess, "low_ess"},
               {status::sigma_tiny, "sigma_tiny"}, {status::spectral_approx, "spectral_approx"},
               {status::nonfinite, "nonfinite"},   {status::not_converged, "not_converged"},
               {status::diverged, "diverged"},     {status::few_points, "few_points"}};
  std::string out;
  std::uint32_t known = 0;
  for (const auto& n : names) {
    known |= n.bit;
    if (bits & n.bit) {
      if (!out.empty()) out += '|';
      out += n.name;
    }
  }
  if (bits & ~known) {
    if (!out.empty()) out += '|';
    out += "bits_0x";
    static const char hex[] = "0123456789abcdef";
    std::uint32_t rest = bits & ~known;
    std::string h;
    do {
      h.insert(h.begin(), hex[rest & 15u]);
      rest >>= 4;
    } while (rest);
    out += h;
  }
  return out;
}

}  // namespace scorefarm
