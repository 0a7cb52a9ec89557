// The `estimator` study schema: YAML -> EstimatorStudy -> EstimatorRunner.
#include <algorithm>
#include <cmath>
#include <set>

#include <Eigen/Dense>

#include "kinds.hpp"
#include "scorefarm/core/estimator_study.hpp"

namespace scorefarm::study_detail {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// ---------------------------------------------------------------- vector and matrix parameters

// mean / location / query point: one number repeated d times, or exactly d numbers.
struct VectorParam {
  Item item;
  bool is_list = false;
  double value = 0.0;
  std::vector<double> values;

  int dim() const { return is_list ? static_cast<int>(values.size()) : 0; }
  Eigen::VectorXd expand(int d) const {
    if (!is_list) return Eigen::VectorXd::Constant(d, value);
    return Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
  }
  YAML::Node canonical() const { return is_list ? double_list(values) : double_node(value); }
};

VectorParam read_vector(const Item& item, double default_value) {
  VectorParam p;
  p.item = item;
  p.value = default_value;
  if (!item.node.IsDefined()) return p;
  if (item.present() && item.node.IsSequence()) {
    p.is_list = true;
    p.values = read_number_list(item);
    if (p.values.size() > static_cast<std::size_t>(config_limits::max_estimator_dim))
      item.fail("has " + std::to_string(p.values.size()) + " entries; d is at most " +
                std::to_string(config_limits::max_estimator_dim));
  } else {
    p.value = read_double(item);
  }
  return p;
}

// cov / scatter: c (meaning c·I), [c1, ..., cd] (diagonal) or [[...], ...] (full, symmetric,
// positive definite).
struct MatrixParam {
  enum class Form { scalar, diagonal, full };
  Item item;
  Form form = Form::scalar;
  double value = 1.0;
  std::vector<double> diagonal;
  std::vector<std::vector<double>> rows;

  int dim() const {
    if (form == Form::diagonal) return static_cast<int>(diagonal.size());
    if (form == Form::full) return static_cast<int>(rows.size());
    return 0;
  }
  Eigen::MatrixXd expand(int d) const {
    if (form == Form::scalar) return value * Eigen::MatrixXd::Identity(d, d);
    Eigen::MatrixXd m = Eigen::MatrixXd::Zero(d, d);
    for (int i = 0; i < d; ++i) {
      if (form == Form::diagonal) {
        m(i, i) = diagonal[static_cast<std::size_t>(i)];
      } else {
        for (int j = 0; j < d; ++j) m(i, j) = rows[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
      }
    }
    return m;
  }
  YAML::Node canonical() const {
    if (form == Form::scalar) return double_node(value);
    if (form == Form::diagonal) return double_list(diagonal);
    YAML::Node node(YAML::NodeType::Sequence);
    for (const auto& row : rows) node.push_back(double_list(row));
    node.SetStyle(YAML::EmitterStyle::Flow);
    return node;
  }
};

MatrixParam read_matrix(const Item& item, double default_value) {
  MatrixParam p;
  p.item = item;
  p.value = default_value;
  if (!item.node.IsDefined()) return p;
  if (!item.present() || !item.node.IsSequence()) {
    p.value = read_positive(item);
    return p;
  }
  std::vector<Item> entries = read_list(item, false);
  if (entries.size() > static_cast<std::size_t>(config_limits::max_estimator_dim))
    item.fail("has " + std::to_string(entries.size()) + " rows; d is at most " +
              std::to_string(config_limits::max_estimator_dim));
  bool full = entries.front().present() && entries.front().node.IsSequence();
  if (!full) {
    p.form = MatrixParam::Form::diagonal;
    for (const Item& e : entries) {
      if (e.present() && e.node.IsSequence())
        e.fail("mixes numbers and rows; write a diagonal [c1, c2] or a full matrix [[..], [..]]");
      p.diagonal.push_back(read_positive(e));
    }
    return p;
  }
  p.form = MatrixParam::Form::full;
  for (const Item& row : entries) {
    if (!row.present() || !row.node.IsSequence())
      row.fail("expected a row (a list of numbers), found " + describe_node(row.node));
    std::vector<double> values = read_number_list(row);
    if (values.size() != entries.size())
      row.fail("has " + std::to_string(values.size()) + " entries but the matrix has " +
               std::to_string(entries.size()) + " rows; it must be square");
    p.rows.push_back(std::move(values));
  }
  const std::size_t d = p.rows.size();
  Eigen::MatrixXd m = p.expand(static_cast<int>(d));
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < i; ++j) {
      double a = p.rows[i][j], b = p.rows[j][i];
      if (std::fabs(a - b) > 1e-12 * std::max({1.0, std::fabs(a), std::fabs(b)}))
        item.fail("not symmetric: entry [" + std::to_string(i) + "][" + std::to_string(j) +
                  "] = " + format_double(a) + " but [" + std::to_string(j) + "][" +
                  std::to_string(i) + "] = " + format_double(b));
    }
  Eigen::LLT<Eigen::MatrixXd> llt(m);
  if (llt.info() != Eigen::Success) item.fail("not positive definite");
  return p;
}

// Records the dimension a parameter fixes; all parameters of one distribution must agree.
void unify_dim(int& dim, const Item*& dim_source, int new_dim, const Item& item) {
  if (new_dim == 0) return;
  if (dim != 0 && dim != new_dim)
    item.fail("has dimension " + std::to_string(new_dim) + " but " + dim_source->path +
              " has dimension " + std::to_string(dim));
  if (dim == 0) {
    dim = new_dim;
    dim_source = &item;
  }
}

// ---------------------------------------------------------------- distributions

struct Component {
  double weight = 1.0;
  VectorParam mean;
  MatrixParam cov;
};

struct DistributionEntry {
  enum class Kind { preset, gaussian, mixture, laplace, student_t };
  Item item;
  Kind kind = Kind::preset;
  std::string preset;
  std::string label;
  int fixed_dim = 0;  // 0: takes d from axes.d
  std::vector<Component> components;
  double scale = 1.0;
  double nu = 5.0;
  VectorParam location;
  MatrixParam scatter;
  YAML::Node canonical;

