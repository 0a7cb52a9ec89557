// Progress line (progress.hpp).
#include "scorefarm/parallel/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace scorefarm::parallel {

Progress::Progress(std::FILE* out, std::uint64_t total, std::uint64_t done_before, double interval_seconds,
                   int live)
    : out_(out),
      total_(total),
      done_before_(done_before),
      interval_(interval_seconds),
      live_(live < 0 ? (out && ::isatty(::fileno(out))) : live > 0),
      start_(clock::now()),
      last_(start_) {}

std::string Progress::duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  char text[32];
  if (s < 60)
    std::snprintf(text, sizeof text, "%llds", s);
  else if (s < 3600)
    std::snprintf(text, sizeof text, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  return text;
}

std::string Progress::rate(double trials_per_second) {
  char text[100];
  if (trials_per_second >= 100 || trials_per_second <= 0)
    std::snprintf(text, sizeof text, "%.0f trials/s", trials_per_second);
  else if (trials_per_second >= 1)
    std::snprintf(text, sizeof text, "%.3g trials/s", trials_per_second);
  else
    std::snprintf(text, sizeof text, "%.3g trials/s, %s a trial", trials_per_second,
                  duration(1.0 / trials_per_second).c_str());
  return text;
}

std::string Progress::line(std::uint64_t done) const {
  const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
  const double completed = static_cast<double>(done - std::min(done, done_before_));
  const double per_second = elapsed > 0 ? completed / elapsed : 0.0;
  const double percent = total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
  const double remaining = static_cast<double>(total_ - std::min(done, total_));
  char text[200];
  std::snprintf(text, sizeof text, "scorefarm: %llu/%llu trials (%.1f%%), %s, ETA %s",
                static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), percent,
                rate(per_second).c_str(),
                remaining == 0 ? "0s" : per_second > 0 ? duration(remaining / per_second).c_str() : "?");
  return text;
}

void Progress::update(std::uint64_t done) {
  if (!out_) return;
  const auto now = clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  // Plain lines: the first soon (a log shows the run is alive), then every interval.
  const double due = live_ ? 0.5 : printed_ ? interval_ : std::min(interval_, 2.0);
  if (since < due) return;
  last_ = now;
  const std::string text = line(done);
  if (live_) {
    std::fprintf(out_, "\r%s", text.c_str());
    for (std::size_t i = text.size(); i < last_width_; ++i) std::fputc(' ', out_);
    last_width_ = text.size();
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
  printed_ = true;
}

void Progress::finish(std::uint64_t done) {
  if (!out_) return;
  const std::string text = line(done);
  if (live_) {
    std::fprintf(out_, "\r%s", text.c_str());
    for (std::size_t i = text.size(); i < last_width_; ++i) std::fputc(' ', out_);
    std::fputc('\n', out_);
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

}  // namespace scorefarm::parallel
