// The `estimator` study schema: YAML -> EstimatorStudy -> EstimatorRunner.
#include <algorithm>
#include <cmath>
#include <set>

#include <Eigen/Dense>

#include "axis_readers.hpp"
#include "kinds.hpp"
#include "scorefarm/core/estimator_study.hpp"

namespace scorefarm::study_detail {

namespace {

// ---------------------------------------------------------------- estimator, bandwidth, query

struct EstimatorEntry {
  Item item;
  EstimatorSpec spec;
  YAML::Node canonical;
};

EstimatorEntry read_estimator(const Item& item) {
  EstimatorEntry e;
  e.item = item;
  std::string name;
  Item body;
  bool has_body = false;
  if (item.present() && item.node.IsScalar()) {
    name = read_name(item);
  } else if (item.present() && item.node.IsMap()) {
    MapReader map(item, {"llsfe", "kde"});
    name = single_key(item, {});
    body = map.get(name);
    has_body = body.present();
  } else {
    item.fail("expected an estimator: llsfe, kde, or a mapping such as {llsfe: {degree: 2}}, "
              "found " + describe_node(item.node));
  }
  if (name != "llsfe" && name != "kde")
    item.fail("unknown estimator '" + name + "' (expected llsfe or kde)");
  e.spec.name = name;
  if (has_body) {
    MapReader p(body, name == "llsfe" ? std::vector<std::string>{"degree", "kernel"}
                                       : std::vector<std::string>{"kernel"});
    if (p.get("degree").node.IsDefined()) {
      e.spec.degree = static_cast<int>(read_int(p.get("degree"), 1, 8));
    }
    if (p.get("kernel").node.IsDefined()) e.spec.kernel = read_name(p.get("kernel"));
  }
  // What the core implements (degrees, kernels) is the core's to say: probe it with a one-cell
  // study and report its verdict at this entry.
  try {
    EstimatorStudy probe;
    probe.trials = 1;
    EstimatorCell cell;
    cell.distribution = preset_distribution("gaussian", 2);
    cell.n = 10;
    cell.estimator = e.spec;
    cell.query.point = {0.0};
    probe.cells.push_back(cell);
    EstimatorRunner runner(std::move(probe));
  } catch (const std::exception& ex) {
    std::string what = ex.what();
    std::size_t colon = what.find(": ");  // drop the core's "cells[0].estimator.x" prefix
    item.fail("not supported: " + (colon == std::string::npos ? what : what.substr(colon + 2)));
  }
  YAML::Node params(YAML::NodeType::Map);
  if (name == "llsfe") params["degree"] = int_node(e.spec.degree);
  params["kernel"] = scalar_node(e.spec.kernel);
  e.canonical = YAML::Node(YAML::NodeType::Map);
  e.canonical[name] = params;
  e.canonical.SetStyle(YAML::EmitterStyle::Flow);
  return e;
}

struct QueryEntry {
  Item item;
  bool sample = false;
  VectorParam point;
  YAML::Node canonical;

