#pragma once
// The master's progress line: done/total, trials per second, ETA.
//   - on a terminal (isatty): one live line, rewritten in place ('\r') twice a second;
//   - otherwise (SLURM logs, pipes): a plain line every `interval` seconds.
// Example: "scorefarm: 12345/350000 trials (3.5%), 1234 trials/s, ETA 4m32s"
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace scorefarm::parallel {

class Progress {
 public:
  // live < 0: decide from isatty(fileno(out)).
  Progress(std::FILE* out, std::uint64_t total, std::uint64_t done_before, double interval_seconds = 10.0,
           int live = -1);
  // `done` = records done in total (before this run + completed by it). Prints when due.
  void update(std::uint64_t done);
  // Final line (always printed; ends the live line).
  void finish(std::uint64_t done);
  bool live() const { return live_; }

  // "4m32s", "2h05m", "12s"
  static std::string duration(double seconds);
  // "14704 trials/s"; slow studies (training) keep three digits and say how long a trial takes:
  // "0.0167 trials/s, 1m00s a trial".
  static std::string rate(double trials_per_second);
  std::string line(std::uint64_t done) const;

 private:
  using clock = std::chrono::steady_clock;
  std::FILE* out_;
  std::uint64_t total_, done_before_;
  double interval_;
  bool live_;
  clock::time_point start_, last_;
  std::size_t last_width_ = 0;
  bool printed_ = false;
};

}  // namespace scorefarm::parallel
