// Counter-based random streams: Philox4x64-10 keyed by {seed, cell}, counter {trial, substream,
// block, 0}. Every draw of a trial is a pure function of (seed, cell, trial, substream).
#include "scorefarm/core/rng.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fast_math.hpp"

namespace scorefarm {

namespace {

// Philox4x64-10 for `nblocks` consecutive values of counter word 2, bit-identical to
// r123::Philox4x64 (checked in tests/core/test_rng.cpp). One block alone is latency-bound on the
// 64x64→128 multiplies (10 dependent rounds); four blocks advanced in lockstep let the CPU overlap
// the chains, which is ~3x faster.
inline void philox_round(std::uint64_t c[4], std::uint64_t k0, std::uint64_t k1) {
  const unsigned __int128 p0 = static_cast<unsigned __int128>(0xD2E7470EE14C6C93ull) * c[0];
  const unsigned __int128 p1 = static_cast<unsigned __int128>(0xCA5A826395121157ull) * c[2];
  const std::uint64_t hi0 = static_cast<std::uint64_t>(p0 >> 64), lo0 = static_cast<std::uint64_t>(p0);
  const std::uint64_t hi1 = static_cast<std::uint64_t>(p1 >> 64), lo1 = static_cast<std::uint64_t>(p1);
  const std::uint64_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
  c[0] = n0;
  c[1] = lo1;
  c[2] = n2;
  c[3] = lo0;
}

void philox_blocks(const std::uint64_t key[2], const std::uint64_t ctr[4], std::size_t nblocks,
                   std::uint64_t* out) {
  constexpr std::uint64_t w0 = 0x9E3779B97F4A7C15ull, w1 = 0xBB67AE8584CAA73Bull;
  std::size_t b = 0;
  for (; b + 4 <= nblocks; b += 4) {
    std::uint64_t c[4][4];
    for (int j = 0; j < 4; ++j) {
      c[j][0] = ctr[0];
      c[j][1] = ctr[1];
      c[j][2] = ctr[2] + b + j;
      c[j][3] = ctr[3];
    }
    std::uint64_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
      for (int j = 0; j < 4; ++j) philox_round(c[j], k0, k1);
      k0 += w0;
      k1 += w1;
    }
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 4; ++i) out[4 * (b + j) + i] = c[j][i];
  }
  for (; b < nblocks; ++b) {
    std::uint64_t c[4] = {ctr[0], ctr[1], ctr[2] + b, ctr[3]};
    std::uint64_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
      philox_round(c, k0, k1);
      k0 += w0;
      k1 += w1;
    }
    for (int i = 0; i < 4; ++i) out[4 * b + i] = c[i];
  }
}

}  // namespace

Stream::Stream(std::uint64_t seed, std::uint64_t cell, std::uint64_t trial, std::uint64_t substream) {
  key_ = {{seed, cell}};
  counter_ = {{trial, substream, 0, 0}};
}

void Stream::refill() {
  block_ = philox_(counter_, key_);
  ++counter_.v[2];  // next block: 2^64 blocks of 4 words per substream
  next_ = 0;
}

std::uint64_t Stream::bits() {
  if (next_ >= 4) refill();
  return block_.v[next_++];
}

void Stream::fill_bits(std::uint64_t* out, std::size_t count) {
  std::size_t i = 0;
  while (i < count && next_ < 4) out[i++] = block_.v[next_++];
  if (count - i >= 4) {  // whole blocks straight into the output
    const std::size_t nblocks = (count - i) / 4;
    philox_blocks(key_.v, counter_.v, nblocks, out + i);
    counter_.v[2] += nblocks;
    i += 4 * nblocks;
  }
  while (i < count) out[i++] = bits();
}

double Stream::uniform() { return fast::uniform_from_bits(bits()); }

double Stream::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const std::uint64_t w1 = bits();
  const std::uint64_t w2 = bits();
  double z0, z1;
  fast::box_muller(w1, w2, z0, z1);
  spare_normal_ = z1;
  has_spare_normal_ = true;
  return z0;
}

void Stream::fill_normal(double* out, std::size_t count) {
  std::size_t i = 0;
  if (i < count && has_spare_normal_) {
    out[i++] = spare_normal_;
    has_spare_normal_ = false;
  }
  // Whole pairs in chunks: Philox words into a small stack buffer, then a loop the compiler can
  // vectorise. Same words in the same order as successive normal() calls, hence the same values.
  constexpr std::size_t chunk = 256;
  std::uint64_t words[chunk];
  while (count - i >= 2) {
    const std::size_t pairs = std::min((count - i) / 2, chunk / 2);
    fill_bits(words, 2 * pairs);
    double* o = out + i;
    for (std::size_t p = 0; p < pairs; ++p) fast::box_muller(words[2 * p], words[2 * p + 1], o[2 * p], o[2 * p + 1]);
    i += 2 * pairs;
  }
  if (i < count) out[i++] = normal();  // odd tail: keeps the spare for the next call
}

void Stream::fill_uniform(double* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = uniform();
}

double Stream::laplace() {
  // Inverse CDF: log(2u) for u < 1/2, −log(2(1 − u)) otherwise; 1 − u is exact and never 0.
  const double u = uniform();
  return u < 0.5 ? std::log(2.0 * u) : -std::log(2.0 * (1.0 - u));
}

double Stream::gamma(double shape) {
  if (!(shape > 0.0) || !std::isfinite(shape)) return std::numeric_limits<double>::quiet_NaN();
  if (shape < 1.0) {
    // Gamma(a) = Gamma(a + 1) · U^(1/a) (Marsaglia-Tsang boost for a < 1).
    const double g = gamma(shape + 1.0);
    return g * std::pow(uniform(), 1.0 / shape);
  }
  // Marsaglia & Tsang (2000), "A simple method for generating gamma variables".
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double z, v;
    do {
      z = normal();
      v = 1.0 + c * z;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * (z * z) * (z * z)) return d * v;
    if (std::log(u) < 0.5 * z * z + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace scorefarm
