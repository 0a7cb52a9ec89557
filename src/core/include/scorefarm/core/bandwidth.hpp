#pragma once
// Bandwidth rules (SPEC §3).
#include <string>

#include <Eigen/Dense>

namespace scorefarm {

struct BandwidthRule {
  enum class Kind { constant, theory, silverman };
  Kind kind = Kind::constant;
  double value = 1.0;  // constant: h itself; theory and silverman: the multiplier c
  int degree = 2;      // polynomial degree p in the theory rule

  // constant: h = value. theory: h = value · n^(−1/(2p+2+d)) (paper Remark 1).
  // silverman: h = value · σ̄ · (4/((d+2) n))^(1/(d+4)), σ̄ the mean marginal standard deviation
  // of the sample.
  double bandwidth(const Eigen::MatrixXd& X) const;
  std::string describe() const;
};

BandwidthRule::Kind parse_bandwidth_kind(const std::string& name);  // throws on unknown names
std::string bandwidth_kind_name(BandwidthRule::Kind kind);          // "constant", "theory", "silverman"

}  // namespace scorefarm
