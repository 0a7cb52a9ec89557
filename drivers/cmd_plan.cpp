// scorefarm plan study.yaml [--set k=v]... [--ranks N] [--json]
// Prints the cells, the total trials, the total sample-evaluations and an estimated run time for N
// ranks from a short serial calibration run. Reads the config only; writes nothing.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "scorefarm/study/plan.hpp"
#include "scorefarm/study/study_config.hpp"

namespace scorefarm::cli {
namespace {

struct PlanArgs {
  std::string config;
  std::vector<std::string> overrides;
  int ranks = 1;
  bool json = false;
  bool no_calibrate = false;
  double calibration_seconds = 2.0;
};

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Integral values print as integers (exactly, up to 2^53); others in shortest round-trip form.
std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  if (std::floor(value) == value && std::fabs(value) < 9.007199254740992e15)
    return fmt::format("{}", static_cast<std::int64_t>(value));
  return fmt::format("{}", value);
}

std::string cell_value(const CellColumn& column, std::size_t cell) {
  if (column.is_text) return column.texts.at(cell);
  return fmt::format("{:g}", column.numbers.at(cell));
}

std::string human_seconds(double s) {
  if (s < 120) return fmt::format("{:.1f} s", s);
  if (s < 7200) return fmt::format("{:.1f} min", s / 60);
  if (s < 172800) return fmt::format("{:.1f} h", s / 3600);
  return fmt::format("{:.1f} days", s / 86400);
}

void print_table(const LoadedStudy& study, const StudyPlan& plan) {
  const TrialRunner& runner = *study.runner;
  std::vector<CellColumn> columns = runner.cell_table();
  std::vector<std::string> header{"cell"};
  for (const auto& c : columns) header.push_back(c.name);
  header.insert(header.end(), {"cost", "s/trial", "cell time"});
  std::vector<std::vector<std::string>> rows;
  for (std::size_t cell = 0; cell < plan.cells; ++cell) {
    std::vector<std::string> row{std::to_string(cell)};
    for (const auto& c : columns) row.push_back(cell_value(c, cell));
    const CellEstimate& e = plan.per_cell[cell];
    row.push_back(fmt::format("{:g}", e.cost));
    if (plan.calibrated) {
      row.push_back(fmt::format("{:.3g}{}", e.seconds_per_trial, e.measured ? "*" : ""));
      row.push_back(human_seconds(e.seconds_per_trial * static_cast<double>(plan.trials_per_cell)));
    } else {
      row.push_back("-");
      row.push_back("-");
    }
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) {
    width[i] = header[i].size();
    for (const auto& row : rows) width[i] = std::max(width[i], row[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i)
      line += fmt::format("{:<{}}", row[i], width[i] + (i + 1 < row.size() ? 2 : 0));
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::puts(line.c_str());
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

int run_plan(const PlanArgs& args) {
  LoadedStudy study;
  try {
    study = load_study_file(args.config, args.overrides);
  } catch (const ConfigError& e) {
    throw BadInput(e.what());
  }
  PlanOptions options;
  options.ranks = args.ranks;
  options.calibrate = !args.no_calibrate;
  options.calibration_seconds = args.calibration_seconds;
  StudyPlan plan = plan_study(*study.runner, options);

  if (args.json) {
    std::string out = "{";
    out += "\"config\": " + json_string(args.config);
    out += ", \"kind\": " + json_string(study.kind);
    out += ", \"config_hash\": " + json_string(study.hash);
    out += ", \"cells\": " + std::to_string(plan.cells);
    out += ", \"trials_per_cell\": " + std::to_string(plan.trials_per_cell);
    out += ", \"trials\": " + std::to_string(plan.total_trials);
    out += ", \"sample_evaluations\": " + json_number(plan.sample_evaluations);
    out += ", \"ranks\": " + std::to_string(plan.ranks);
    out += ", \"workers\": " + std::to_string(plan.workers);
    out += ", \"serial_seconds\": " + (plan.calibrated ? json_number(plan.serial_seconds) : "null");
    out += ", \"estimated_seconds\": " +
           (plan.calibrated ? json_number(plan.estimated_seconds) : "null");
    out += ", \"calibration\": {\"trials\": " + std::to_string(plan.calibration_trials) +
           ", \"failed_trials\": " + std::to_string(plan.calibration_failures) +
           ", \"seconds\": " + json_number(plan.calibration_wall_seconds) + "}";
    out += "}";
    std::puts(out.c_str());
    return exit_ok;
  }

  std::printf("study: %s (kind %s, config hash %s)\n", args.config.c_str(), study.kind.c_str(),
              study.hash.c_str());
  for (const auto& o : study.overrides) std::printf("  --set %s\n", o.c_str());
  std::puts("");
  print_table(study, plan);
  std::puts("");
  std::printf("cells:                    %zu\n", plan.cells);
  std::printf("trials per cell:          %llu\n",
              static_cast<unsigned long long>(plan.trials_per_cell));
  std::printf("total trials:             %llu\n", static_cast<unsigned long long>(plan.total_trials));
  std::printf("total sample-evaluations: %s  (sum over cells of cost x trials)\n",
              fmt::format("{:.4g}", plan.sample_evaluations).c_str());
  if (!plan.calibrated) {
    std::puts("estimated run time:       not calibrated (--no-calibrate)");
    return exit_ok;
  }
  std::size_t measured = 0;
  for (const auto& e : plan.per_cell) measured += e.measured ? 1 : 0;
  std::printf("calibration:              %llu trials of %zu cells in %.2f s (* = measured; others "
              "t = %.3g s + %.3g s x cost)\n",
              static_cast<unsigned long long>(plan.calibration_trials), measured,
              plan.calibration_wall_seconds, plan.fit_overhead_seconds, plan.fit_seconds_per_cost);
  if (plan.calibration_failures > 0)
    std::printf("warning: %llu of %llu calibration trials failed (status failure bits); check "
                "the bandwidths and n\n",
                static_cast<unsigned long long>(plan.calibration_failures),
                static_cast<unsigned long long>(plan.calibration_trials));
  std::printf("serial compute time:      %s\n", human_seconds(plan.serial_seconds).c_str());
  std::printf("estimated run time:       %s with -np %d (%d worker%s%s)\n",
              human_seconds(plan.estimated_seconds).c_str(), plan.ranks, plan.workers,
              plan.workers == 1 ? "" : "s",
              plan.ranks == 1 ? ": rank 0 computes" : "; rank 0 dispatches and writes");
  unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && static_cast<unsigned>(plan.ranks) > cores)
    std::printf("note: %d ranks on %u cores here; the estimate assumes one core per worker\n",
                plan.ranks, cores);
  return exit_ok;
}

CommandRegistration registration{
    "plan", "Show a study's cells, total work and estimated run time (writes nothing)",
    [](CLI::App& sub) -> Runner {
      auto args = std::make_shared<PlanArgs>();
      sub.add_option("config", args->config, "Study config (YAML)")->required();
      sub.add_option("--set", args->overrides,
                     "Override a scalar of the config by dotted path, e.g. --set trials=100 "
                     "--set axes.n=[100,200] (repeatable)");
      sub.add_option("--ranks,-n", args->ranks, "MPI ranks to estimate the run time for")
          ->check(CLI::PositiveNumber);
      sub.add_flag("--json", args->json,
                   "Print one JSON object: cells, trials, sample_evaluations, estimated_seconds...");
      sub.add_flag("--no-calibrate", args->no_calibrate, "Skip the timing run (sizes only)");
      sub.add_option("--calibration-seconds", args->calibration_seconds,
                     "Time budget of the serial calibration run")
          ->check(CLI::Range(0.0, 3600.0));
      return [args] { return run_plan(*args); };
    }};

}  // namespace
}  // namespace scorefarm::cli
