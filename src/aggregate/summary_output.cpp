// The summary written out: HDF5 /summary group, CSV, JSON and the printed table.
#include <cmath>
#include <ctime>
#include <fmt/format.h>
#include <ostream>

#include "scorefarm/aggregate/h5file.hpp"
#include "scorefarm/aggregate/summary.hpp"
#include "scorefarm/core/status.hpp"
#include "scorefarm/io/journal.hpp"
#include "scorefarm/version.hpp"

namespace scorefarm::aggregate {

namespace {

constexpr const char* percentile_method =
    "numpy 'linear' (Hyndman-Fan type 7): v = (N-1) p/100, interpolate between order statistics "
    "floor(v) and floor(v)+1; failed trials and non-finite values count as +inf; an interpolation "
    "touching +inf with nonzero weight gives +inf";

std::string now_iso_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string level_name(std::size_t q) { return fmt::format("p{}", percentile_levels[q]); }

std::vector<std::string> status_bit_names() {
  std::vector<std::string> names;
  for (int b = 0; b < 32; ++b) names.push_back(describe_status(1u << b));
  return names;
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// HDF5
void write_summary(const std::string& path, const Summary& s) {
  // HDF5 1.10 updates metadata in place, in several writes: a process killed in the middle of
  // replacing /summary could leave a study file that no longer opens, records included. So the
  // update goes through io's journaling driver: all or nothing, even under kill -9.
  io::JournaledFile journaled(path);
  const hid_t file = journaled.id();
  const char* tmp = "summary_new";
  // The old summary goes first, so that HDF5 reuses its space in this session (freed space is not
  // tracked across sessions in this file format): rerunning does not grow the file. The new one is
  // built as /summary_new and renamed at the end; the journal commits the whole change at once.
  if (h5::exists(file, tmp)) h5::check(H5Ldelete(file, tmp, H5P_DEFAULT), "deleting /summary_new");
  if (h5::exists(file, "summary"))
    h5::check(H5Ldelete(file, "summary", H5P_DEFAULT), "deleting the old /summary");
  {
    h5::Handle g = h5::create_group(file, tmp);
    const auto nc = static_cast<hsize_t>(s.n_cells);
    h5::write_attribute(g, "percentile_levels",
                        std::vector<double>(percentile_levels.begin(), percentile_levels.end()));
    h5::write_attribute(g, "percentile_method", std::string(percentile_method));
    h5::write_attribute(g, "failure_mask", static_cast<std::int64_t>(status::failure_mask));
    h5::write_attribute(g, "bootstrap_replicates",
                        static_cast<std::int64_t>(s.bootstrap_replicates));
    h5::write_attribute(g, "bootstrap_seed", s.bootstrap_seed);
    h5::write_attribute(g, "records_done", s.done_total);
    h5::write_attribute(g, "records_total", s.n_cells * s.n_trials);
    h5::write_attribute(g, "complete", static_cast<std::int64_t>(s.complete() ? 1 : 0));
    h5::write_attribute(g, "iteration_mismatches", s.iteration_mismatches);
    h5::write_attribute(g, "source_config_hash", s.config_hash);
    h5::write_attribute(g, "aggregated", now_iso_utc());
    h5::write_attribute(g, "aggregator_version", std::string(scorefarm::version));
    h5::write_attribute(g, "aggregator_commit", std::string(scorefarm::git_commit));

    // /summary/cells
    {
      h5::Handle cg = h5::create_group(g, "cells");
      std::vector<std::int64_t> done, failed, flagged, curve, bits;
      std::vector<double> completion;
      for (const auto& c : s.cells) {
        done.push_back(c.done);
        failed.push_back(c.failed);
        flagged.push_back(c.flagged);
        curve.push_back(c.curve);
        completion.push_back(c.completion);
        bits.insert(bits.end(), c.status_bits.begin(), c.status_bits.end());
      }
      h5::write_int64s(cg, "done", {nc}, done.data());
      h5::write_doubles(cg, "completion", {nc}, completion.data());
      h5::write_int64s(cg, "failed", {nc}, failed.data());
      h5::write_int64s(cg, "flagged", {nc}, flagged.data());
      h5::write_int64s(cg, "curve", {nc}, curve.data());
      h5::write_int64s(cg, "status_bits", {nc, 32}, bits.data());
      h5::Handle bits_ds = h5::open_dataset(cg, "status_bits");
      h5::write_attribute(bits_ds, "bit_names", status_bit_names());
    }
    // /summary/fields/<field>
    {
      h5::Handle fg = h5::create_group(g, "fields");
      for (const auto& f : s.scalars) {
        h5::Handle one = h5::create_group(fg, f.name);
        h5::write_attribute(one, "failed_as_inf", static_cast<std::int64_t>(f.failed_as_inf));
        std::vector<double> pct, mean;
        std::vector<std::int64_t> count, infinite, finite;
        for (const auto& c : f.cells) {
          pct.insert(pct.end(), c.percentiles.begin(), c.percentiles.end());
          mean.push_back(c.mean);
          count.push_back(c.count);
          infinite.push_back(c.infinite);
          finite.push_back(c.finite);
        }
        h5::write_doubles(one, "percentiles", {nc, n_levels}, pct.data());
        h5::write_doubles(one, "mean", {nc}, mean.data());
        h5::write_int64s(one, "count", {nc}, count.data());
        h5::write_int64s(one, "infinite", {nc}, infinite.data());
        h5::write_int64s(one, "finite", {nc}, finite.data());
      }
    }
    // /summary/curves and /summary/slopes/<field>
    if (!s.curves.empty()) {
      const auto ncu = static_cast<hsize_t>(s.curves.size());
      h5::Handle cg = h5::create_group(g, "curves");
      std::vector<std::string> labels;
      std::vector<std::int64_t> points, first_cell;
      for (const auto& c : s.curves) {
        labels.push_back(c.label);
        points.push_back(c.points);
        first_cell.push_back(static_cast<std::int64_t>(c.cells.front()));
      }
      h5::write_strings(cg, "label", labels);
      h5::write_int64s(cg, "points", {ncu}, points.data());
      // The axis values of each curve (every /cells axis except n), taken from its first cell.
      h5::Handle ag = h5::create_group(cg, "axes");
      for (const auto& a : s.axes) {
        if (a.name == "n") continue;
        if (a.is_text) {
          std::vector<std::string> v;
          for (auto c : first_cell) v.push_back(a.texts[static_cast<std::size_t>(c)]);
          h5::write_strings(ag, a.name, v);
        } else {
          std::vector<double> v;
          for (auto c : first_cell) v.push_back(a.numbers[static_cast<std::size_t>(c)]);
          h5::write_doubles(ag, a.name, {ncu}, v.data());
        }
      }
      h5::Handle sg = h5::create_group(g, "slopes");
      const std::size_t n_fields = s.curves.front().slopes.size();
      for (std::size_t k = 0; k < n_fields; ++k) {
        h5::Handle one = h5::create_group(sg, s.curves.front().slopes[k].field);
        std::vector<double> slope, intercept, se;
        std::vector<std::int64_t> finite;
        for (const auto& c : s.curves) {
          const auto& cs = c.slopes[k];
          slope.insert(slope.end(), cs.slope.begin(), cs.slope.end());
          intercept.insert(intercept.end(), cs.intercept.begin(), cs.intercept.end());
          se.insert(se.end(), cs.se.begin(), cs.se.end());
          finite.insert(finite.end(), cs.bootstrap_finite.begin(), cs.bootstrap_finite.end());
        }
        h5::write_doubles(one, "slope", {ncu, n_levels}, slope.data());
        h5::write_doubles(one, "intercept", {ncu, n_levels}, intercept.data());
        h5::write_doubles(one, "se", {ncu, n_levels}, se.data());
        h5::write_int64s(one, "bootstrap_finite", {ncu, n_levels}, finite.data());
      }
    }
    // /summary/series/<field>
    if (!s.series.empty()) {
      h5::Handle sg = h5::create_group(g, "series");
      for (const auto& f : s.series) {
        h5::Handle one = h5::create_group(sg, f.name);
        const auto L = static_cast<hsize_t>(f.length);
        std::vector<double> iteration, pct;
        std::vector<std::int64_t> infinite;
        for (std::size_t c = 0; c < s.cells.size(); ++c) {
          iteration.insert(iteration.end(), f.iteration[c].begin(), f.iteration[c].end());
          for (const auto& p : f.percentiles[c]) pct.insert(pct.end(), p.begin(), p.end());
          infinite.insert(infinite.end(), f.infinite[c].begin(), f.infinite[c].end());
        }
        h5::write_doubles(one, "iteration", {nc, L}, iteration.data());
        h5::write_doubles(one, "percentiles", {nc, L, n_levels}, pct.data());
        h5::write_int64s(one, "infinite", {nc, L}, infinite.data());
      }
    }
  }
  h5::check(H5Lmove(file, tmp, file, "summary", H5P_DEFAULT, H5P_DEFAULT),
            "renaming /summary_new to /summary");
  journaled.commit();
}

// ----------------------------------------------------------------------------------------------
// CSV: one rectangular table. kind = cell (p* are percentiles), slope / slope_se (p* are the slope
// of that percentile against n and its bootstrap standard error), series (p* at one iteration).
namespace {

std::string csv_quote(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

}  // namespace

void write_csv(std::ostream& out, const Summary& s) {
  std::string header = "kind,cell,curve";
  for (const auto& a : s.axes) header += "," + csv_quote(a.name);
  header += ",field,iteration,done,trials,completion,failed,flagged,infinite,mean";
  for (std::size_t q = 0; q < n_levels; ++q) header += "," + level_name(q);
  header += ",points\n";
  out << header;
  auto axes_of = [&](std::size_t cell, bool skip_n) {
    std::string r;
    for (const auto& a : s.axes) r += "," + ((skip_n && a.name == "n") ? "" : csv_quote(a.text(cell)));
    return r;
  };
  for (const auto& f : s.scalars) {
    for (std::size_t c = 0; c < s.cells.size(); ++c) {
      const auto& cell = s.cells[c];
      const auto& st = f.cells[c];
      std::string line = fmt::format("cell,{},{}", c, cell.curve >= 0 ? std::to_string(cell.curve) : "");
      line += axes_of(c, false);
      line += fmt::format(",{},,{},{},{},{},{},{},{}", csv_quote(f.name), cell.done, s.n_trials,
                          num(cell.completion), cell.failed, cell.flagged, st.infinite, num(st.mean));
      for (double p : st.percentiles) line += "," + num(p);
      out << line << ",\n";
    }
  }
  for (std::size_t k = 0; k < s.curves.size(); ++k) {
    const auto& curve = s.curves[k];
    std::int64_t done = 0, failed = 0, flagged = 0;
    for (auto c : curve.cells) {
      done += s.cells[c].done;
      failed += s.cells[c].failed;
      flagged += s.cells[c].flagged;
    }
    const std::int64_t trials = s.n_trials * static_cast<std::int64_t>(curve.cells.size());
    for (const auto& cs : curve.slopes) {
      for (int which = 0; which < 2; ++which) {
        std::string line = fmt::format("{},,{}", which == 0 ? "slope" : "slope_se", k);
        line += axes_of(curve.cells.front(), true);
        line += fmt::format(",{},,{},{},{},{},{},,", csv_quote(cs.field), done, trials,
                            num(trials > 0 ? static_cast<double>(done) / static_cast<double>(trials) : 1.0),
                            failed, flagged);
        const auto& v = which == 0 ? cs.slope : cs.se;
        for (double p : v) line += "," + num(p);
        out << line << "," << curve.points << "\n";
      }
    }
  }
  for (const auto& f : s.series) {
    for (std::size_t c = 0; c < s.cells.size(); ++c) {
      const auto& cell = s.cells[c];
      for (std::size_t i = 0; i < f.length; ++i) {
        std::string line = fmt::format("series,{},", c);
        line += axes_of(c, false);
        line += fmt::format(",{},{},{},{},{},{},{},{},", csv_quote(f.name), num(f.iteration[c][i]),
                            cell.done, s.n_trials, num(cell.completion), cell.failed, cell.flagged,
                            f.infinite[c][i]);
        for (double p : f.percentiles[c][i]) line += "," + num(p);
        out << line << ",\n";
      }
    }
  }
}

// ----------------------------------------------------------------------------------------------
// JSON. +inf is written as the string "inf" (JSON has no infinity); NaN (undefined) as null.
namespace {

std::string jstr(const std::string& v) {
  std::string out = "\"";
  for (unsigned char ch : v) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < 0x20) out += fmt::format("\\u{:04x}", ch);
        else out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

std::string jnum(double v) {
  if (std::isnan(v)) return "null";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  return fmt::format("{}", v);
}

template <class Array>
std::string jarr(const Array& a) {
  std::string out = "[";
  bool first = true;
  for (double v : a) {
    if (!first) out += ",";
    first = false;
    out += jnum(v);
  }
  return out + "]";
}

std::string jaxes(const Summary& s, std::size_t cell, bool skip_n) {
  std::string out = "{";
  bool first = true;
  for (const auto& a : s.axes) {
    if (skip_n && a.name == "n") continue;
    if (!first) out += ",";
    first = false;
    out += jstr(a.name) + ":" + (a.is_text ? jstr(a.texts[cell]) : jnum(a.numbers[cell]));
  }
  return out + "}";
}

}  // namespace

void write_json(std::ostream& out, const Summary& s) {
  out << "{\n";
  out << "  \"file\": " << jstr(s.path) << ",\n";
  out << "  \"kind\": " << jstr(s.kind) << ",\n";
  out << "  \"config_hash\": " << jstr(s.config_hash) << ",\n";
  out << "  \"n_cells\": " << s.n_cells << ",\n  \"n_trials\": " << s.n_trials << ",\n";
  out << "  \"records_done\": " << s.done_total << ",\n";
  out << "  \"complete\": " << (s.complete() ? "true" : "false") << ",\n";
  out << "  \"percentile_levels\": " << jarr(percentile_levels) << ",\n";
  out << "  \"percentile_method\": " << jstr(percentile_method) << ",\n";
  out << "  \"failure_mask\": " << status::failure_mask << ",\n";
  out << "  \"bootstrap\": {\"replicates\": " << s.bootstrap_replicates
      << ", \"seed\": " << s.bootstrap_seed << "},\n";
  out << "  \"cells\": [";
  for (std::size_t c = 0; c < s.cells.size(); ++c) {
    const auto& cell = s.cells[c];
    out << (c ? ",\n" : "\n") << "    {\"cell\": " << c << ", \"axes\": " << jaxes(s, c, false)
        << ", \"curve\": " << (cell.curve >= 0 ? std::to_string(cell.curve) : "null")
        << ", \"done\": " << cell.done << ", \"completion\": " << jnum(cell.completion)
        << ", \"failed\": " << cell.failed << ", \"flagged\": " << cell.flagged
        << ", \"status_bits\": {";
    bool first = true;
    for (int b = 0; b < 32; ++b) {
      if (cell.status_bits[static_cast<std::size_t>(b)] == 0) continue;
      out << (first ? "" : ", ") << jstr(describe_status(1u << b)) << ": "
          << cell.status_bits[static_cast<std::size_t>(b)];
      first = false;
    }
    out << "}, \"fields\": {";
    for (std::size_t k = 0; k < s.scalars.size(); ++k) {
      const auto& st = s.scalars[k].cells[c];
      out << (k ? ", " : "") << jstr(s.scalars[k].name) << ": {\"mean\": " << jnum(st.mean)
          << ", \"infinite\": " << st.infinite << ", \"finite\": " << st.finite
          << ", \"percentiles\": " << jarr(st.percentiles) << "}";
    }
    out << "}}";
  }
  out << "\n  ],\n  \"curves\": [";
  for (std::size_t k = 0; k < s.curves.size(); ++k) {
    const auto& curve = s.curves[k];
    out << (k ? ",\n" : "\n") << "    {\"curve\": " << k << ", \"label\": " << jstr(curve.label)
        << ", \"axes\": " << jaxes(s, curve.cells.front(), true) << ", \"cells\": [";
    for (std::size_t i = 0; i < curve.cells.size(); ++i)
      out << (i ? "," : "") << curve.cells[i];
    out << "], \"points\": " << curve.points << ", \"slopes\": {";
    for (std::size_t i = 0; i < curve.slopes.size(); ++i) {
      const auto& cs = curve.slopes[i];
      out << (i ? ", " : "") << jstr(cs.field) << ": {\"slope\": " << jarr(cs.slope)
          << ", \"se\": " << jarr(cs.se) << ", \"intercept\": " << jarr(cs.intercept)
          << ", \"bootstrap_finite\": [";
      for (std::size_t q = 0; q < n_levels; ++q) out << (q ? "," : "") << cs.bootstrap_finite[q];
      out << "]}";
    }
    out << "}}";
  }
  out << "\n  ],\n  \"series\": [";
  bool first_series = true;
  for (const auto& f : s.series) {
    for (std::size_t c = 0; c < s.cells.size(); ++c) {
      out << (first_series ? "\n" : ",\n") << "    {\"field\": " << jstr(f.name)
          << ", \"cell\": " << c << ", \"iteration\": " << jarr(f.iteration[c])
          << ", \"percentiles\": [";
      first_series = false;
      for (std::size_t i = 0; i < f.length; ++i)
        out << (i ? "," : "") << jarr(f.percentiles[c][i]);
      out << "], \"infinite\": [";
      for (std::size_t i = 0; i < f.length; ++i) out << (i ? "," : "") << f.infinite[c][i];
      out << "]}";
    }
  }
  out << "\n  ]\n}\n";
}

// ----------------------------------------------------------------------------------------------
// Printed table.
namespace {

std::string cellnum(double v) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return "inf";
  return fmt::format("{:.4g}", v);
}

}  // namespace

void print_table(std::ostream& out, const Summary& s) {
  const std::int64_t total = s.n_cells * s.n_trials;
  out << fmt::format("{}: {} study, {} cells x {} trials, {} of {} records done ({:.1f}%){}\n",
                     s.path, s.kind, s.n_cells, s.n_trials, s.done_total, total,
                     total > 0 ? 100.0 * static_cast<double>(s.done_total) / static_cast<double>(total) : 100.0,
                     s.complete() ? "" : "  [PARTIAL]");
  out << "percentiles: numpy 'linear'; failed trials (status & failure_mask) count as +inf; "
         "mean over finite values of trials that did not fail\n";
  if (s.iteration_mismatches > 0)
    out << fmt::format("warning: {} done trials log other iterations than their cell's first\n",
                       s.iteration_mismatches);

  // Cell labels: every axis that varies.
  std::vector<const CellAxis*> shown;
  for (const auto& a : s.axes) {
    bool varies = false;
    for (std::size_t c = 1; c < s.cells.size(); ++c)
      if (a.text(c) != a.text(0)) varies = true;
    if (varies || a.name == "n") shown.push_back(&a);
  }
  auto cell_label = [&](std::size_t c) {
    std::string label;
    for (const auto* a : shown) label += (label.empty() ? "" : " ") + a->name + "=" + a->text(c);
    return label.empty() ? fmt::format("cell {}", c) : label;
  };
  std::size_t label_width = 4;
  for (std::size_t c = 0; c < s.cells.size(); ++c)
    label_width = std::max(label_width, cell_label(c).size());

  out << "\ncompletion and status per cell\n";
  out << fmt::format("  {:>4}  {:<{}}  {:>13}  {:>6}  {:>8}  {:>8}\n", "cell", "axes", label_width,
                     "done/trials", "done%", "failed", "flagged");
  for (std::size_t c = 0; c < s.cells.size(); ++c) {
    const auto& cell = s.cells[c];
    out << fmt::format("  {:>4}  {:<{}}  {:>13}  {:>6.1f}  {:>8}  {:>8}\n", c, cell_label(c),
                       label_width, fmt::format("{}/{}", cell.done, s.n_trials),
                       100.0 * cell.completion, cell.failed, cell.flagged);
  }
  // Error fields first, covariates after.
  std::vector<const ScalarField*> ordered;
  for (const auto& f : s.scalars)
    if (f.failed_as_inf) ordered.push_back(&f);
  for (const auto& f : s.scalars)
    if (!f.failed_as_inf) ordered.push_back(&f);
  for (const auto* fp : ordered) {
    const auto& f = *fp;
    out << fmt::format("\n{}{}\n", f.name, f.failed_as_inf ? "" : "  (covariate: failed trials keep their value)");
    out << fmt::format("  {:>4}  {:<{}}  {:>6}", "cell", "axes", label_width, "inf");
    for (std::size_t q = 0; q < n_levels; ++q) out << fmt::format("  {:>10}", level_name(q));
    out << fmt::format("  {:>10}\n", "mean");
    for (std::size_t c = 0; c < s.cells.size(); ++c) {
      const auto& st = f.cells[c];
      out << fmt::format("  {:>4}  {:<{}}  {:>6}", c, cell_label(c), label_width, st.infinite);
      for (double p : st.percentiles) out << fmt::format("  {:>10}", cellnum(p));
      out << fmt::format("  {:>10}\n", cellnum(st.mean));
    }
  }
  if (!s.curves.empty() && !s.curves.front().slopes.empty()) {
    out << fmt::format(
        "\nlog-log slopes vs n (least squares; +- bootstrap standard error, B = {}, seed {})\n",
        s.bootstrap_replicates, s.bootstrap_seed);
    for (std::size_t k = 0; k < s.curves.size(); ++k) {
      const auto& curve = s.curves[k];
      out << fmt::format("  curve {}: {} ({} points)\n", k, curve.label, curve.points);
      for (const auto& cs : curve.slopes) {
        out << fmt::format("    {:<10}", cs.field);
        for (std::size_t q = 0; q < n_levels; ++q)
          out << fmt::format("  {}={:>8} +- {:<7}", level_name(q),
                             std::isnan(cs.slope[q]) ? "-" : fmt::format("{:.4f}", cs.slope[q]),
                             cellnum(cs.se[q]));
        out << "\n";
      }
    }
  }
  for (const auto& f : s.series) {
    out << fmt::format("\n{} at the last logged iteration, across trials\n", f.name);
    out << fmt::format("  {:>4}  {:<{}}  {:>10}", "cell", "axes", label_width, "iteration");
    for (std::size_t q = 0; q < n_levels; ++q) out << fmt::format("  {:>10}", level_name(q));
    out << "\n";
    for (std::size_t c = 0; c < s.cells.size(); ++c) {
      if (f.length == 0) continue;
      out << fmt::format("  {:>4}  {:<{}}  {:>10}", c, cell_label(c), label_width,
                         cellnum(f.iteration[c].back()));
      for (double p : f.percentiles[c].back()) out << fmt::format("  {:>10}", cellnum(p));
      out << "\n";
    }
  }
}

}  // namespace scorefarm::aggregate
