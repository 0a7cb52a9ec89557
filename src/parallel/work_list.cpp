// The master's work list and chunk sizing (work_list.hpp).
#include "scorefarm/parallel/work_list.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace scorefarm::parallel {

std::uint64_t Chunk::trials() const {
  std::uint64_t n = 0;
  for (const auto& segment : segments) n += segment.count;
  return n;
}

WorkList::WorkList(const std::vector<std::uint8_t>& done, std::size_t n_cells, std::uint64_t n_trials,
                   const std::function<double(std::size_t)>& cost) {
  cell_cost_.resize(n_cells);
  for (std::size_t cell = 0; cell < n_cells; ++cell) {
    const double c = cost(cell);
    cell_cost_[cell] = std::isfinite(c) && c > 0 ? c : 1.0;
    std::uint64_t trial = 0;
    while (trial < n_trials) {
      const std::size_t row = cell * static_cast<std::size_t>(n_trials);
      if (done[row + trial] == 1) {
        ++trial;
        continue;
      }
      std::uint64_t end = trial;
      while (end < n_trials && done[row + end] != 1) ++end;
      runs_.push_back({cell, trial, end - trial});
      remaining_trials_ += end - trial;
      remaining_cost_ += static_cast<double>(end - trial) * cell_cost_[cell];
      trial = end;
    }
  }
}

Chunk WorkList::take(double cost_budget, std::uint64_t max_trials, std::size_t max_segments) {
  Chunk chunk;
  max_trials = std::max<std::uint64_t>(max_trials, 1);
  std::uint64_t taken = 0;
  while (next_ < runs_.size() && taken < max_trials && chunk.segments.size() < max_segments) {
    const io::Segment& run = runs_[next_];
    const double unit = cell_cost_[run.cell];
    const std::uint64_t left_in_run = run.count - offset_;
    // Trials of this run that fit the remaining budget (at least one for an empty chunk).
    const double room = cost_budget - chunk.cost;
    std::uint64_t fit = room <= 0 ? 0
                        : room >= unit * static_cast<double>(left_in_run)
                            ? left_in_run
                            : static_cast<std::uint64_t>(std::floor(room / unit));
    if (taken == 0 && fit == 0) fit = 1;
    fit = std::min({fit, left_in_run, max_trials - taken});
    if (fit == 0) break;
    chunk.segments.push_back({run.cell, run.first + offset_, fit});
    chunk.cost += unit * static_cast<double>(fit);
    taken += fit;
    offset_ += fit;
    if (offset_ == run.count) {
      ++next_;
      offset_ = 0;
    }
  }
  remaining_trials_ -= taken;
  remaining_cost_ = std::max(0.0, remaining_cost_ - chunk.cost);
  if (remaining_trials_ == 0) remaining_cost_ = 0.0;
  return chunk;
}

ChunkSizer::ChunkSizer(int ranks, double target_seconds, std::uint64_t max_trials)
    : state_(static_cast<std::size_t>(std::max(ranks, 1))),
      target_seconds_(target_seconds),
      max_trials_(std::max<std::uint64_t>(max_trials, 1)) {}

double ChunkSizer::budget(int rank, double remaining_cost, int computing_ranks) const {
  const State& s = state_[static_cast<std::size_t>(rank)];
  double budget = std::numeric_limits<double>::infinity();  // probe: capped by max_trials()
  if (s.rate > 0) budget = std::min(target_seconds_ * s.rate, growth * s.last_cost);
  const double tail = remaining_cost / (tail_factor * std::max(computing_ranks, 1));
  return std::min(budget, tail);  // WorkList::take still hands out at least one trial
}

std::uint64_t ChunkSizer::max_trials(int rank) const {
  const State& s = state_[static_cast<std::size_t>(rank)];
  if (s.rate <= 0) return std::min(probe_trials, max_trials_);
  const double grown = growth * static_cast<double>(std::max<std::uint64_t>(s.last_trials, 1));
  return std::min<std::uint64_t>(max_trials_, static_cast<std::uint64_t>(std::min(grown, 1e18)));
}

void ChunkSizer::record(int rank, double cost, std::uint64_t trials, double seconds) {
  if (trials == 0) return;
  State& s = state_[static_cast<std::size_t>(rank)];
  const double measured = cost / std::max(seconds, 1e-7);
  // Exponentially weighted: follows the rank through cells of different cost per unit.
  s.rate = s.rate > 0 ? 0.5 * s.rate + 0.5 * measured : measured;
  s.last_cost = cost;
  s.last_trials = trials;
}

}  // namespace scorefarm::parallel
