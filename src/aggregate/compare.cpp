// compare_files(): bitwise comparison of two study files' records, cell by cell.
#include "scorefarm/aggregate/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <ostream>

#include "scorefarm/aggregate/h5file.hpp"

namespace scorefarm::aggregate {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_value = std::numeric_limits<double>::infinity();

struct StudyFile {
  std::string path;
  h5::Handle file;
  h5::Handle records;
  std::int64_t n_cells = 0, n_trials = 0;
  std::string hash;
  std::map<std::string, std::vector<hsize_t>> dims;
  std::map<std::string, H5T_class_t> classes;
};

StudyFile open_study(const std::string& path) {
  StudyFile f;
  f.path = path;
  f.file = h5::open_file_readonly(path);
  for (const char* attr : {"scorefarm_schema", "n_cells", "n_trials"})
    if (!h5::has_attribute(f.file, attr))
      throw InputError(path + ": missing root attribute '" + attr +
                       "' (not a scorefarm study file?)");
  f.n_cells = h5::read_int_attribute(f.file, "n_cells");
  f.n_trials = h5::read_int_attribute(f.file, "n_trials");
  if (h5::has_attribute(f.file, "config_hash"))
    f.hash = h5::read_string_attribute(f.file, "config_hash");
  if (!h5::exists(f.file, "records")) throw InputError(path + ": missing group /records");
  f.records = h5::open_group(f.file, "records");
  for (const auto& name : h5::child_names(f.records)) {
    h5::Handle ds = h5::open_dataset(f.records, name);
    f.dims[name] = h5::dataset_dims(ds);
    f.classes[name] = h5::dataset_class(ds);
  }
  for (const char* required : {"done", "status"})
    if (!f.dims.count(required))
      throw InputError(path + ": missing dataset /records/" + required);
  const std::vector<hsize_t> want{static_cast<hsize_t>(f.n_cells), static_cast<hsize_t>(f.n_trials)};
  for (const auto& [name, d] : f.dims)
    if (d.size() < 2 || d[0] != want[0] || d[1] != want[1])
      throw InputError(fmt::format("{}: /records/{} does not have shape (n_cells, n_trials, ...)",
                                   path, name));
  return f;
}

// The /cells table as text, for equality only.
std::map<std::string, std::vector<std::string>> cell_table_text(const StudyFile& f) {
  std::map<std::string, std::vector<std::string>> table;
  if (!h5::exists(f.file, "cells")) return table;
  h5::Handle cells = h5::open_group(f.file, "cells");
  for (const auto& name : h5::child_names(cells)) {
    h5::Handle ds = h5::open_dataset(cells, name);
    if (h5::dataset_class(ds) == H5T_STRING) {
      table[name] = h5::read_strings(ds);
    } else {
      for (double v : h5::read_doubles(ds)) table[name].push_back(fmt::format("{}", v));
    }
  }
  return table;
}

void note_field(FieldDifference& d, double a, double b, bool both_done) {
  ++d.values;
  if (!both_done) return;
  double abs_diff, rel_diff;
  if (std::isfinite(a) && std::isfinite(b)) {
    abs_diff = std::fabs(a - b);
    const double scale = std::max(std::fabs(a), std::fabs(b));
    rel_diff = scale > 0.0 ? abs_diff / scale : 0.0;
  } else {
    abs_diff = inf_value;  // one side not finite, or two different non-finite values
    rel_diff = inf_value;
  }
  if (std::isnan(d.max_abs) || abs_diff > d.max_abs) d.max_abs = abs_diff;
  if (std::isnan(d.max_rel) || rel_diff > d.max_rel) d.max_rel = rel_diff;
}

void merge(std::vector<FieldDifference>& totals, const FieldDifference& d) {
  auto it = std::find_if(totals.begin(), totals.end(),
                         [&](const FieldDifference& t) { return t.field == d.field; });
  if (it == totals.end()) {
    totals.push_back(d);
    return;
  }
  it->values += d.values;
  if (std::isnan(it->max_abs) || d.max_abs > it->max_abs) it->max_abs = d.max_abs;
  if (std::isnan(it->max_rel) || d.max_rel > it->max_rel) it->max_rel = d.max_rel;
}

}  // namespace

