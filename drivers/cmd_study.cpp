// scorefarm study: a single-process percentile study (no MPI, no HDF5), for quick looks and tests.
//
//   scorefarm study --dist NAME [--d 2] --n 100,200,500 --trials T [--seed S]
//                   (--bandwidth H | --bandwidth-rule theory|silverman [--c C])
//                   (--at x1,...,xd | --query sample)
//                   [--estimator llsfe2|llsfe3|llsfe4|kde] [--kernel K] [--errors S2_sp,S4_F]
//                   [--json FILE]
//   scorefarm study CONFIG.yaml [--set key=value]... [--json FILE]
//
// Runs every trial of every cell serially (EstimatorRunner::run(cell, trial), the pure trial
// function the MPI farm also calls, so the numbers are those of `scorefarm run` with the same
// seed). Prints, per curve (cells that differ only in n) and per n, the percentiles 5/25/50/75/95
// of each error, the mean, and the failure counts; failed trials count as +inf (never dropped).
// Then the least-squares slope of log(percentile) against log(n). Percentiles and slopes are
// aggregate's (numpy 'linear', extended to +inf). stdout is a pure function of the arguments (the
// run time goes to stderr), so the same seed gives the same bytes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "scorefarm/aggregate/stats.hpp"
#include "scorefarm/core/csv.hpp"
#include "scorefarm/core/estimator_study.hpp"
#include "scorefarm/core/local_likelihood.hpp"
#include "scorefarm/core/status.hpp"
#include "scorefarm/study/study_config.hpp"

namespace scorefarm::cli {
namespace {

struct StudyArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string dist;
  int d = 2;
  std::vector<std::int64_t> n;
  std::uint64_t trials = 0;
  std::uint64_t seed = 1;
  double bandwidth = std::numeric_limits<double>::quiet_NaN();
  std::string bandwidth_rule;
  double c = 1.0;
  std::string at;
  std::string query;
  std::string estimator = "llsfe2";
  std::string kernel;
  std::vector<std::string> errors;
  std::string json;
  // set from option counts
  bool bandwidth_given = false, c_given = false, d_given = false, trials_given = false,
       seed_given = false, estimator_given = false;
};

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char ch : text) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(ch));
        else
          out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

// JSON has no inf/NaN: +inf (a percentile reached by failed trials) is written as the string
// "inf", NaN (e.g. a slope through an infinite percentile) as null.
std::string json_number(double v) {
  if (std::isnan(v)) return "null";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  return fmt::format("{}", v);
}

std::string table_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.4g}", v);
}