  DistributionSpec spec(int d) const {
    DistributionSpec s;
    s.d = d;
    switch (kind) {
      case Kind::preset:
        s = preset_distribution(preset, d);
        break;
      case Kind::gaussian:
      case Kind::mixture: {
        s.kind = kind == Kind::gaussian ? DistributionSpec::Kind::gaussian
                                        : DistributionSpec::Kind::mixture;
        double total = 0;
        for (const auto& c : components) total += c.weight;
        for (const auto& c : components)
          s.components.push_back({c.weight / total, c.mean.expand(d), c.cov.expand(d)});
        break;
      }
      case Kind::laplace:
        s.kind = DistributionSpec::Kind::laplace;
        s.laplace_scale = scale;
        break;
      case Kind::student_t:
        s.kind = DistributionSpec::Kind::student_t;
        s.nu = nu;
        s.location = location.expand(d);
        s.scatter = scatter.expand(d);
        break;
    }
    s.name = label;
    s.d = d;
    return s;
  }
};

const std::vector<std::string> distribution_kinds{"preset", "gaussian", "mixture", "laplace",
                                                  "student_t"};

std::string preset_help() {
  return "presets: " + join(preset_distribution_names()) +
         "; or a mapping {gaussian|mixture|laplace|student_t: {...}}";
}

void check_preset(const Item& item, const std::string& name) {
  auto names = preset_distribution_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    item.fail("unknown distribution '" + name + "' (" + preset_help() + ")");
}

Component read_component(const Item& item, bool mean_required, int& dim, const Item*& dim_source) {
  Component c;
  MapReader map(item, {"weight", "mean", "cov"});
  if (map.get("weight").node.IsDefined()) c.weight = read_positive(map.get("weight"));
  c.mean = read_vector(mean_required ? map.require("mean") : map.get("mean"), 0.0);
  c.cov = read_matrix(map.get("cov"), 1.0);
  unify_dim(dim, dim_source, c.mean.dim(), c.mean.item);
  unify_dim(dim, dim_source, c.cov.dim(), c.cov.item);
  return c;
}

YAML::Node component_node(const Component& c, bool with_weight) {
  YAML::Node node(YAML::NodeType::Map);
  if (with_weight) node["weight"] = double_node(c.weight);
  node["mean"] = c.mean.canonical();
  node["cov"] = c.cov.canonical();
  return node;
}

DistributionEntry read_distribution(const Item& item) {
  DistributionEntry e;
  e.item = item;
  if (item.present() && item.node.IsScalar()) {
    e.preset = read_name(item);
    check_preset(item, e.preset);
    e.label = e.preset;
    e.canonical = scalar_node(e.preset);
    return e;
  }
  if (!item.present() || !item.node.IsMap())
    item.fail("expected a distribution: a preset name or a mapping (" + preset_help() +
              "), found " + describe_node(item.node));
  MapReader map(item, {"preset", "gaussian", "mixture", "laplace", "student_t", "label"});
  std::string kind = single_key(item, {"label"});
  Item body = map.require(kind);
  const Item* dim_source = nullptr;
  YAML::Node params(YAML::NodeType::Map);
  if (kind == "preset") {
    e.kind = DistributionEntry::Kind::preset;
    e.preset = read_name(body);
    check_preset(body, e.preset);
  } else if (kind == "gaussian") {
    e.kind = DistributionEntry::Kind::gaussian;
    e.components.push_back(read_component(body, false, e.fixed_dim, dim_source));
    params.reset(component_node(e.components.front(), false));
  } else if (kind == "mixture") {
    e.kind = DistributionEntry::Kind::mixture;
    YAML::Node list(YAML::NodeType::Sequence);
    for (const Item& c : read_list(body, false)) {
      e.components.push_back(read_component(c, true, e.fixed_dim, dim_source));
      list.push_back(component_node(e.components.back(), true));
    }
    params.reset(list);
  } else if (kind == "laplace") {
    e.kind = DistributionEntry::Kind::laplace;
    MapReader p(body, {"scale"});
    if (p.get("scale").node.IsDefined()) e.scale = read_positive(p.get("scale"));
    params["scale"] = double_node(e.scale);
  } else {  // student_t
    e.kind = DistributionEntry::Kind::student_t;
    MapReader p(body, {"nu", "location", "scatter"});
    if (p.get("nu").node.IsDefined()) {
      e.nu = read_double(p.get("nu"));
      if (!(e.nu > 4.0))
        p.get("nu").fail("must be > 4 (S4 needs finite fourth moments), found " +
                         p.get("nu").node.Scalar());
    }
    e.location = read_vector(p.get("location"), 0.0);
    e.scatter = read_matrix(p.get("scatter"), 1.0);
    unify_dim(e.fixed_dim, dim_source, e.location.dim(), e.location.item);
    unify_dim(e.fixed_dim, dim_source, e.scatter.dim(), e.scatter.item);
    params["nu"] = double_node(e.nu);
    params["location"] = e.location.canonical();
    params["scatter"] = e.scatter.canonical();
  }
  e.label = map.has("label") ? read_name(map.get("label"))
                             : (kind == "preset" ? e.preset : kind);
  if (kind == "preset" && e.label == e.preset) {
    e.canonical = scalar_node(e.preset);
  } else {
    e.canonical = YAML::Node(YAML::NodeType::Map);
    e.canonical[kind] = kind == "preset" ? scalar_node(e.preset) : params;
    e.canonical["label"] = scalar_node(e.label);
  }
  return e;
}

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
      e.spec.degree = static_cast<int>(read_int(p.get("degree"), 0, 100));
      if (e.spec.degree != 2)
        p.get("degree").fail("only degree 2 is implemented (the paper's estimator, §2.4)");
    }
    if (p.get("kernel").node.IsDefined()) {
      e.spec.kernel = read_name(p.get("kernel"));
      if (e.spec.kernel != "gaussian")
        p.get("kernel").fail("unknown kernel '" + e.spec.kernel + "' (only gaussian)");
    }
  }
  YAML::Node params(YAML::NodeType::Map);
  if (name == "llsfe") params["degree"] = int_node(e.spec.degree);
  params["kernel"] = scalar_node(e.spec.kernel);
  e.canonical = YAML::Node(YAML::NodeType::Map);
  e.canonical[name] = params;
  e.canonical.SetStyle(YAML::EmitterStyle::Flow);
  return e;
}

