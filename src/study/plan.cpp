#include "scorefarm/study/plan.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <set>

#include "scorefarm/core/status.hpp"

namespace scorefarm {

int worker_count(int ranks) { return ranks <= 1 ? 1 : ranks - 1; }

std::vector<std::size_t> calibration_cells(const TrialRunner& runner, std::size_t max_cells) {
  const std::size_t count = runner.cell_count();
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (count <= max_cells) return order;
  std::vector<double> cost(count);
  for (std::size_t c = 0; c < count; ++c) cost[c] = runner.cost(c);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return cost[a] < cost[b]; });
  std::set<std::size_t> picked;
  if (max_cells == 0) return {};
  if (max_cells == 1) return {order[count / 2]};
  for (std::size_t i = 0; i < max_cells; ++i)
    picked.insert(order[i * (count - 1) / (max_cells - 1)]);
  return {picked.begin(), picked.end()};
}

StudyPlan plan_study(const TrialRunner& runner, const PlanOptions& options) {
  using clock = std::chrono::steady_clock;
  StudyPlan plan;
  plan.cells = runner.cell_count();
  plan.trials_per_cell = runner.trials_per_cell();
  plan.total_trials = plan.cells * plan.trials_per_cell;
  plan.ranks = std::max(1, options.ranks);
  plan.workers = worker_count(plan.ranks);
  plan.per_cell.resize(plan.cells);
  for (std::size_t c = 0; c < plan.cells; ++c) {
    plan.per_cell[c].cost = runner.cost(c);
    plan.sample_evaluations += plan.per_cell[c].cost * static_cast<double>(plan.trials_per_cell);
  }
  if (!options.calibrate || plan.cells == 0) return plan;

  const std::vector<std::size_t> cells = calibration_cells(runner, options.max_calibration_cells);
  const double budget = std::max(0.0, options.calibration_seconds);
  const double share = budget / static_cast<double>(cells.size());
  // Never time more trials than the study itself has: for small studies the plan then measures
  // the whole work instead of outlasting the run.
  const std::uint64_t max_trials_per_cell =
      std::max<std::uint64_t>(1, std::min<std::uint64_t>(100000, plan.trials_per_cell));
  const auto start = clock::now();
  auto seconds_since = [](clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  (void)runner.run(cells.front(), 0);  // warm-up: first-touch allocations, caches

  for (std::size_t c : cells) {
    if (plan.calibration_trials > 0 && seconds_since(start) > budget) break;  // budget spent
    CellEstimate& est = plan.per_cell[c];
    const auto cell_start = clock::now();
    double elapsed = 0.0;
    do {
      Record record = runner.run(c, est.calibration_trials);
      if (record.status & status::failure_mask) ++est.calibration_failures;
      ++est.calibration_trials;
      elapsed = seconds_since(cell_start);
    } while (elapsed < share && est.calibration_trials < max_trials_per_cell);
    est.measured = true;
    est.seconds_per_trial = elapsed / static_cast<double>(est.calibration_trials);
    plan.calibration_trials += est.calibration_trials;
    plan.calibration_failures += est.calibration_failures;
  }
  plan.calibration_wall_seconds = seconds_since(start);
  plan.calibrated = true;

  // Fit t = a + b·cost over the measured cells (least squares; a, b ≥ 0).
  double n = 0, sc = 0, st = 0, scc = 0, sct = 0;
  for (const auto& e : plan.per_cell) {
    if (!e.measured) continue;
    n += 1;
    sc += e.cost;
    st += e.seconds_per_trial;
    scc += e.cost * e.cost;
    sct += e.cost * e.seconds_per_trial;
  }
  double a = 0, b = 0;
  const double denom = n * scc - sc * sc;
  if (n >= 2 && denom > 1e-12 * std::max(1.0, n * scc)) {
    b = (n * sct - sc * st) / denom;
    a = (st - b * sc) / n;
  }
  if (!(n >= 2 && denom > 1e-12 * std::max(1.0, n * scc)) || a < 0 || b < 0) {
    // Proportional model through the origin, or a constant when costs carry no information.
    a = 0;
    b = sc > 0 ? st / sc : 0;
    if (sc <= 0) a = st / n;
  }
  plan.fit_overhead_seconds = a;
  plan.fit_seconds_per_cost = b;
  for (auto& e : plan.per_cell) {
    if (!e.measured) e.seconds_per_trial = a + b * e.cost;
    plan.serial_seconds += e.seconds_per_trial * static_cast<double>(plan.trials_per_cell);
  }
  plan.estimated_seconds = plan.serial_seconds / static_cast<double>(plan.workers);
  return plan;
}

}  // namespace scorefarm
