// scorefarm estimate: one-off score estimate at given query points, single process.
//
//   scorefarm estimate (--samples FILE | --dist NAME --n N [--seed S] [--d D])
//                      --at x1,...,xd [--at ...]
//                      (--bandwidth H | --bandwidth-rule constant|theory|silverman [--c C])
//                      [--estimator llsfe2|llsfe3|llsfe4|kde] [--kernel K]
//
// Samples come from a CSV file (one point per row, no header; core/csv.hpp) or are generated from
// a named preset distribution. Generated samples are exactly those of trial 0 of cell 0 of an
// estimator study with the same seed (Stream(seed, 0, 0, substream_data)).
//
// Output: one JSON object per query point, one per line, on stdout, with h, ess, status (code and
// flag names), g, G2, S2 (d x d row-major), S4 (d^4 values row-major), for degree-p fits also G3
// and G4, and for a generated sample the exact values {g, G2, S2, S4} and the errors
// err_S2_sp = ||S2_hat - S2||_sp, err_S4_F = ||S4_hat - S4||_F. A non-finite number is written as
// null and the status then carries nonfinite (or failed).
// Bad input -> one "scorefarm: error: ..." line naming file:line:column where applicable, exit 2.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.hpp"
#include "scorefarm/core/bandwidth.hpp"
#include "scorefarm/core/csv.hpp"
#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/estimator_study.hpp"
#include "scorefarm/core/kde.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/local_likelihood.hpp"
#include "scorefarm/core/norms.hpp"
#include "scorefarm/core/rng.hpp"
#include "scorefarm/core/score_tensors.hpp"
#include "scorefarm/core/status.hpp"

