// Shared config readers: distributions and bandwidth rules (see axis_readers.hpp).
#include "axis_readers.hpp"

#include <algorithm>
#include <cmath>

namespace scorefarm::study_detail {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// ---------------------------------------------------------------- vector and matrix parameters


VectorParam read_vector(const Item& item, double default_value, int max_dim) {
  VectorParam p;
  p.item = item;
  p.value = default_value;
  if (!item.node.IsDefined()) return p;
  if (item.present() && item.node.IsSequence()) {
    p.is_list = true;
    p.values = read_number_list(item);
    if (p.values.size() > static_cast<std::size_t>(max_dim))
      item.fail("has " + std::to_string(p.values.size()) + " entries; d is at most " +
                std::to_string(max_dim));
  } else {
    p.value = read_double(item);
  }
  return p;
}


MatrixParam read_matrix(const Item& item, double default_value, int max_dim) {
  MatrixParam p;
  p.item = item;
  p.value = default_value;
  if (!item.node.IsDefined()) return p;
  if (!item.present() || !item.node.IsSequence()) {
    p.value = read_positive(item);
    return p;
  }
  std::vector<Item> entries = read_list(item, false);
  if (entries.size() > static_cast<std::size_t>(max_dim))
    item.fail("has " + std::to_string(entries.size()) + " rows; d is at most " +
              std::to_string(max_dim));
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
void unify_dim(int& dim, std::string& dim_source, int new_dim, const Item& item) {
  if (new_dim == 0) return;
  if (dim != 0 && dim != new_dim)
    item.fail("has dimension " + std::to_string(new_dim) + " but " + dim_source +
              " has dimension " + std::to_string(dim));
  if (dim == 0) {
    dim = new_dim;
    dim_source = item.path;
  }
}

// ---------------------------------------------------------------- distributions




std::string preset_help() {
  return "presets: " + join(preset_distribution_names()) +
         "; or a mapping {gaussian|mixture|laplace|student_t: {...}}";
}

void check_preset(const Item& item, const std::string& name) {
  auto names = preset_distribution_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    item.fail("unknown distribution '" + name + "' (" + preset_help() + ")");
}

Component read_component(const Item& item, bool mean_required, int& dim, std::string& dim_source,
                         int max_dim) {
  Component c;
  MapReader map(item, {"weight", "mean", "cov"});
  if (map.get("weight").node.IsDefined()) c.weight = read_positive(map.get("weight"));
  c.mean = read_vector(mean_required ? map.require("mean") : map.get("mean"), 0.0, max_dim);
  c.cov = read_matrix(map.get("cov"), 1.0, max_dim);
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

DistributionEntry read_distribution(const Item& item, int max_dim) {
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
  std::string dim_source;
  YAML::Node params(YAML::NodeType::Map);
  if (kind == "preset") {
    e.kind = DistributionEntry::Kind::preset;
    e.preset = read_name(body);
    check_preset(body, e.preset);
  } else if (kind == "gaussian") {
    e.kind = DistributionEntry::Kind::gaussian;
    e.components.push_back(read_component(body, false, e.fixed_dim, dim_source, max_dim));
    params.reset(component_node(e.components.front(), false));
  } else if (kind == "mixture") {
    e.kind = DistributionEntry::Kind::mixture;
    YAML::Node list(YAML::NodeType::Sequence);
    for (const Item& c : read_list(body, false)) {
      e.components.push_back(read_component(c, true, e.fixed_dim, dim_source, max_dim));
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
    e.location = read_vector(p.get("location"), 0.0, max_dim);
    e.scatter = read_matrix(p.get("scatter"), 1.0, max_dim);
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
      e.rule.degree = static_cast<int>(read_int(map.get("degree"), 0, 8));
      e.degree_given = true;
    }
  } else {
    item.fail("expected a bandwidth: a number h or a mapping {rule: constant|theory|silverman, "
              "value: ...}, found " + describe_node(item.node));
  }
  e.canonical = YAML::Node(YAML::NodeType::Map);
  e.canonical["rule"] = scalar_node(rule);
  e.canonical["value"] = double_node(e.rule.value);
  if (e.degree_given) e.canonical["degree"] = int_node(e.rule.degree);
  e.canonical.SetStyle(YAML::EmitterStyle::Flow);
  return e;
}


void check_unique(const std::vector<Item>& items, const std::vector<std::string>& keys,
                  const std::string& what) {
  for (std::size_t i = 0; i < keys.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (keys[i] == keys[j])
        items[i].fail("duplicate " + what + " (same as " + items[j].path + ")");
}

std::vector<DistributionEntry> read_distribution_axis(const Item& axis, int max_dim,
                                                      YAML::Node& canonical) {
  std::vector<DistributionEntry> distributions;
  std::vector<Item> items = read_list(axis, true);
  canonical.reset(YAML::Node(YAML::NodeType::Sequence));
  for (const Item& item : items) {
    distributions.push_back(read_distribution(item, max_dim));
    canonical.push_back(distributions.back().canonical);
  }
  for (std::size_t i = 0; i < distributions.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (distributions[i].label == distributions[j].label)
        items[i].fail("same label '" + distributions[i].label + "' as " + items[j].path +
                      "; add `label: <name>` to tell them apart in the results");
  return distributions;
}

std::vector<std::vector<std::int64_t>> dimensions_per_distribution(
    const std::vector<DistributionEntry>& distributions, bool has_d_axis,
    const std::vector<std::int64_t>& dims, const Item& axes_item, int max_dim) {
  std::vector<std::vector<std::int64_t>> dims_of(distributions.size());
  for (std::size_t i = 0; i < distributions.size(); ++i) {
    const DistributionEntry& dist = distributions[i];
    if (!has_d_axis) {
      if (dist.fixed_dim == 0)
        axes_item.ctx->fail(axes_item.key_mark, child_path(axes_item.path, "d"),
                            "missing required key 'd': distribution '" + dist.label + "' (" +
                                dist.item.path + ") does not fix a dimension");
      if (dist.fixed_dim > max_dim)
        dist.item.fail("dimension " + std::to_string(dist.fixed_dim) + " exceeds the maximum " +
                       std::to_string(max_dim));
      dims_of[i] = {dist.fixed_dim};
    } else {
      for (auto d : dims)
        if (dist.fixed_dim != 0 && dist.fixed_dim != d)
          dist.item.fail("has dimension " + std::to_string(dist.fixed_dim) +
                         " (set by its parameters) but axes.d includes " + std::to_string(d) +
                         "; remove axes.d to use each distribution's own dimension");
      dims_of[i] = dims;
    }
  }
  return dims_of;
}

std::vector<std::vector<DistributionSpec>> build_distribution_specs(
    const std::vector<DistributionEntry>& distributions,
    const std::vector<std::vector<std::int64_t>>& dims_of) {
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
  return specs;
}

}  // namespace scorefarm::study_detail