Comparison compare_files(const std::string& path_a, const std::string& path_b) {
  Comparison cmp;
  cmp.path_a = path_a;
  cmp.path_b = path_b;
  StudyFile a = open_study(path_a);
  StudyFile b = open_study(path_b);
  cmp.hash_a = a.hash;
  cmp.hash_b = b.hash;
  cmp.n_cells = a.n_cells;
  cmp.n_trials = a.n_trials;

  // ---- Layout.
  if (a.n_cells != b.n_cells || a.n_trials != b.n_trials) {
    cmp.layout_notes.push_back(fmt::format("shape differs: a has {} cells x {} trials, b has {} x {}",
                                           a.n_cells, a.n_trials, b.n_cells, b.n_trials));
    return cmp;
  }
  for (const auto& [name, d] : a.dims) {
    if (!b.dims.count(name)) {
      cmp.layout_notes.push_back("/records/" + name + " only in a");
    } else if (b.dims[name] != d || b.classes[name] != a.classes[name]) {
      cmp.layout_notes.push_back("/records/" + name + " has a different shape or type in b");
    } else {
      cmp.datasets.push_back(name);
    }
  }
  for (const auto& [name, d] : b.dims)
    if (!a.dims.count(name)) cmp.layout_notes.push_back("/records/" + name + " only in b");
  if (cell_table_text(a) != cell_table_text(b))
    cmp.layout_notes.push_back("the /cells tables differ (different studies?)");

  // ---- Records, cell by cell.
  const auto nt = static_cast<hsize_t>(a.n_trials);
  h5::Handle done_a = h5::open_dataset(a.records, "done");
  h5::Handle done_b = h5::open_dataset(b.records, "done");
  h5::Handle status_a = h5::open_dataset(a.records, "status");
  h5::Handle status_b = h5::open_dataset(b.records, "status");
  std::vector<std::uint8_t> da(nt), db(nt);
  std::vector<std::uint32_t> sa(nt), sb(nt);
  std::vector<double> va, vb;
  std::vector<std::uint8_t> trial_differs(nt);
  for (std::int64_t c = 0; c < a.n_cells && nt > 0; ++c) {
    const auto hc = static_cast<hsize_t>(c);
    h5::read_block(done_a, {hc, 0}, {1, nt}, H5T_NATIVE_UINT8, da.data());
    h5::read_block(done_b, {hc, 0}, {1, nt}, H5T_NATIVE_UINT8, db.data());
    h5::read_block(status_a, {hc, 0}, {1, nt}, H5T_NATIVE_UINT32, sa.data());
    h5::read_block(status_b, {hc, 0}, {1, nt}, H5T_NATIVE_UINT32, sb.data());
    CellDifference cd;
    cd.cell = static_cast<std::size_t>(c);
    std::fill(trial_differs.begin(), trial_differs.end(), 0);
    for (hsize_t t = 0; t < nt; ++t) {
      cmp.done_a += da[t] == 1;
      cmp.done_b += db[t] == 1;
      if (da[t] != db[t]) {
        trial_differs[t] = 1;
        if (da[t] == 1) ++cd.done_only_a;
        if (db[t] == 1) ++cd.done_only_b;
      }
      if (sa[t] != sb[t]) {
        trial_differs[t] = 1;
        ++cd.status_differs;
      }
    }
    for (const auto& name : cmp.datasets) {
      if (name == "done" || name == "status") continue;
      const auto& dims = a.dims[name];
      const hsize_t len = dims.size() == 3 ? dims[2] : 1;
      std::vector<hsize_t> start{hc, 0}, count{1, nt};
      if (dims.size() == 3) {
        start.push_back(0);
        count.push_back(len);
      }
      va.resize(nt * len);
      vb.resize(nt * len);
      h5::Handle dsa = h5::open_dataset(a.records, name);
      h5::Handle dsb = h5::open_dataset(b.records, name);
      // Other integer datasets are compared through their double value (exact up to 2^53).
      h5::read_block(dsa, start, count, H5T_NATIVE_DOUBLE, va.data());
      h5::read_block(dsb, start, count, H5T_NATIVE_DOUBLE, vb.data());
      FieldDifference fd;
      fd.field = name;
      fd.max_abs = nan_value;
      fd.max_rel = nan_value;
      for (hsize_t i = 0; i < nt * len; ++i) {
        if (std::memcmp(&va[i], &vb[i], sizeof(double)) == 0) continue;
        const hsize_t t = i / len;
        trial_differs[t] = 1;
        note_field(fd, va[i], vb[i], da[t] == 1 && db[t] == 1);
      }
      if (fd.values > 0) cd.fields.push_back(fd);
    }
    for (auto d : trial_differs) cd.trials += d;
    if (cd.trials > 0) {
      cmp.trials_differing += cd.trials;
      for (const auto& fd : cd.fields) merge(cmp.totals, fd);
      cmp.cells.push_back(std::move(cd));
    }
  }
  return cmp;
}