struct BandwidthEntry {
  Item item;
  BandwidthRule rule;
  YAML::Node canonical;
};

BandwidthEntry read_bandwidth(const Item& item) {
  BandwidthEntry e;
  e.item = item;
  std::string rule = "constant";
  if (item.present() && item.node.IsScalar()) {
    e.rule.kind = BandwidthRule::Kind::constant;
    e.rule.value = read_positive(item);
  } else if (item.present() && item.node.IsMap()) {
    MapReader map(item, {"rule", "value", "degree"});
    Item rule_item = map.require("rule");
    rule = read_name(rule_item);
    if (rule == "constant") {
      e.rule.kind = BandwidthRule::Kind::constant;
      Item value = map.require("value");
      e.rule.value = read_double(value);
      if (!(e.rule.value > 0)) value.fail("the bandwidth h must be > 0, found " + value.node.Scalar());
    } else if (rule == "theory" || rule == "silverman") {
      e.rule.kind = rule == "theory" ? BandwidthRule::Kind::theory : BandwidthRule::Kind::silverman;
      e.rule.value = 1.0;
      if (map.get("value").node.IsDefined()) {
        Item value = map.get("value");
        e.rule.value = read_double(value);
        if (!(e.rule.value > 0))
          value.fail("the multiplier c must be > 0, found " + value.node.Scalar());
      }
    } else {
      rule_item.fail("unknown bandwidth rule '" + rule + "' (expected constant, theory or silverman)");
    }
    if (map.get("degree").node.IsDefined()) {
      if (rule != "theory") map.get("degree").fail("applies to the theory rule only");
      e.rule.degree = static_cast<int>(read_int(map.get("degree"), 1, 8));
    }
  } else {
    item.fail("expected a bandwidth: a number h or a mapping {rule: constant|theory|silverman, "
              "value: ...}, found " + describe_node(item.node));
  }
  e.canonical = YAML::Node(YAML::NodeType::Map);
  e.canonical["rule"] = scalar_node(rule);
  e.canonical["value"] = double_node(e.rule.value);
  if (rule == "theory") e.canonical["degree"] = int_node(e.rule.degree);
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
      e.point = read_vector(map.require("point"), 0.0);
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
void check_unique(const std::vector<Item>& items, const std::vector<std::string>& keys,
                  const std::string& what) {
  for (std::size_t i = 0; i < keys.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (keys[i] == keys[j])
        items[i].fail("duplicate " + what + " (same as " + items[j].path + ")");
}

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

  std::vector<DistributionEntry> distributions;
  std::vector<Item> dist_items = read_list(axes.require("distribution"), true);
  std::vector<std::string> labels;
  YAML::Node dist_out(YAML::NodeType::Sequence);
  for (const Item& item : dist_items) {
    distributions.push_back(read_distribution(item));
    labels.push_back(distributions.back().label);
    dist_out.push_back(distributions.back().canonical);
  }
  for (std::size_t i = 0; i < labels.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (labels[i] == labels[j])
        dist_items[i].fail("same label '" + labels[i] + "' as " + dist_items[j].path +
                           "; add `label: <name>` to tell them apart in the results");
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
  std::vector<std::vector<std::int64_t>> dims_of(distributions.size());
  std::set<std::int64_t> all_dims;
  for (std::size_t i = 0; i < distributions.size(); ++i) {
    const DistributionEntry& dist = distributions[i];
    if (!has_d_axis) {
      if (dist.fixed_dim == 0)
        root.ctx->fail(axes.item().mark(), "axes.d",
                       "missing required key 'd': distribution '" + dist.label + "' (" +
                           dist.item.path + ") does not fix a dimension");
      if (dist.fixed_dim > config_limits::max_estimator_dim)
        dist.item.fail("dimension " + std::to_string(dist.fixed_dim) + " exceeds the maximum " +
                       std::to_string(config_limits::max_estimator_dim));
      dims_of[i] = {dist.fixed_dim};
    } else {
      for (auto d : dims)
        if (dist.fixed_dim != 0 && dist.fixed_dim != d)
          dist.item.fail("has dimension " + std::to_string(dist.fixed_dim) +
                         " (set by its parameters) but axes.d includes " + std::to_string(d) +
                         "; remove axes.d to use each distribution's own dimension");
      dims_of[i] = dims;
    }
    all_dims.insert(dims_of[i].begin(), dims_of[i].end());
  }
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
  std::vector<std::vector<DistributionSpec>> specs(distributions.size());
  for (std::size_t i = 0; i < distributions.size(); ++i)
    for (auto d : dims_of[i]) {
      try {
        DistributionSpec spec = distributions[i].spec(static_cast<int>(d));
        make_distribution(spec);
        specs[i].push_back(std::move(spec));
      } catch (const std::exception& ex) {
        distributions[i].item.fail("invalid distribution for d = " + std::to_string(d) + ": " +
                                   ex.what());
      }
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