namespace scorefarm::cli {
namespace {

struct EstimateArgs {
  std::string samples;
  std::string dist;
  std::int64_t n = 0;
  std::uint64_t seed = 1;
  int d = 0;  // 0: default (2 for --dist, the file's width for --samples)
  std::vector<std::string> at;
  double bandwidth = std::numeric_limits<double>::quiet_NaN();
  bool bandwidth_given = false;
  std::string bandwidth_rule;
  double c = 1.0;
  bool c_given = false;
  std::string estimator = "llsfe2";
  std::string kernel;
};

// ------------------------------------------------------------------------------------ JSON
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

// Shortest round-trip form; non-finite -> null (the caller flags the status).
struct JsonWriter {
  bool nonfinite = false;
  std::string number(double v) {
    if (!std::isfinite(v)) {
      nonfinite = true;
      return "null";
    }
    return fmt::format("{}", v);
  }
  std::string array(const double* v, std::size_t count) {
    std::string out = "[";
    for (std::size_t i = 0; i < count; ++i) out += (i ? ", " : "") + number(v[i]);
    return out + "]";
  }
  std::string vector(const Eigen::VectorXd& v) { return array(v.data(), static_cast<std::size_t>(v.size())); }
  // Row-major d x d.
  std::string matrix(const Eigen::MatrixXd& M) {
    std::vector<double> flat;
    for (Eigen::Index i = 0; i < M.rows(); ++i)
      for (Eigen::Index j = 0; j < M.cols(); ++j) flat.push_back(M(i, j));
    return array(flat.data(), flat.size());
  }
  std::string tensor(const Tensor& T) { return array(T.data.data(), T.data.size()); }
};

std::string status_json(std::uint32_t bits) {
  std::string flags = "[";
  if (bits != status::ok) {
    const std::string names = describe_status(bits);
    std::size_t start = 0;
    bool first = true;
    for (;;) {
      const std::size_t bar = names.find('|', start);
      flags += (first ? "" : ", ") + json_string(names.substr(start, bar == std::string::npos ? bar : bar - start));
      first = false;
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
  }
  flags += "]";
  return fmt::format("{{\"code\": {}, \"flags\": {}, \"text\": {}}}", bits, flags,
                     json_string(describe_status(bits)));
}

// ------------------------------------------------------------------------------------ input
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BadInput(path + ": cannot open the samples file");
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) throw BadInput(path + ": read error");
  return os.str();
}

// core's CSV errors name "file:line: value K ..."; add the 1-based column of field K on that
// line so that editors can jump to it: "file:line:column: value K ...".
std::string locate_csv_error(const std::string& message, const std::string& text, const std::string& name) {
  if (message.compare(0, name.size() + 1, name + ":") != 0) return message;
  const std::string rest = message.substr(name.size() + 1);
  static const std::regex re("^([0-9]+): value ([0-9]+) ");
  std::smatch m;
  if (!std::regex_search(rest, m, re)) return message;
  const long line_no = std::stol(m[1].str());
  const long field = std::stol(m[2].str());
  std::size_t pos = 0;
  for (long l = 1; l < line_no && pos != std::string::npos; ++l) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  if (pos == std::string::npos) return message;
  std::size_t end = text.find('\n', pos);
  if (end == std::string::npos) end = text.size();
  std::size_t p = pos;
  for (long f = 1; f < field; ++f) {
    const std::size_t comma = text.find(',', p);
    if (comma == std::string::npos || comma >= end) return message;
    p = comma + 1;
  }
  while (p < end && (text[p] == ' ' || text[p] == '\t')) ++p;
  const std::size_t column = p - pos + 1;
  return fmt::format("{}:{}:{}: {}", name, line_no, column, rest.substr(m[1].length() + 2));
}

struct EstimatorChoice {
  std::string name;  // llsfe or kde
  int degree = 2;
  std::string kernel;
};

EstimatorChoice parse_estimator(const std::string& text, const std::string& kernel) {
  EstimatorChoice e;
  if (text == "kde") {
    e.name = "kde";
    e.kernel = kernel.empty() ? "gaussian" : kernel;
    if (e.kernel != "gaussian")
      throw BadInput("--kernel: the KDE baseline only has the gaussian kernel, got '" + e.kernel + "'");
    return e;
  }
  if (text == "llsfe2" || text == "llsfe" || text == "llsfe3" || text == "llsfe4") {
    e.name = "llsfe";
    e.degree = text == "llsfe" ? 2 : text.back() - '0';
    e.kernel = kernel.empty() ? (e.degree == 2 ? "gaussian" : "epanechnikov") : kernel;
    try {
      parse_local_kernel(e.kernel);
    } catch (const std::invalid_argument& ex) {
      throw BadInput(std::string("--kernel: ") + ex.what());
    }
    return e;
  }
  throw BadInput("--estimator: unknown estimator '" + text + "' (known: llsfe2, llsfe3, llsfe4, kde)");
}

// ------------------------------------------------------------------------------------ run
int run_estimate(const EstimateArgs& args) {
  const bool from_file = !args.samples.empty();
  if (from_file == !args.dist.empty())
    throw BadInput("give exactly one of --samples FILE and --dist NAME");
  if (from_file && args.n != 0) throw BadInput("--n is only for generated samples (--dist)");
  if (!from_file && args.n < 1)
    throw BadInput("--dist needs --n N (the number of samples, at least 1)");
  if (args.at.empty()) throw BadInput("give at least one query point with --at x1,...,xd");
  const EstimatorChoice est = parse_estimator(args.estimator, args.kernel);

  // Bandwidth rule.
  BandwidthRule rule;
  if (args.bandwidth_given && !args.bandwidth_rule.empty() && args.bandwidth_rule != "constant")
    throw BadInput("--bandwidth H is a constant bandwidth; it cannot be combined with --bandwidth-rule " +
                   args.bandwidth_rule + " (use --c for its multiplier)");
  if (!args.bandwidth_rule.empty()) {
    try {
      rule.kind = parse_bandwidth_kind(args.bandwidth_rule);
    } catch (const std::invalid_argument& e) {
      throw BadInput(std::string("--bandwidth-rule: ") + e.what());
    }
  } else if (!args.bandwidth_given) {
    throw BadInput("give --bandwidth H or --bandwidth-rule theory|silverman");
  }
  if (rule.kind == BandwidthRule::Kind::constant) {
    if (!args.bandwidth_given) throw BadInput("--bandwidth-rule constant needs --bandwidth H");
    if (args.c_given) throw BadInput("--c is the multiplier of the theory and silverman rules, not of a constant h");
    if (!(args.bandwidth > 0.0) || !std::isfinite(args.bandwidth))
      throw BadInput(fmt::format("--bandwidth: h must be a positive finite number, got {}", args.bandwidth));
    rule.value = args.bandwidth;
  } else {
    if (!(args.c > 0.0) || !std::isfinite(args.c))
      throw BadInput(fmt::format("--c: must be a positive finite number, got {}", args.c));
    rule.value = args.c;
    rule.degree = est.degree;
  }

  // Samples.
  Eigen::MatrixXd X;
  std::unique_ptr<Distribution> dist;
  if (from_file) {
    const std::string text = read_file(args.samples);
    try {
      X = parse_samples_csv(text, args.samples, args.d);
    } catch (const CsvError& e) {
      throw BadInput(locate_csv_error(e.what(), text, args.samples));
    }
  } else {
    const int d = args.d == 0 ? 2 : args.d;
    if (d < 1 || d > 32) throw BadInput(fmt::format("--d: must be in 1..32, got {}", d));
    try {
      dist = make_distribution(preset_distribution(args.dist, d));
    } catch (const std::invalid_argument& e) {
      throw BadInput(std::string("--dist: ") + e.what());
    }
    X.resize(d, args.n);
    Stream stream(args.seed, 0, 0, substream_data);
    dist->sample(stream, X);
  }
  const int d = static_cast<int>(X.rows());

  std::vector<Eigen::VectorXd> points;
  for (const auto& text : args.at) {
    Eigen::VectorXd x;
    try {
      x = parse_point(text, "--at " + text);
    } catch (const CsvError& e) {
      throw BadInput(e.what());
    }
    if (x.size() != d)
      throw BadInput(fmt::format("--at {}: expected d = {} values{}, got {}", text, d,
                                 from_file ? " (the width of " + args.samples + ")" : std::string(),
                                 x.size()));
    points.push_back(x);
  }

  const double h = rule.bandwidth(X);
  if (!(h > 0.0) || !std::isfinite(h))
    throw BadInput(fmt::format("bandwidth rule {} gives h = {} for this sample (need h > 0)", rule.describe(), h));

  // The paper's closed form for degree 2 with the Gaussian kernel, the degree-p solver otherwise
  // (the same dispatch as the EstimatorRunner).
  const bool closed_form = est.name == "llsfe" && est.degree == 2 && est.kernel == "gaussian";
  LocalLikelihoodOptions ll_options;
  if (est.name == "llsfe" && !closed_form) {
    if (d > 3)
      throw BadInput(fmt::format("--estimator llsfe{} --kernel {}: the degree-p solver supports d <= 3, got d = {}",
                                 est.degree, est.kernel, d));
    ll_options.degree = est.degree;
    ll_options.kernel = parse_local_kernel(est.kernel);
  }

  for (const Eigen::VectorXd& x : points) {
    std::uint32_t st = status::ok;
    double ess = 0.0;
    LogDerivs D;
    Scores S;
    if (est.name == "kde") {
      KdeEstimate k = kde_scores(X, x, h);
      st = k.status;
      ess = k.ess;
      D = std::move(k.log_derivs);
      S = std::move(k.scores);
    } else {
      const Estimate e = closed_form ? llsfe2(X, x, h) : llsfe_local(X, x, h, ll_options);
      st = e.status;
      ess = e.ess;
      D = e.log_derivs;
      S = scores_from_log_derivs(D);
    }
    JsonWriter w;
    std::string out = "{";
    out += "\"at\": " + w.vector(x);
    out += ", \"estimator\": " + json_string(est.name == "kde" ? "kde" : fmt::format("llsfe{}", est.degree));
    out += ", \"kernel\": " + json_string(est.kernel);
    out += fmt::format(", \"n\": {}, \"d\": {}", X.cols(), d);
    out += ", \"bandwidth_rule\": " + json_string(rule.describe());
    out += ", \"h\": " + w.number(h);
    out += ", \"ess\": " + w.number(ess);
    std::string body;
    body += ", \"g\": " + w.vector(D.g);
    body += ", \"G2\": " + w.matrix(D.G2);
    if (!D.G3.empty()) body += ", \"G3\": " + w.tensor(D.G3);
    if (!D.G4.empty()) body += ", \"G4\": " + w.tensor(D.G4);
    body += ", \"S2\": " + w.matrix(S.S2);
    body += ", \"S4\": " + w.tensor(S.S4);
    const bool estimate_nonfinite = w.nonfinite;
    if (dist) {
      const LogDerivs T = dist->log_derivs(x);
      const Scores ST = scores_from_log_derivs(T);
      JsonWriter we;
      body += ", \"exact\": {\"g\": " + we.vector(T.g) + ", \"G2\": " + we.matrix(T.G2) +
              ", \"S2\": " + we.matrix(ST.S2) + ", \"S4\": " + we.tensor(ST.S4) + "}";
      double e2 = std::numeric_limits<double>::infinity(), e4 = e2;
      if (!(st & status::failure_mask) && !estimate_nonfinite) {
        e2 = spectral_norm_sym(S.S2 - ST.S2);
        double s = 0.0;
        for (std::size_t i = 0; i < S.S4.size(); ++i) {
          const double diff = S.S4.data[i] - ST.S4.data[i];
          s += diff * diff;
        }
        e4 = std::sqrt(s);
      }
      body += ", \"err_S2_sp\": " + we.number(e2) + ", \"err_S4_F\": " + we.number(e4);
      if (we.nonfinite && !(st & status::failure_mask)) st |= status::nonfinite;
    }
    if (estimate_nonfinite && !(st & (status::failed | status::nonfinite))) st |= status::nonfinite;
    out += ", \"status\": " + status_json(st);
    out += body + "}";
    std::puts(out.c_str());
  }
  std::fflush(stdout);
  return exit_ok;
}

CommandRegistration registration{
    "estimate", "One-off score estimate (LLSFE or KDE) at given points, from a CSV or a named distribution",
    [](CLI::App& sub) -> Runner {
      auto args = std::make_shared<EstimateArgs>();
      sub.add_option("--samples", args->samples, "CSV file: one point per row, no header");
      sub.add_option("--dist", args->dist,
                     "Generate the sample from a preset: gaussian, paper_mixture, laplace, student_t");
      sub.add_option("--n", args->n, "Number of generated samples (with --dist)");
      sub.add_option("--seed", args->seed, "Seed of the generated sample (with --dist)");
      sub.add_option("--d", args->d, "Dimension (default 2 for --dist; checked against the CSV)");
      sub.add_option("--at", args->at,
                     "Query point x1,...,xd (repeatable; write --at=-1,2 for a leading minus)")
          ->allow_extra_args(false);
      auto* hopt = sub.add_option("--bandwidth,-b", args->bandwidth, "Constant bandwidth h > 0");
      sub.add_option("--bandwidth-rule", args->bandwidth_rule, "constant (needs --bandwidth), theory or silverman");
      auto* copt = sub.add_option("--c", args->c, "Multiplier of the theory / silverman rule (default 1)");
      sub.add_option("--estimator,-e", args->estimator, "llsfe2 (default), llsfe3, llsfe4 or kde");
      sub.add_option("--kernel", args->kernel,
                     "Kernel: gaussian (llsfe2, kde default), epanechnikov (llsfe3/4 default), tricube");
      return [args, hopt, copt] {
        args->bandwidth_given = hopt->count() > 0;
        args->c_given = copt->count() > 0;
        return run_estimate(*args);
      };
    }};

}  // namespace
}  // namespace scorefarm::cli