// ------------------------------------------------------------------------- study from options
EstimatorStudy study_from_options(const StudyArgs& a) {
  if (a.dist.empty()) throw BadInput("give a study CONFIG.yaml, or --dist NAME with --n, --trials and a bandwidth");
  if (a.n.empty()) throw BadInput("--n: give the sample sizes, e.g. --n 100,200,500");
  if (!a.trials_given || a.trials < 1) throw BadInput("--trials: give the number of trials per n (at least 1)");
  if (a.d < 1 || a.d > 32) throw BadInput(fmt::format("--d: must be in 1..32, got {}", a.d));
  EstimatorStudy study;
  study.seed = a.seed;
  study.trials = a.trials;
  if (!a.errors.empty()) study.errors = a.errors;
  for (const auto& e : study.errors) {
    const auto names = estimator_error_names();
    if (std::find(names.begin(), names.end(), e) == names.end()) {
      std::string known;
      for (const auto& k : names) known += (known.empty() ? "" : ", ") + k;
      throw BadInput("--errors: unknown error '" + e + "' (known: " + known + ")");
    }
  }

  EstimatorCell proto;
  try {
    proto.distribution = preset_distribution(a.dist, a.d);
  } catch (const std::invalid_argument& e) {
    throw BadInput(std::string("--dist: ") + e.what());
  }
  // Estimator.
  if (a.estimator == "kde") {
    proto.estimator.name = "kde";
    proto.estimator.degree = 2;
    proto.estimator.kernel = a.kernel.empty() ? "gaussian" : a.kernel;
  } else if (a.estimator == "llsfe" || a.estimator == "llsfe2" || a.estimator == "llsfe3" ||
             a.estimator == "llsfe4") {
    proto.estimator.name = "llsfe";
    proto.estimator.degree = a.estimator == "llsfe" ? 2 : a.estimator.back() - '0';
    proto.estimator.kernel =
        a.kernel.empty() ? (proto.estimator.degree == 2 ? "gaussian" : "epanechnikov") : a.kernel;
  } else {
    throw BadInput("--estimator: unknown estimator '" + a.estimator + "' (known: llsfe2, llsfe3, llsfe4, kde)");
  }
  // Bandwidth.
  if (a.bandwidth_given && !a.bandwidth_rule.empty() && a.bandwidth_rule != "constant")
    throw BadInput("--bandwidth H is a constant bandwidth; it cannot be combined with --bandwidth-rule " +
                   a.bandwidth_rule + " (use --c for its multiplier)");
  if (!a.bandwidth_rule.empty()) {
    try {
      proto.bandwidth.kind = parse_bandwidth_kind(a.bandwidth_rule);
    } catch (const std::invalid_argument& e) {
      throw BadInput(std::string("--bandwidth-rule: ") + e.what());
    }
  } else if (!a.bandwidth_given) {
    throw BadInput("give --bandwidth H or --bandwidth-rule theory|silverman");
  }
  if (proto.bandwidth.kind == BandwidthRule::Kind::constant) {
    if (!a.bandwidth_given) throw BadInput("--bandwidth-rule constant needs --bandwidth H");
    if (a.c_given) throw BadInput("--c is the multiplier of the theory and silverman rules, not of a constant h");
    if (!(a.bandwidth > 0.0) || !std::isfinite(a.bandwidth))
      throw BadInput(fmt::format("--bandwidth: h must be a positive finite number, got {}", a.bandwidth));
    proto.bandwidth.value = a.bandwidth;
  } else {
    if (!(a.c > 0.0) || !std::isfinite(a.c))
      throw BadInput(fmt::format("--c: must be a positive finite number, got {}", a.c));
    proto.bandwidth.value = a.c;
    proto.bandwidth.degree = proto.estimator.degree;
  }
  // Query.
  if (!a.at.empty() == !a.query.empty())
    throw BadInput("give exactly one of --at x1,...,xd and --query sample");
  if (!a.query.empty()) {
    if (a.query != "sample") throw BadInput("--query: only 'sample' (x drawn afresh from f per trial); use --at for a fixed point");
    proto.query.kind = QueryRule::Kind::sample;
  } else {
    Eigen::VectorXd x;
    try {
      x = parse_point(a.at, "--at " + a.at);
    } catch (const CsvError& e) {
      throw BadInput(e.what());
    }
    if (x.size() != a.d && x.size() != 1)
      throw BadInput(fmt::format("--at {}: expected d = {} values (or one, repeated), got {}", a.at, a.d, x.size()));
    proto.query.kind = QueryRule::Kind::fixed;
    proto.query.point.assign(x.data(), x.data() + x.size());
  }
  for (std::size_t i = 0; i < a.n.size(); ++i) {
    if (a.n[i] < 1) throw BadInput(fmt::format("--n: sample sizes must be at least 1, got {}", a.n[i]));
    for (std::size_t j = 0; j < i; ++j)
      if (a.n[j] == a.n[i]) throw BadInput(fmt::format("--n: {} listed twice", a.n[i]));
    EstimatorCell cell = proto;
    cell.n = a.n[i];
    study.cells.push_back(cell);
  }
  return study;
}

// ------------------------------------------------------------------------- summary
struct CellSummary {
  std::size_t cell = 0;
  double n = 0;
  std::uint64_t trials = 0, failed = 0, flagged = 0;
  std::vector<aggregate::Percentiles> percentiles;  // per reported field
  std::vector<double> mean;
};