namespace {
std::string fmt_diff(double v) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return "inf";
  return fmt::format("{:.3g}", v);
}
}  // namespace

void print_comparison(std::ostream& out, const Comparison& c, std::size_t max_cells) {
  out << fmt::format("a: {}\nb: {}\n", c.path_a, c.path_b);
  out << fmt::format("config hash: {} ({} vs {})\n", c.same_config() ? "equal" : "DIFFERENT",
                     c.hash_a.empty() ? "none" : c.hash_a, c.hash_b.empty() ? "none" : c.hash_b);
  for (const auto& note : c.layout_notes) out << "layout: " << note << "\n";
  if (c.layout_notes.empty() || !c.datasets.empty())
    out << fmt::format("records: {} cells x {} trials, {} datasets compared; done: a {}, b {}\n",
                       c.n_cells, c.n_trials, c.datasets.size(), c.done_a, c.done_b);
  if (c.identical()) {
    out << "IDENTICAL: every /records dataset (done and status included) is bitwise equal\n";
    return;
  }
  if (!c.cells.empty()) {
    out << fmt::format("DIFFERENT: {} trials in {} cells differ\n", c.trials_differing,
                       c.cells.size());
    out << fmt::format("  {:>6}  {:>7}  {:>11}  {:>11}  {:>9}  {}\n", "cell", "trials",
                       "done only a", "done only b", "status", "fields (values, max abs, max rel)");
    std::size_t shown = 0;
    for (const auto& cd : c.cells) {
      if (shown++ == max_cells) {
        out << fmt::format("  ... {} more cells\n", c.cells.size() - max_cells);
        break;
      }
      std::string fields;
      for (const auto& fd : cd.fields)
        fields += fmt::format("{}{} ({}, {}, {})", fields.empty() ? "" : "; ", fd.field, fd.values,
                              fmt_diff(fd.max_abs), fmt_diff(fd.max_rel));
      out << fmt::format("  {:>6}  {:>7}  {:>11}  {:>11}  {:>9}  {}\n", cd.cell, cd.trials,
                         cd.done_only_a, cd.done_only_b, cd.status_differs, fields);
    }
    if (!c.totals.empty()) {
      out << "  per dataset over all cells (max over trials done in both files):\n";
      for (const auto& fd : c.totals)
        out << fmt::format("    {:<14} {:>9} values  max abs {:>9}  max rel {:>9}\n", fd.field,
                           fd.values, fmt_diff(fd.max_abs), fmt_diff(fd.max_rel));
    }
  } else {
    out << "DIFFERENT: layouts differ (see above)\n";
  }
}

}  // namespace scorefarm::aggregate
