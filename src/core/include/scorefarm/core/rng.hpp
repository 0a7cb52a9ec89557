#pragma once
// Counter-based random streams (Random123 Philox4x64-10).
//
// Every trial draws from its own stream keyed by (seed, cell) with counter (trial, substream, block).
// A record therefore depends only on (seed, cell, trial): never on which rank computed it, nor on
// the order in which trials were handed out. This is what makes records bitwise identical on any
// MPI layout (ALPSCore's `rank * step + base` seeding is the trap this avoids).
#include <array>
#include <cstddef>
#include <cstdint>

#include <Random123/philox.h>

namespace scorefarm {

class Stream {
 public:
  // `substream` separates independent uses inside one trial (data, query point, initialisation...).
  Stream(std::uint64_t seed, std::uint64_t cell, std::uint64_t trial, std::uint64_t substream = 0);

  std::uint64_t bits();   // 64 uniformly random bits
  // Uniform on the open interval (0, 1): (2k + 1)·2^-53 with k the top 52 bits of one word, so
  // both u and 1 − u are exact and never 0 (log() is safe on either).
  double uniform();
  double normal();        // standard normal (Box-Muller, both outputs used, in that order)
  double laplace();       // standard Laplace, density 0.5 exp(-|x|)
  double gamma(double shape);  // Gamma(shape, 1), Marsaglia-Tsang; shape > 0
  double chi_square(double dof) { return 2.0 * gamma(0.5 * dof); }

  // Bulk draws: exactly the values of `count` successive calls to normal() / uniform(), faster.
  void fill_normal(double* out, std::size_t count);
  void fill_uniform(double* out, std::size_t count);
  void fill_bits(std::uint64_t* out, std::size_t count);  // = `count` calls to bits()

 private:
  using Philox = r123::Philox4x64;
  void refill();
  Philox philox_;
  Philox::key_type key_;
  Philox::ctr_type counter_;
  Philox::ctr_type block_{};
  int next_ = 4;  // index of the next unused word of block_
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace scorefarm