struct Curve {
  std::vector<std::pair<std::string, std::string>> key;  // the non-n cell columns
  std::vector<CellSummary> cells;                         // ascending n
};

std::string cell_text(const CellColumn& c, std::size_t cell) {
  if (c.is_text) return c.texts.at(cell);
  return fmt::format("{}", c.numbers.at(cell));
}

int run_study(const StudyArgs& args) {
  std::unique_ptr<TrialRunner> runner;
  std::string source;
  if (!args.config.empty()) {
    if (!args.dist.empty() || !args.n.empty() || args.trials_given || args.bandwidth_given ||
        !args.bandwidth_rule.empty() || !args.at.empty() || !args.query.empty() || args.estimator_given ||
        !args.errors.empty() || args.seed_given || args.d_given)
      throw BadInput("a study CONFIG.yaml already fixes the study; change it with --set key=value");
    try {
      LoadedStudy loaded = load_study_file(args.config, args.overrides);
      source = fmt::format("{} (kind {}, config hash {})", args.config, loaded.kind, loaded.hash);
      runner = std::move(loaded.runner);
    } catch (const ConfigError& e) {
      throw BadInput(e.what());
    }
  } else {
    if (!args.overrides.empty()) throw BadInput("--set needs a study CONFIG.yaml");
    EstimatorStudy study = study_from_options(args);
    try {
      runner = std::make_unique<EstimatorRunner>(std::move(study));
    } catch (const std::invalid_argument& e) {
      throw BadInput(e.what());
    }
    source = "command line";
  }

  // Fields to report: the errors (err_*), or every scalar field when there are none.
  const std::vector<FieldSpec> fields = runner->fields();
  std::vector<std::size_t> offset(fields.size());
  std::size_t width = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    offset[i] = width;
    width += fields[i].length;
  }
  std::vector<std::size_t> report;
  for (std::size_t i = 0; i < fields.size(); ++i)
    if (fields[i].length == 1 && fields[i].name.rfind("err_", 0) == 0) report.push_back(i);
  if (report.empty())
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (fields[i].length == 1) report.push_back(i);
  auto label = [&](std::size_t f) {
    const std::string& name = fields[f].name;
    return name.rfind("err_", 0) == 0 ? name.substr(4) : name;
  };

  // Curves: cells grouped by every cell column except n.
  const std::vector<CellColumn> table = runner->cell_table();
  const CellColumn* n_column = nullptr;
  for (const auto& c : table)
    if (c.name == "n" && !c.is_text) n_column = &c;
  std::vector<Curve> curves;
  std::map<std::string, std::size_t> curve_of;
  const std::uint64_t trials = runner->trials_per_cell();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t cell = 0; cell < runner->cell_count(); ++cell) {
    std::vector<std::pair<std::string, std::string>> key;
    std::string key_text;
    for (const auto& c : table) {
      if (&c == n_column) continue;
      key.emplace_back(c.name, cell_text(c, cell));
      key_text += c.name + "=" + key.back().second + "\x1f";
    }
    auto it = curve_of.find(key_text);
    if (it == curve_of.end()) {
      it = curve_of.emplace(key_text, curves.size()).first;
      curves.push_back(Curve{key, {}});
    }

    CellSummary s;
    s.cell = cell;
    s.n = n_column ? n_column->numbers.at(cell) : std::numeric_limits<double>::quiet_NaN();
    s.trials = trials;
    std::vector<std::vector<double>> values(report.size());
    for (auto& v : values) v.reserve(trials);
    for (std::uint64_t t = 0; t < trials; ++t) {
      const Record rec = runner->run(cell, t);
      const bool failed = (rec.status & status::failure_mask) != 0;
      s.failed += failed ? 1 : 0;
      s.flagged += rec.status != status::ok ? 1 : 0;
      for (std::size_t r = 0; r < report.size(); ++r) {
        double v = rec.values.at(offset[report[r]]);
        if (failed || std::isnan(v)) v = std::numeric_limits<double>::infinity();  // never dropped
        values[r].push_back(v);
      }
    }
    for (auto& v : values) {
      double sum = 0.0;
      for (double x : v) sum += x;
      s.mean.push_back(sum / static_cast<double>(v.size()));
      std::sort(v.begin(), v.end());
      s.percentiles.push_back(aggregate::percentiles_sorted(v));
    }
    curves[it->second].cells.push_back(std::move(s));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& curve : curves)
    std::stable_sort(curve.cells.begin(), curve.cells.end(),
                     [](const CellSummary& a, const CellSummary& b) { return a.n < b.n; });

  // Slopes of log(statistic) against log(n), per field: 5 percentiles then the mean.
  constexpr std::size_t n_stats = aggregate::n_levels + 1;
  auto slopes_of = [&](const Curve& curve, std::size_t r) {
    std::array<double, n_stats> out{};
    for (std::size_t k = 0; k < n_stats; ++k) {
      std::vector<double> x, y;
      for (const auto& s : curve.cells) {
        x.push_back(std::log(s.n));
        const double v = k < aggregate::n_levels ? s.percentiles[r][k] : s.mean[r];
        y.push_back(v > 0.0 ? std::log(v) : std::numeric_limits<double>::quiet_NaN());
      }
      out[k] = aggregate::least_squares(x, y).slope;
    }
    return out;
  };

  // ---- table on stdout
  std::printf("study: %s, %zu cells x %llu trials, runner %s\n", source.c_str(), runner->cell_count(),
              static_cast<unsigned long long>(trials), runner->kind().c_str());
  std::puts("failed trials count as +inf in the percentiles and the mean; 'flagged' = any status bit");
  for (const auto& curve : curves) {
    std::string key;
    for (const auto& [k, v] : curve.key) key += (key.empty() ? "" : " ") + k + "=" + v;
    std::printf("\ncurve: %s\n", key.c_str());
    std::printf("%-8s %8s %11s %11s %11s %11s %11s %11s %7s %8s\n", "error", "n", "p5", "p25", "p50",
                "p75", "p95", "mean", "failed", "flagged");
    for (std::size_t r = 0; r < report.size(); ++r) {
      for (const auto& s : curve.cells) {
        const std::string n_text = std::isfinite(s.n) && std::floor(s.n) == s.n && std::fabs(s.n) < 1e15
                                       ? fmt::format("{:.0f}", s.n)
                                       : table_number(s.n);
        std::printf("%-8s %8s", label(report[r]).c_str(), n_text.c_str());
        for (double p : s.percentiles[r]) std::printf(" %11s", table_number(p).c_str());
        std::printf(" %11s %7llu %8llu\n", table_number(s.mean[r]).c_str(),
                    static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.flagged));
      }
      if (curve.cells.size() >= 2 && n_column) {
        const auto sl = slopes_of(curve, r);
        std::printf("%-8s %8s", label(report[r]).c_str(), "slope");
        for (double v : sl) std::printf(" %11s", table_number(v).c_str());
        std::puts("");
      }
    }
  }
  std::fprintf(stderr, "scorefarm study: %llu trials in %.3f s\n",
               static_cast<unsigned long long>(trials * runner->cell_count()), seconds);

  // ---- JSON
  if (!args.json.empty()) {
    std::string out = "{\"source\": " + json_string(source) + ", \"kind\": " + json_string(runner->kind()) +
                      ", \"trials_per_cell\": " + std::to_string(trials) +
                      ", \"levels\": [5, 25, 50, 75, 95], \"curves\": [";
    for (std::size_t ci = 0; ci < curves.size(); ++ci) {
      const Curve& curve = curves[ci];
      out += ci ? ", " : "";
      out += "{\"key\": {";
      for (std::size_t k = 0; k < curve.key.size(); ++k)
        out += (k ? ", " : "") + json_string(curve.key[k].first) + ": " + json_string(curve.key[k].second);
      out += "}, \"cells\": [";
      for (std::size_t si = 0; si < curve.cells.size(); ++si) {
        const CellSummary& s = curve.cells[si];
        out += si ? ", " : "";
        out += fmt::format("{{\"cell\": {}, \"n\": {}, \"trials\": {}, \"failed\": {}, \"flagged\": {}, \"errors\": {{",
                           s.cell, json_number(s.n), s.trials, s.failed, s.flagged);
        for (std::size_t r = 0; r < report.size(); ++r) {
          out += (r ? ", " : "") + json_string(label(report[r])) + ": {";
          for (std::size_t k = 0; k < aggregate::n_levels; ++k)
            out += fmt::format("{}\"p{}\": {}", k ? ", " : "", aggregate::percentile_levels[k],
                               json_number(s.percentiles[r][k]));
          out += ", \"mean\": " + json_number(s.mean[r]) + "}";
        }
        out += "}}";
      }
      out += "], \"slopes\": {";
      if (curve.cells.size() >= 2 && n_column) {
        for (std::size_t r = 0; r < report.size(); ++r) {
          const auto sl = slopes_of(curve, r);
          out += (r ? ", " : "") + json_string(label(report[r])) + ": {";
          for (std::size_t k = 0; k < aggregate::n_levels; ++k)
            out += fmt::format("{}\"p{}\": {}", k ? ", " : "", aggregate::percentile_levels[k], json_number(sl[k]));
          out += ", \"mean\": " + json_number(sl[aggregate::n_levels]) + "}";
        }
      }
      out += "}}";
    }
    out += "]}\n";
    std::ofstream f(args.json, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(args.json + ": cannot open for writing");
    f << out;
    f.close();
    if (!f) throw std::runtime_error(args.json + ": write error");
  }
  return exit_ok;
}

