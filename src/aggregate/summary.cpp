// aggregate_file(): stream a study file cell by cell and compute its summary (see summary.hpp).
#include "scorefarm/aggregate/summary.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "scorefarm/aggregate/h5file.hpp"
#include "scorefarm/core/status.hpp"

namespace scorefarm::aggregate {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_value = std::numeric_limits<double>::infinity();

// Descriptive fields: a failed trial keeps their stored value instead of +inf.
bool is_covariate(const std::string& name) {
  static const std::set<std::string> covariates{"h",          "ess",           "iteration",
                                                "iterations", "iterations_done", "sign"};
  return covariates.count(name) > 0;
}

bool is_error_field(const std::string& name) { return name.rfind("err_", 0) == 0; }

struct FieldInfo {
  std::string name;
  h5::Handle dataset;
  std::size_t length = 1;  // 1 for (n_cells, n_trials), L for (n_cells, n_trials, L)
  bool series = false;
};

std::vector<CellAxis> read_cell_table(hid_t file, const std::string& path, std::int64_t n_cells) {
  std::vector<CellAxis> axes;
  if (!h5::exists(file, "cells")) throw InputError(path + ": missing group /cells");
  h5::Handle cells = h5::open_group(file, "cells");
  std::vector<std::string> names;
  if (h5::has_attribute(cells, "axes")) {
    names = h5::read_string_list_attribute(cells, "axes");
  } else {
    names = h5::child_names(cells);
  }
  for (const auto& name : names) {
    if (!h5::exists(cells, name))
      throw InputError(path + ": /cells attribute 'axes' names '" + name +
                       "' but /cells/" + name + " does not exist");
    h5::Handle ds = h5::open_dataset(cells, name);
    auto dims = h5::dataset_dims(ds);
    if (dims.size() != 1 || static_cast<std::int64_t>(dims[0]) != n_cells)
      throw InputError(fmt::format("{}: /cells/{} must be 1-D of length n_cells = {}", path, name,
                                   n_cells));
    CellAxis axis;
    axis.name = name;
    const H5T_class_t cls = h5::dataset_class(ds);
    if (cls == H5T_STRING) {
      axis.is_text = true;
      axis.texts = h5::read_strings(ds);
    } else if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
      axis.numbers = h5::read_doubles(ds);
    } else {
      throw InputError(path + ": /cells/" + name + " is neither numeric nor text");
    }
    axes.push_back(std::move(axis));
  }
  return axes;
}

// Groups cells into curves by every axis except n. Fills summary.curves (cells sorted by n) and
// cells[].curve.
void build_curves(Summary& s) {
  const CellAxis* n_axis = nullptr;
  for (const auto& a : s.axes)
    if (a.name == "n" && !a.is_text) n_axis = &a;
  if (!n_axis) return;
  std::map<std::vector<std::string>, std::size_t> index;
  std::vector<std::vector<std::string>> keys;
  for (std::size_t c = 0; c < static_cast<std::size_t>(s.n_cells); ++c) {
    std::vector<std::string> key;
    for (const auto& a : s.axes) {
      if (&a == n_axis) continue;
      // Exact identity of the value: numbers by their bit pattern (printed shortest round-trip).
      key.push_back(a.name + "=" + a.text(c));
    }
    auto [it, inserted] = index.emplace(key, s.curves.size());
    if (inserted) {
      s.curves.emplace_back();
      keys.push_back(key);
    }
    s.curves[it->second].cells.push_back(c);
    s.cells[c].curve = static_cast<std::int64_t>(it->second);
  }
  // Label: only the axes that differ between curves.
  const std::size_t n_keys = keys.empty() ? 0 : keys[0].size();
  std::vector<bool> varies(n_keys, false);
  for (std::size_t k = 0; k < n_keys; ++k)
    for (const auto& key : keys)
      if (key[k] != keys[0][k]) varies[k] = true;
  for (std::size_t i = 0; i < s.curves.size(); ++i) {
    std::string label;
    for (std::size_t k = 0; k < n_keys; ++k) {
      if (!varies[k]) continue;
      if (!label.empty()) label += ", ";
      label += keys[i][k];
    }
    s.curves[i].label = label.empty() ? "all cells" : label;
    auto& cells = s.curves[i].cells;
    std::stable_sort(cells.begin(), cells.end(), [&](std::size_t a, std::size_t b) {
      return n_axis->numbers[a] < n_axis->numbers[b];
    });
  }
}

