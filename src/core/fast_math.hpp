#pragma once
// Private to scorefarm_core. Branch-free exp, log and sincos(2πu) built from IEEE +, −, ×, ÷ and
// integer bit operations only, so that
//  * loops over arrays vectorise (SSE2 on the portable x86-64 baseline) without -ffast-math, and
//  * the scalar and the vectorised code give the same bits (no libm version or vector-libm variant
//    can change a trial's numbers: records stay bitwise reproducible across machines).
// Accuracy is about 1 ulp on the ranges used (checked against libm in tests/core/test_rng.cpp).
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace scorefarm::fast {

inline std::uint64_t as_bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
inline double from_bits(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

constexpr double ln2_hi = 6.93147180369123816490e-01;  // 0x3fe62e42fee00000: e·ln2_hi is exact
constexpr double ln2_lo = 1.90821492927058770002e-10;
constexpr double log2e = 1.44269504088896338700e+00;
constexpr double round_magic = 6755399441055744.0;  // 1.5·2^52: (x + magic) − magic rounds x
constexpr std::uint64_t two52_bits = 0x4330000000000000ull;  // the bits of 2^52

// Exact conversion of an integer k < 2^52 to double with integer ops only (SSE2 has no
// int64 → double vector conversion): the double with bits (2^52 | k) is 2^52 + k.
inline double small_u64_to_double(std::uint64_t k) {
  return from_bits(two52_bits | k) - 4503599627370496.0;
}

// exp(t) for t ≤ 0. Returns exactly 0 below −708 (where the result would be subnormal): as a
// kernel weight relative to the largest weight 1, such a value cannot change any sum.
inline double exp_nonpositive(double t) {
  const double tc = t < -708.0 ? -708.0 : t;  // also maps −inf to −708 (then zeroed below)
  const double y = tc * log2e + round_magic;
  const double k = y - round_magic;  // nearest integer to t/ln2, in [−1022, 0]
  const double r = (tc - k * ln2_hi) - k * ln2_lo;  // |r| ≤ ln2/2
  // Taylor series to degree 13: truncation < 5e-18 on |r| ≤ 0.347.
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k from the integer sitting in the low bits of y.
  const std::uint64_t kbits = as_bits(y) - as_bits(round_magic);
  const double scale = from_bits((kbits + 1023u) << 52);
  const double out = p * scale;
  return t < -708.0 ? 0.0 : out;
}

// log(u) for normal positive finite u (the uniforms of Stream: 2^-53 ≤ u < 1).
inline double log_positive(double u) {
  const std::uint64_t b = as_bits(u);
  const std::uint64_t mant = b & 0x000fffffffffffffull;
  double e = small_u64_to_double(b >> 52) - 1023.0;
  double m = from_bits(mant | 0x3ff0000000000000ull);  // [1, 2)
  const bool big = m > 1.4142135623730951;
  m = big ? 0.5 * m : m;  // [√½, √2)
  e = big ? e + 1.0 : e;
  const double s = (m - 1.0) / (m + 1.0);  // |s| ≤ 0.1716
  const double s2 = s * s;
  // log m = 2 atanh(s) = 2s Σ s^(2j)/(2j+1); truncation < 3e-17 relative with j ≤ 10.
  double p = 1.0 / 21.0;
  p = p * s2 + 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  const double logm = 2.0 * s + 2.0 * s * (s2 * p);
  return e * ln2_hi + (logm + e * ln2_lo);
}

// cos(2πu) and sin(2πu) for u in [0, 1] on the 2^-53 grid: the reduction u − q/4 is exact.
inline void sincos_2pi(double u, double& c_out, double& s_out) {
  const double q = (4.0 * u + round_magic) - round_magic;  // quadrant 0..4
  const double f = u - 0.25 * q;                           // exact, |f| ≤ 1/8
  const double t = 6.283185307179586477 * f;               // |t| ≤ π/4
  const double t2 = t * t;
  double s = -1.0 / 355687428096000.0;  // −1/17!... Taylor: sin to t^17
  s = s * t2 + 1.0 / 1307674368000.0;
  s = s * t2 - 1.0 / 6227020800.0;
  s = s * t2 + 1.0 / 39916800.0;
  s = s * t2 - 1.0 / 362880.0;
  s = s * t2 + 1.0 / 5040.0;
  s = s * t2 - 1.0 / 120.0;
  s = s * t2 + 1.0 / 6.0;
  const double sn = t - t * (t2 * s);  // t − t³/6 + …
  double c = 1.0 / 20922789888000.0;   // cos to t^16
  c = c * t2 - 1.0 / 87178291200.0;
  c = c * t2 + 1.0 / 479001600.0;
  c = c * t2 - 1.0 / 3628800.0;
  c = c * t2 + 1.0 / 40320.0;
  c = c * t2 - 1.0 / 720.0;
  c = c * t2 + 1.0 / 24.0;
  c = c * t2 - 0.5;
  const double cs = 1.0 + t2 * c;
  // Rotate by q quarter turns: (cos, sin) → q=1: (−sin, cos), 2: (−cos, −sin), 3: (sin, −cos).
  // Bitwise & and | (not && and ||) keep the code free of branches, so that it vectorises.
  const bool q1 = q == 1.0, q2 = q == 2.0, q3 = q == 3.0;
  const bool odd = q1 | q3;
  const double a = odd ? sn : cs;
  const double b = odd ? cs : sn;
  const double ca = (q1 | q2) ? -a : a;
  const double sb = (q2 | q3) ? -b : b;
  c_out = ca;
  s_out = sb;
}

// The 2^-53-grid uniform in (0, 1) from 64 random bits: (2k + 1)·2^-53 with k the top 52 bits.
// Both u and 1 − u are exact and lie in [2^-53, 1 − 2^-53]: never 0 or 1.
inline double uniform_from_bits(std::uint64_t w) {
  return small_u64_to_double(w >> 12) * 0x1.0p-52 + 0x1.0p-53;
}

// Box-Muller: two standard normals from two words.
inline void box_muller(std::uint64_t w1, std::uint64_t w2, double& z0, double& z1) {
  const double u1 = uniform_from_bits(w1);
  const double u2 = uniform_from_bits(w2);
  const double r = __builtin_sqrt(-2.0 * log_positive(u1));
  double c, s;
  sincos_2pi(u2, c, s);
  z0 = r * c;
  z1 = r * s;
}

// buf[i] ← exp(−(buf[i] − shift)·factor), for buf[i] ≥ shift (kernel weights).
inline void exp_neg_scaled(double* buf, std::size_t n, double shift, double factor) {
  for (std::size_t i = 0; i < n; ++i) {
    const double t = (buf[i] - shift) * factor;
    buf[i] = exp_nonpositive(-t);
  }
}

}  // namespace scorefarm::fast