CommandRegistration registration{
    "study", "Single-process percentile study: percentiles, failures and log-log slopes per n",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<StudyArgs>();
      sub.add_option("config", a->config, "Study config (YAML); or give the study with the options below");
      sub.add_option("--set", a->overrides, "Override a scalar of the config, e.g. --set trials=100 (repeatable)");
      sub.add_option("--dist", a->dist, "Preset distribution: gaussian, paper_mixture, laplace, student_t");
      auto* d = sub.add_option("--d", a->d, "Dimension (default 2)");
      sub.add_option("--n", a->n, "Sample sizes, comma separated: --n 100,200,500")->delimiter(',');
      auto* trials = sub.add_option("--trials", a->trials, "Trials per n");
      auto* seed = sub.add_option("--seed", a->seed, "Study seed (default 1)");
      auto* h = sub.add_option("--bandwidth,-b", a->bandwidth, "Constant bandwidth h > 0");
      sub.add_option("--bandwidth-rule", a->bandwidth_rule, "constant (needs --bandwidth), theory or silverman");
      auto* c = sub.add_option("--c", a->c, "Multiplier of the theory / silverman rule (default 1)");
      sub.add_option("--at", a->at, "Fixed query point x1,...,xd (--at=-1,1 for a leading minus)");
      sub.add_option("--query", a->query, "'sample': a query point drawn afresh from f in each trial");
      auto* est = sub.add_option("--estimator,-e", a->estimator, "llsfe2 (default), llsfe3, llsfe4 or kde");
      sub.add_option("--kernel", a->kernel, "gaussian (llsfe2, kde default), epanechnikov (llsfe3/4 default), tricube");
      sub.add_option("--errors", a->errors, "Errors to record, e.g. S2_sp,S4_F (also S1, S2_F, S3_F, S4_sp)")
          ->delimiter(',');
      sub.add_option("--json", a->json, "Also write the summary as one JSON object to FILE");
      return [a, d, trials, seed, h, c, est] {
        a->d_given = d->count() > 0;
        a->trials_given = trials->count() > 0;
        a->seed_given = seed->count() > 0;
        a->bandwidth_given = h->count() > 0;
        a->c_given = c->count() > 0;
        a->estimator_given = est->count() > 0;
        return run_study(*a);
      };
    }};

}  // namespace
}  // namespace scorefarm::cli
