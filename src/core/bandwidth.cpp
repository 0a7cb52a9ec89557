// Bandwidth rules (SPEC §3).
#include "scorefarm/core/bandwidth.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace scorefarm {

double BandwidthRule::bandwidth(const Eigen::MatrixXd& X) const {
  const double d = static_cast<double>(X.rows());
  const double n = static_cast<double>(X.cols());
  switch (kind) {
    case Kind::constant:
      return value;
    case Kind::theory:  // paper Remark 1: h = c·n^(−1/(2p+2+d))
      return value * std::pow(n, -1.0 / (2.0 * degree + 2.0 + d));
    case Kind::silverman: {
      // h = c·σ̄·(4/((d+2)n))^(1/(d+4)), σ̄ the mean of the marginal sample standard deviations.
      if (X.cols() < 2) return 0.0;
      double sigma = 0.0;
      for (Eigen::Index j = 0; j < X.rows(); ++j) {
        const double mean = X.row(j).mean();
        sigma += std::sqrt((X.row(j).array() - mean).square().sum() / (n - 1.0));
      }
      sigma /= d;
      return value * sigma * std::pow(4.0 / ((d + 2.0) * n), 1.0 / (d + 4.0));
    }
  }
  return value;
}

std::string BandwidthRule::describe() const {
  std::ostringstream os;
  os.precision(6);
  switch (kind) {
    case Kind::constant: os << "constant(h=" << value << ")"; break;
    case Kind::theory: os << "theory(c=" << value << ",p=" << degree << ")"; break;
    case Kind::silverman: os << "silverman(c=" << value << ")"; break;
  }
  return os.str();
}

BandwidthRule::Kind parse_bandwidth_kind(const std::string& name) {
  if (name == "constant") return BandwidthRule::Kind::constant;
  if (name == "theory") return BandwidthRule::Kind::theory;
  if (name == "silverman") return BandwidthRule::Kind::silverman;
  throw std::invalid_argument("bandwidth rule: unknown '" + name +
                              "' (known: constant, theory, silverman)");
}

std::string bandwidth_kind_name(BandwidthRule::Kind kind) {
  switch (kind) {
    case BandwidthRule::Kind::constant: return "constant";
    case BandwidthRule::Kind::theory: return "theory";
    case BandwidthRule::Kind::silverman: return "silverman";
  }
  return "unknown";
}

}  // namespace scorefarm
