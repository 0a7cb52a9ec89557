#pragma once
// Readers for the config values that several trial kinds share (private to scorefarm::study):
// distributions (preset names or explicit parameters) and bandwidth rules. Each returns the parsed
// value, the Item it came from (for later, cross-axis complaints) and its canonical YAML.
//
// NOTE: these structs hold YAML::Node members; copy-construct them, never copy-assign (yaml-cpp's
// Node::operator= writes through to the node it is bound to).
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <yaml-cpp/yaml.h>

#include "scorefarm/core/bandwidth.hpp"
#include "scorefarm/core/distribution.hpp"
#include "yaml_reader.hpp"

namespace scorefarm::study_detail {

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

// A bandwidth rule: a number h (constant), or {rule: constant|theory|silverman, value, degree}.
struct BandwidthEntry {
  Item item;
  BandwidthRule rule;
  bool degree_given = false;  // theory only: p stated explicitly
  YAML::Node canonical;
};


std::string join(const std::vector<std::string>& names);

VectorParam read_vector(const Item& item, double default_value, int max_dim);
MatrixParam read_matrix(const Item& item, double default_value, int max_dim);

// A distribution entry: a preset name ("gaussian"), {preset: name}, {gaussian: {mean, cov}},
// {mixture: [{weight, mean, cov}, ...]}, {laplace: {scale}}, {student_t: {nu, location, scatter}},
// each mapping with an optional `label`. Vectors and matrices longer than max_dim are refused.
DistributionEntry read_distribution(const Item& item, int max_dim);

BandwidthEntry read_bandwidth(const Item& item);

// Fails on the second of two entries whose keys are equal ("duplicate <what> (same as ...)").
void check_unique(const std::vector<Item>& items, const std::vector<std::string>& keys,
                  const std::string& what);

// The dimensions each distribution is used in: axes.d when given (an explicit distribution must
// match every entry), else the distribution's own. `d_axis_item` locates axes.d (or axes, when
// absent) for complaints.
std::vector<std::vector<std::int64_t>> dimensions_per_distribution(
    const std::vector<DistributionEntry>& distributions, bool has_d_axis,
    const std::vector<std::int64_t>& dims, const Item& axes_item, int max_dim);

// Builds every (distribution, d) spec, letting the core validate it (make_distribution); a
// rejection is reported at the distribution entry.
std::vector<std::vector<DistributionSpec>> build_distribution_specs(
    const std::vector<DistributionEntry>& distributions,
    const std::vector<std::vector<std::int64_t>>& dims_of);

// Reads an axis of distributions and checks their labels are unique.
std::vector<DistributionEntry> read_distribution_axis(const Item& axis, int max_dim,
                                                      YAML::Node& canonical);

}  // namespace scorefarm::study_detail