  QueryRule rule(int d) const {
    QueryRule q;
    q.kind = sample ? QueryRule::Kind::sample : QueryRule::Kind::fixed;
    if (!sample) {
      Eigen::VectorXd x = point.expand(d);
      q.point.assign(x.data(), x.data() + x.size());
    }
    return q;
  }
};

QueryEntry read_query(const Item& item) {
  QueryEntry e;
  e.item = item;
  if (item.present() && item.node.IsScalar()) {
    if (item.node.Scalar() != "sample")
      item.fail("expected a query rule: {point: [x1, ..., xd]}, {point: x} or {sample: true}, "
                "found " + describe_node(item.node));
    e.sample = true;
  } else if (item.present() && item.node.IsMap()) {
    MapReader map(item, {"point", "sample"});
    std::string key = single_key(item, {});
    if (key == "sample") {
      if (!read_bool(map.get("sample")))
        map.get("sample").fail("must be true; for a fixed query point write {point: [...]}");
      e.sample = true;
    } else {
      e.point = read_vector(map.require("point"), 0.0, config_limits::max_estimator_dim);
    }
  } else {
    item.fail("expected a query rule: {point: [x1, ..., xd]}, {point: x} or {sample: true}, "
              "found " + describe_node(item.node));
  }
  e.canonical = YAML::Node(YAML::NodeType::Map);
  if (e.sample)
    e.canonical["sample"] = YAML::Node("true");
  else
    e.canonical["point"] = e.point.canonical();
  e.canonical.SetStyle(YAML::EmitterStyle::Flow);
  return e;
}

// Fails on the second of two entries that mean the same thing.

}  // namespace

ParsedStudy parse_estimator_study(const Item& root) {
  MapReader top(root, {"kind", "description", "seed", "trials", "errors", "axes"});
  EstimatorStudy study;
  YAML::Node out(YAML::NodeType::Map);
  out["kind"] = "estimator";
  if (top.get("description").node.IsDefined())
    out["description"] = scalar_node(read_string(top.get("description")));
  study.seed = read_uint64(top.require("seed"));
  out["seed"] = uint_node(study.seed);
  Item trials_item = top.require("trials");
  study.trials = static_cast<std::uint64_t>(
      read_int(trials_item, 1, static_cast<std::int64_t>(config_limits::max_trials)));
  out["trials"] = uint_node(study.trials);

  // errors
  const std::vector<std::string> known_errors = estimator_error_names();
  if (top.get("errors").node.IsDefined()) {
    Item errors_item = top.get("errors");
    std::vector<Item> items = read_list(errors_item, true);
    study.errors.clear();
    for (const Item& e : items) {
      std::string name = read_name(e);
      if (std::find(known_errors.begin(), known_errors.end(), name) == known_errors.end())
        e.fail("unknown error '" + name + "' (expected one of " + join(known_errors) + ")");
      study.errors.push_back(name);
    }
    check_unique(items, study.errors, "error");
  }
  {
    std::vector<YAML::Node> names;
    for (const auto& e : study.errors) names.push_back(scalar_node(e));
    out["errors"] = flow_list(names);
  }

  // axes
  MapReader axes(top.require("axes"), {"distribution", "d", "n", "estimator", "bandwidth", "query"});
  YAML::Node out_axes(YAML::NodeType::Map);

  YAML::Node dist_out;
  std::vector<DistributionEntry> distributions = read_distribution_axis(
      axes.require("distribution"), config_limits::max_estimator_dim, dist_out);
  out_axes["distribution"] = dist_out;

  std::vector<std::int64_t> dims;
  bool has_d_axis = axes.get("d").node.IsDefined();
  if (has_d_axis) {
    std::vector<Item> items = read_list(axes.require("d"), true);
    std::vector<std::string> keys;
    for (const Item& item : items) {
      dims.push_back(read_int(item, 1, config_limits::max_estimator_dim));
      keys.push_back(std::to_string(dims.back()));
    }
    check_unique(items, keys, "value");
    std::vector<YAML::Node> nodes;
    for (auto d : dims) nodes.push_back(int_node(d));
    out_axes["d"] = flow_list(nodes);
  }

  std::vector<std::int64_t> ns;
  {
    std::vector<Item> items = read_list(axes.require("n"), true);
    std::vector<std::string> keys;
    for (const Item& item : items) {
      ns.push_back(read_int(item, 1, config_limits::max_n));
      keys.push_back(std::to_string(ns.back()));
    }
    check_unique(items, keys, "value");
    std::vector<YAML::Node> nodes;
    for (auto n : ns) nodes.push_back(int_node(n));
    out_axes["n"] = flow_list(nodes);
  }

  std::vector<EstimatorEntry> estimators;
  {
    YAML::Node list(YAML::NodeType::Sequence);
    if (axes.get("estimator").node.IsDefined()) {
      std::vector<Item> items = read_list(axes.require("estimator"), true);
      std::vector<std::string> keys;
      for (const Item& item : items) {
        estimators.push_back(read_estimator(item));
        keys.push_back(emit_flow(estimators.back().canonical));
      }
      check_unique(items, keys, "estimator");
    } else {
      EstimatorEntry e;
      e.item = axes.item();
      YAML::Node params(YAML::NodeType::Map);
      params["degree"] = int_node(e.spec.degree);
      params["kernel"] = scalar_node(e.spec.kernel);
      e.canonical = YAML::Node(YAML::NodeType::Map);
      e.canonical["llsfe"] = params;
      e.canonical.SetStyle(YAML::EmitterStyle::Flow);
      estimators.push_back(e);
    }
    for (const auto& e : estimators) list.push_back(e.canonical);
    out_axes["estimator"] = list;
  }

  std::vector<BandwidthEntry> bandwidths;
  {
    std::vector<Item> items = read_list(axes.require("bandwidth"), true);
    std::vector<std::string> keys;
    YAML::Node list(YAML::NodeType::Sequence);
    for (const Item& item : items) {
      bandwidths.push_back(read_bandwidth(item));
      keys.push_back(emit_flow(bandwidths.back().canonical));
      list.push_back(bandwidths.back().canonical);
    }
    check_unique(items, keys, "bandwidth");
    out_axes["bandwidth"] = list;
  }

  std::vector<QueryEntry> queries;
  {
    std::vector<Item> items = read_list(axes.require("query"), true);
    std::vector<std::string> keys;
    YAML::Node list(YAML::NodeType::Sequence);
    for (const Item& item : items) {
      queries.push_back(read_query(item));
      keys.push_back(emit_flow(queries.back().canonical));
      list.push_back(queries.back().canonical);
    }
    check_unique(items, keys, "query");
    out_axes["query"] = list;
  }
  out["axes"] = out_axes;

  // Dimensions per distribution: the d axis, or the distribution's own.
  const std::vector<std::vector<std::int64_t>> dims_of = dimensions_per_distribution(
      distributions, has_d_axis, dims, axes.item(), config_limits::max_estimator_dim);
  std::set<std::int64_t> all_dims;
  for (const auto& list : dims_of) all_dims.insert(list.begin(), list.end());
  for (const QueryEntry& q : queries)
    for (auto d : all_dims)
      if (!q.sample && q.point.is_list && q.point.dim() != d)
        q.point.item.fail("has " + std::to_string(q.point.dim()) + " coordinates but d = " +
                          std::to_string(d) +
                          " in some cells; a single number fills every coordinate");

  // Cell count, before building anything per cell.
  double cells = 0;
  for (const auto& list : dims_of) cells += static_cast<double>(list.size());
  cells *= static_cast<double>(ns.size()) * static_cast<double>(estimators.size()) *
           static_cast<double>(bandwidths.size()) * static_cast<double>(queries.size());
  if (cells > static_cast<double>(config_limits::max_cells))
    axes.item().fail("the axes make " + format_double(cells) + " cells; at most " +
                     std::to_string(config_limits::max_cells) + " are allowed");
  if (cells * static_cast<double>(study.trials) > 9.007199254740992e15)
    trials_item.fail("cells x trials exceeds 2^53 records");

  // Each (distribution, d) must build: the core validates what the schema cannot see.
  const std::vector<std::vector<DistributionSpec>> specs =
      build_distribution_specs(distributions, dims_of);

  // The theory rule's p is the llsfe estimator's degree in llsfe cells (the core uses it there);
  // a different explicit `degree` would be silently ignored, so refuse it.
  for (const auto& bw : bandwidths) {
    if (!bw.degree_given) continue;
    for (const auto& est : estimators)
      if (est.spec.name == "llsfe" && est.spec.degree != bw.rule.degree)
        bw.item.fail("degree " + std::to_string(bw.rule.degree) + " differs from the degree " +
                     std::to_string(est.spec.degree) + " of the llsfe estimator " + est.item.path +
                     "; llsfe cells use their estimator's degree in the theory rule, so drop "
                     "`degree` (it only sets p for kde cells, default 2)");
  }

  // Cells: nested loops in the documented axis order, the last axis fastest.
  for (std::size_t i = 0; i < distributions.size(); ++i)
    for (std::size_t k = 0; k < dims_of[i].size(); ++k)
      for (auto n : ns)
        for (const auto& est : estimators)
          for (const auto& bw : bandwidths)
            for (const auto& q : queries) {
              EstimatorCell cell;
              cell.distribution = specs[i][k];
              cell.n = n;
              cell.estimator = est.spec;
              cell.bandwidth = bw.rule;
              cell.query = q.rule(static_cast<int>(dims_of[i][k]));
              study.cells.push_back(std::move(cell));
            }

  ParsedStudy parsed;
  parsed.canonical = out;
  try {
    parsed.runner = std::make_unique<EstimatorRunner>(std::move(study));
  } catch (const std::exception& ex) {
    root.fail(std::string("the estimator study is invalid: ") + ex.what());
  }
  return parsed;
}

}  // namespace scorefarm::study_detail