const std::vector<double>* n_values(const Summary& s) {
  for (const auto& a : s.axes)
    if (a.name == "n" && !a.is_text) return &a.numbers;
  return nullptr;
}

}  // namespace

std::string CellAxis::text(std::size_t cell) const {
  return is_text ? texts.at(cell) : fmt::format("{}", numbers.at(cell));
}

Summary aggregate_file(const std::string& path, const AggregateOptions& options) {
  Summary s;
  s.path = path;
  h5::Handle file = h5::open_file_readonly(path);

  // ---- Root attributes and layout checks.
  auto need = [&](const char* attr) {
    if (!h5::has_attribute(file, attr))
      throw InputError(path + ": missing root attribute '" + std::string(attr) +
                       "' (not a scorefarm study file?)");
  };
  need("scorefarm_schema");
  if (const auto schema = h5::read_int_attribute(file, "scorefarm_schema"); schema != 1)
    throw InputError(fmt::format("{}: scorefarm_schema is {}, this aggregator reads schema 1", path,
                                 schema));
  need("kind");
  need("n_cells");
  need("n_trials");
  s.kind = h5::read_string_attribute(file, "kind");
  s.n_cells = h5::read_int_attribute(file, "n_cells");
  s.n_trials = h5::read_int_attribute(file, "n_trials");
  if (s.n_cells < 0 || s.n_trials < 0)
    throw InputError(path + ": negative n_cells or n_trials attribute");
  if (h5::has_attribute(file, "seed")) s.seed = h5::read_uint_attribute(file, "seed");
  if (h5::has_attribute(file, "config_hash"))
    s.config_hash = h5::read_string_attribute(file, "config_hash");
  if (h5::has_attribute(file, "scorefarm_version"))
    s.source_version = h5::read_string_attribute(file, "scorefarm_version");
  if (h5::has_attribute(file, "git_commit"))
    s.source_commit = h5::read_string_attribute(file, "git_commit");
  s.bootstrap_seed = options.bootstrap_seed.value_or(s.seed);
  s.bootstrap_replicates = options.bootstrap_replicates;

  s.axes = read_cell_table(file, path, s.n_cells);
  s.cells.assign(static_cast<std::size_t>(s.n_cells), CellSummary{});
  build_curves(s);

  if (!h5::exists(file, "records")) throw InputError(path + ": missing group /records");
  h5::Handle records = h5::open_group(file, "records");
  const auto nc = static_cast<hsize_t>(s.n_cells);
  const auto nt = static_cast<hsize_t>(s.n_trials);
  auto open_checked = [&](const std::string& name, bool allow_series) {
    if (!h5::exists(records, name)) throw InputError(path + ": missing dataset /records/" + name);
    h5::Handle ds = h5::open_dataset(records, name);
    auto dims = h5::dataset_dims(ds);
    const bool ok2 = dims.size() == 2 && dims[0] == nc && dims[1] == nt;
    const bool ok3 = allow_series && dims.size() == 3 && dims[0] == nc && dims[1] == nt;
    if (!ok2 && !ok3)
      throw InputError(fmt::format("{}: /records/{} has the wrong shape (expected ({}, {}{}))",
                                   path, name, nc, nt, allow_series ? "[, length]" : ""));
    return std::make_pair(std::move(ds), dims.size() == 3 ? dims[2] : hsize_t{1});
  };
  h5::Handle done_ds = open_checked("done", false).first;
  h5::Handle status_ds = open_checked("status", false).first;

  std::vector<FieldInfo> fields;
  for (const auto& name : h5::child_names(records)) {
    if (name == "done" || name == "status") continue;
    auto [ds, length] = open_checked(name, true);
    if (h5::dataset_class(ds) != H5T_FLOAT)
      throw InputError(path + ": /records/" + name + " is not floating point");
    FieldInfo f;
    f.name = name;
    f.series = h5::dataset_dims(ds).size() == 3;
    f.length = static_cast<std::size_t>(length);
    f.dataset = std::move(ds);
    fields.push_back(std::move(f));
  }

  // ---- Per-field accumulators.
  const FieldInfo* iteration_field = nullptr;
  for (const auto& f : fields)
    if (f.name == "iteration" && f.series) iteration_field = &f;
  const bool have_curves = !s.curves.empty();
  for (const auto& f : fields) {
    if (f.series) {
      if (&f == iteration_field) continue;
      SeriesField sf;
      sf.name = f.name;
      sf.length = f.length;
      sf.iteration.resize(s.cells.size());
      sf.percentiles.resize(s.cells.size());
      sf.infinite.resize(s.cells.size());
      s.series.push_back(std::move(sf));
    } else {
      ScalarField sf;
      sf.name = f.name;
      sf.failed_as_inf = !is_covariate(f.name);
      sf.has_slopes = have_curves && is_error_field(f.name);
      sf.cells.resize(s.cells.size());
      s.scalars.push_back(std::move(sf));
    }
  }
  // Bootstrap percentiles: boot[slope field][cell][replicate].
  std::vector<std::vector<std::vector<Percentiles>>> boot;
  std::vector<std::size_t> slope_fields;  // indices into s.scalars
  for (std::size_t i = 0; i < s.scalars.size(); ++i)
    if (s.scalars[i].has_slopes) slope_fields.push_back(i);
  boot.assign(slope_fields.size(), std::vector<std::vector<Percentiles>>(s.cells.size()));

  // ---- Stream cell by cell.
  std::vector<std::uint8_t> done(nt);
  std::vector<std::uint32_t> status(nt);
  std::vector<double> row;
  std::vector<std::uint32_t> counts;
  for (std::size_t c = 0; c < s.cells.size(); ++c) {
    const hsize_t hc = c;
    if (nt > 0) {
      h5::read_block(done_ds, {hc, 0}, {1, nt}, H5T_NATIVE_UINT8, done.data());
      h5::read_block(status_ds, {hc, 0}, {1, nt}, H5T_NATIVE_UINT32, status.data());
    }
    std::vector<std::size_t> trials;  // done trials of this cell, ascending
    auto& cell = s.cells[c];
    for (std::size_t t = 0; t < nt; ++t) {
      if (done[t] != 1) continue;
      trials.push_back(t);
      const std::uint32_t st = status[t];
      if (st & status::failure_mask) ++cell.failed;
      if (st != 0) ++cell.flagged;
      for (int b = 0; b < 32; ++b)
        if (st & (1u << b)) ++cell.status_bits[static_cast<std::size_t>(b)];
    }
    cell.done = static_cast<std::int64_t>(trials.size());
    s.done_total += cell.done;
    cell.completion = nt > 0 ? static_cast<double>(cell.done) / static_cast<double>(nt) : 1.0;
    const std::size_t n_done = trials.size();

    // Series: iteration values first.
    std::vector<double> iterations;
    if (iteration_field && n_done > 0) {
      const hsize_t L = iteration_field->length;
      row.resize(nt * L);
      h5::read_block(iteration_field->dataset, {hc, 0, 0}, {1, nt, L}, H5T_NATIVE_DOUBLE,
                     row.data());
      iterations.assign(row.begin() + static_cast<std::ptrdiff_t>(trials[0] * L),
                        row.begin() + static_cast<std::ptrdiff_t>((trials[0] + 1) * L));
      for (std::size_t t : trials)
        if (!std::equal(iterations.begin(), iterations.end(),
                        row.begin() + static_cast<std::ptrdiff_t>(t * L)))
          ++s.iteration_mismatches;
    }

    // Sorted samples of the slope fields, kept for the bootstrap of this cell.
    std::vector<std::vector<double>> sorted_of(slope_fields.size());
    std::vector<std::vector<std::uint32_t>> order_of(slope_fields.size());

    std::size_t scalar_i = 0, series_i = 0;
    for (const auto& f : fields) {
      if (f.series) {
        if (&f == iteration_field) continue;
        auto& sf = s.series[series_i++];
        const std::size_t L = f.length;
        sf.iteration[c].assign(L, nan_value);
        sf.percentiles[c].assign(L, Percentiles{});
        sf.infinite[c].assign(L, 0);
        for (auto& p : sf.percentiles[c]) p.fill(nan_value);
        if (n_done == 0) continue;
        for (std::size_t i = 0; i < L; ++i)
          sf.iteration[c][i] = iterations.size() == L ? iterations[i] : static_cast<double>(i);
        row.resize(nt * L);
        h5::read_block(f.dataset, {hc, 0, 0}, {1, nt, static_cast<hsize_t>(L)}, H5T_NATIVE_DOUBLE,
                       row.data());
        std::vector<double> column(n_done);
        for (std::size_t i = 0; i < L; ++i) {
          std::int64_t inf_count = 0;
          for (std::size_t k = 0; k < n_done; ++k) {
            double v = row[trials[k] * L + i];
            if (!std::isfinite(v)) {
              v = inf_value;
              ++inf_count;
            }
            column[k] = v;
          }
          std::sort(column.begin(), column.end());
          sf.percentiles[c][i] = percentiles_sorted(column);
          sf.infinite[c][i] = inf_count;
        }
        continue;
      }
      auto& sf = s.scalars[scalar_i];
      auto& st = sf.cells[c];
      row.resize(nt);
      if (nt > 0)
        h5::read_block(f.dataset, {hc, 0}, {1, nt}, H5T_NATIVE_DOUBLE, row.data());
      std::vector<double> values(n_done);
      double sum = 0.0;
      for (std::size_t k = 0; k < n_done; ++k) {
        const std::size_t t = trials[k];
        double v = row[t];
        const bool failed = (status[t] & status::failure_mask) != 0;
        if (!std::isfinite(v) || (failed && sf.failed_as_inf)) {
          v = inf_value;
          ++st.infinite;
        } else if (!failed) {
          sum += v;
          ++st.finite;
        }
        values[k] = v;
      }
      st.count = static_cast<std::int64_t>(n_done);
      st.mean = st.finite > 0 ? sum / static_cast<double>(st.finite) : nan_value;
      std::vector<std::uint32_t> order(n_done);
      std::iota(order.begin(), order.end(), 0u);
      std::stable_sort(order.begin(), order.end(),
                       [&](std::uint32_t a, std::uint32_t b) { return values[a] < values[b]; });
      std::vector<double> sorted(n_done);
      for (std::size_t k = 0; k < n_done; ++k) sorted[k] = values[order[k]];
      st.percentiles = percentiles_sorted(sorted);
      if (sf.has_slopes) {
        const auto pos = static_cast<std::size_t>(
            std::find(slope_fields.begin(), slope_fields.end(), scalar_i) - slope_fields.begin());
        sorted_of[pos] = std::move(sorted);
        order_of[pos] = std::move(order);
      }
      ++scalar_i;
    }

    // Bootstrap of this cell: only when its curve can have a slope.
    const bool bootstrap = !slope_fields.empty() && cell.curve >= 0 && n_done > 0 &&
                           s.curves[static_cast<std::size_t>(cell.curve)].cells.size() >= 2;
    if (bootstrap) {
      for (auto& b : boot) b[c].resize(s.bootstrap_replicates);
      counts.assign(n_done, 0);
      for (std::size_t r = 0; r < s.bootstrap_replicates; ++r) {
        bootstrap_counts(s.bootstrap_seed, c, r, counts);
        for (std::size_t k = 0; k < slope_fields.size(); ++k)
          boot[k][c][r] = resampled_percentiles(sorted_of[k], order_of[k], counts);
      }
    }
  }

  // ---- Slopes per curve.
  const auto* n_of = n_values(s);
  for (auto& curve : s.curves) {
    std::vector<std::size_t> used;
    for (std::size_t c : curve.cells)
      if (s.cells[c].done > 0) used.push_back(c);
    curve.points = static_cast<std::int64_t>(used.size());
    std::vector<double> x;
    for (std::size_t c : used) x.push_back(std::log((*n_of)[c]));
    for (std::size_t k = 0; k < slope_fields.size(); ++k) {
      const auto& sf = s.scalars[slope_fields[k]];
      CurveSlopes cs;
      cs.field = sf.name;
      for (std::size_t q = 0; q < n_levels; ++q) {
        std::vector<double> y;
        for (std::size_t c : used) y.push_back(std::log(sf.cells[c].percentiles[q]));
        const LineFit fit = least_squares(x, y);
        cs.slope[q] = fit.slope;
        cs.intercept[q] = fit.intercept;
        std::vector<double> replicate_slopes;
        std::int64_t finite = 0;
        if (std::isfinite(fit.slope)) {
          for (std::size_t r = 0; r < s.bootstrap_replicates; ++r) {
            std::vector<double> yr;
            for (std::size_t c : used) yr.push_back(std::log(boot[k][c][r][q]));
            const double b = least_squares(x, yr).slope;
            if (std::isfinite(b)) ++finite;
            replicate_slopes.push_back(b);
          }
        }
        cs.se[q] = std::isfinite(fit.slope) ? standard_deviation(replicate_slopes) : nan_value;
        cs.bootstrap_finite[q] = finite;
      }
      curve.slopes.push_back(cs);
    }
  }
  return s;
}

}  // namespace scorefarm::aggregate
