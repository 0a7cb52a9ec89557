#pragma once
// Status bits carried by every record. 0 means a clean trial. FAILED trials keep their record, with
// +inf errors, so that they count against a curve in the percentiles instead of vanishing.
#include <cstdint>
#include <string>

namespace scorefarm {

namespace status {
inline constexpr std::uint32_t ok = 0;
inline constexpr std::uint32_t failed = 1u << 0;           // hard failure: no usable estimate
inline constexpr std::uint32_t low_ess = 1u << 1;          // (Σw)²/Σw² < d + 1
inline constexpr std::uint32_t sigma_tiny = 1u << 2;       // λ_min(Σ) < 1e-6 h²
inline constexpr std::uint32_t spectral_approx = 1u << 3;  // S4 spectral norm is a lower bound (d > 2)
inline constexpr std::uint32_t nonfinite = 1u << 4;        // a non-finite value appeared
inline constexpr std::uint32_t not_converged = 1u << 5;    // iterative solver did not converge
inline constexpr std::uint32_t diverged = 1u << 6;         // training diverged
inline constexpr std::uint32_t few_points = 1u << 7;       // too few samples in kernel support
// Bits that make a trial count as failed (+inf) in percentiles.
inline constexpr std::uint32_t failure_mask = failed | nonfinite | diverged;
}  // namespace status

// "failed|low_ess" style text for logs and JSON.
std::string describe_status(std::uint32_t bits);

}  // namespace scorefarm
