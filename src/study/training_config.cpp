// The `training` study schema: YAML -> TrainingStudy -> TrainingRunner (paper §3–4, SPEC §6).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "axis_readers.hpp"
#include "kinds.hpp"
#include "scorefarm/training/training_study.hpp"

namespace scorefarm::study_detail {

namespace {

constexpr int kMaxDim = config_limits::max_training_dim;

// Parses a name with one of training_spec.hpp's parse_* functions; a rejection is located here.
template <class Parse>
auto parse_named(const Item& item, Parse parse) {
  std::string name = read_string(item);
  try {
    return parse(name);
  } catch (const std::exception& e) {
    item.fail(e.what());
  }
}

void forbid(const MapReader& map, const std::string& key, const std::string& why) {
  if (map.get(key).node.IsDefined()) map.get(key).fail_at_key(why);
}

struct TeacherEntry {
  Item item;
  TeacherSpec spec;
  std::string label;
  YAML::Node canonical;
};

TeacherEntry read_teacher(const Item& item) {
  TeacherEntry e;
  e.item = item;
  if (item.present() && item.node.IsScalar()) {
    e.spec.matrix = parse_named(item, parse_teacher_matrix);
  } else if (item.present() && item.node.IsMap()) {
    MapReader map(item, {"matrix", "condition", "weights", "noise", "per", "label"});
    if (map.get("matrix").node.IsDefined()) {
      const Item m = map.get("matrix");
      if (m.node.IsSequence()) {
        // Explicit rows a*_i: a list of k lists of d numbers.
        const std::vector<Item> rows = read_list(m, false);
        if (rows.empty()) m.fail("needs at least one row");
        std::vector<std::vector<double>> values;
        for (const Item& r : rows) {
          values.push_back(read_number_list(r));
          if (values.back().size() != values.front().size())
            r.fail("row has " + std::to_string(values.back().size()) + " entries, row 0 has " +
                   std::to_string(values.front().size()));
        }
        e.spec.matrix = TeacherSpec::Matrix::given;
        e.spec.rows.resize(Eigen::Index(values.size()), Eigen::Index(values.front().size()));
        for (std::size_t i = 0; i < values.size(); ++i)
          for (std::size_t j = 0; j < values[i].size(); ++j)
            e.spec.rows(Eigen::Index(i), Eigen::Index(j)) = values[i][j];
      } else {
        e.spec.matrix = parse_named(m, parse_teacher_matrix);
        if (e.spec.matrix == TeacherSpec::Matrix::given)
          m.fail("give the rows themselves: matrix: [[a11, a12, ...], [a21, ...], ...]");
      }
    }
    if (map.get("condition").node.IsDefined()) {
      if (e.spec.matrix != TeacherSpec::Matrix::conditioned)
        map.get("condition").fail_at_key("applies to matrix: conditioned only");
      e.spec.condition = read_double(map.get("condition"));
      if (!(e.spec.condition >= 1.0))
        map.get("condition").fail("must be >= 1, found " + map.get("condition").node.Scalar());
    }
    if (map.get("weights").node.IsDefined()) {
      const Item w = map.get("weights");
      if (w.node.IsSequence()) {
        e.spec.weights = TeacherSpec::Weights::given;
        e.spec.values = read_number_list(w);
      } else {
        e.spec.weights = parse_named(w, parse_teacher_weights);
        if (e.spec.weights == TeacherSpec::Weights::given)
          w.fail("give the values themselves: weights: [w1, w2, ...]");
      }
    }
    if (map.get("noise").node.IsDefined()) {
      e.spec.noise = read_double(map.get("noise"));
      if (!(e.spec.noise >= 0))
        map.get("noise").fail("must be >= 0, found " + map.get("noise").node.Scalar());
    }
    if (map.get("per").node.IsDefined()) e.spec.per = parse_named(map.get("per"), parse_teacher_per);
    if (map.get("label").node.IsDefined()) e.label = read_name(map.get("label"));
  } else {
    item.fail("expected a teacher: a matrix name (identity, orthogonal, conditioned) or a mapping "
              "{matrix, condition, weights, noise, per, label} (matrix may be a list of rows, "
              "weights a list of numbers), found " + describe_node(item.node));
  }
  e.canonical = YAML::Node(YAML::NodeType::Map);
  if (e.spec.matrix == TeacherSpec::Matrix::given) {
    std::vector<YAML::Node> rows;
    for (Eigen::Index i = 0; i < e.spec.rows.rows(); ++i) {
      std::vector<double> r(std::size_t(e.spec.rows.cols()));
      for (Eigen::Index j = 0; j < e.spec.rows.cols(); ++j) r[std::size_t(j)] = e.spec.rows(i, j);
      rows.push_back(double_list(r));
    }
    e.canonical["matrix"] = flow_list(rows);
  } else {
    e.canonical["matrix"] = scalar_node(to_string(e.spec.matrix));
  }
  if (e.spec.matrix == TeacherSpec::Matrix::conditioned)
    e.canonical["condition"] = double_node(e.spec.condition);
  if (e.spec.weights == TeacherSpec::Weights::given)
    e.canonical["weights"] = double_list(e.spec.values);
  else
    e.canonical["weights"] = scalar_node(to_string(e.spec.weights));
  e.canonical["noise"] = double_node(e.spec.noise);
  e.canonical["per"] = scalar_node(to_string(e.spec.per));
  if (!e.label.empty()) e.canonical["label"] = scalar_node(e.label);
  e.canonical.SetStyle(YAML::EmitterStyle::Flow);
  return e;
}

struct LossEntry {
  Item item;
  LossSpec spec;
  std::string label;
  YAML::Node canonical;
};

LossEntry read_loss(const Item& item) {
  LossEntry e;
  e.item = item;
  if (item.present() && item.node.IsScalar()) {
    e.spec.kind = parse_named(item, parse_loss_kind);
  } else if (item.present() && item.node.IsMap()) {
    MapReader map(item, {"kind", "mu", "lambda", "regulariser", "sign", "learn_w", "bandwidth",
                         "leave_one_out", "lr", "label"});
    e.spec.kind = parse_named(map.require("kind"), parse_loss_kind);
    const bool l2 = e.spec.kind == LossSpec::Kind::l2;
    const bool lhat = e.spec.kind == LossSpec::Kind::Lhat;
    if (l2) {
      forbid(map, "mu", "applies to the G, L and Lhat losses only");
      forbid(map, "sign", "applies to the G, L and Lhat losses only");
    } else {
      forbid(map, "learn_w", "applies to the l2 loss only (the others learn A; w is refitted)");
    }
    if (!lhat) {
      forbid(map, "bandwidth", "applies to the Lhat loss only (its per-sample LLSFE)");
      forbid(map, "leave_one_out", "applies to the Lhat loss only");
    }
    if (map.get("mu").node.IsDefined()) {
      e.spec.mu = read_double(map.get("mu"));
      if (!(e.spec.mu >= 0)) map.get("mu").fail("must be >= 0, found " + map.get("mu").node.Scalar());
    }
    if (map.get("lambda").node.IsDefined()) {
      e.spec.lambda = read_double(map.get("lambda"));
      if (!(e.spec.lambda >= 0))
        map.get("lambda").fail("must be >= 0, found " + map.get("lambda").node.Scalar());
    }
    if (map.get("regulariser").node.IsDefined())
      e.spec.regulariser = parse_named(map.get("regulariser"), parse_regulariser);
    if (map.get("sign").node.IsDefined()) e.spec.sign = parse_named(map.get("sign"), parse_sign);
    if (map.get("learn_w").node.IsDefined()) e.spec.learn_w = read_bool(map.get("learn_w"));
    if (map.get("bandwidth").node.IsDefined()) e.spec.bandwidth = read_bandwidth(map.get("bandwidth")).rule;
    if (map.get("leave_one_out").node.IsDefined())
      e.spec.leave_one_out = read_bool(map.get("leave_one_out"));
    if (map.get("lr").node.IsDefined()) e.spec.lr = read_positive(map.get("lr"));
    if (map.get("label").node.IsDefined()) e.label = read_name(map.get("label"));
  } else {
    item.fail("expected a loss: l2, G, L, Lhat or a mapping {kind, mu, lambda, ...}, found " +
              describe_node(item.node));
  }
  const bool l2 = e.spec.kind == LossSpec::Kind::l2;
  e.canonical = YAML::Node(YAML::NodeType::Map);
  e.canonical["kind"] = scalar_node(to_string(e.spec.kind));
  if (!l2) e.canonical["mu"] = double_node(e.spec.mu);
  e.canonical["lambda"] = double_node(e.spec.lambda);
  e.canonical["regulariser"] = scalar_node(to_string(e.spec.regulariser));
  if (!l2) e.canonical["sign"] = scalar_node(to_string(e.spec.sign));
  if (l2) e.canonical["learn_w"] = YAML::Node(e.spec.learn_w ? "true" : "false");
  if (e.spec.kind == LossSpec::Kind::Lhat) {
    YAML::Node bw(YAML::NodeType::Map);
    const char* rule = e.spec.bandwidth.kind == BandwidthRule::Kind::constant ? "constant"
                       : e.spec.bandwidth.kind == BandwidthRule::Kind::theory ? "theory"
                                                                              : "silverman";
    bw["rule"] = scalar_node(rule);
    bw["value"] = double_node(e.spec.bandwidth.value);
    if (e.spec.bandwidth.kind == BandwidthRule::Kind::theory)
      bw["degree"] = int_node(e.spec.bandwidth.degree);
    e.canonical["bandwidth"] = bw;
    e.canonical["leave_one_out"] = YAML::Node(e.spec.leave_one_out ? "true" : "false");
  }
  if (e.spec.lr > 0) e.canonical["lr"] = double_node(e.spec.lr);
  if (!e.label.empty()) e.canonical["label"] = scalar_node(e.label);
  e.canonical.SetStyle(YAML::EmitterStyle::Flow);
  return e;
}

struct OptimiserEntry {
  Item item;
  OptimiserSpec spec;
  Item iterations_item;
  Item batch_item;
  std::string label;
  YAML::Node canonical;
};

OptimiserEntry read_optimiser(const Item& item) {
  OptimiserEntry e;
  e.item = item;
  if (!item.present() || !item.node.IsMap())
    item.fail("expected an optimiser mapping {kind: gd|sgd, lr, iterations, ...}, found " +
              describe_node(item.node));
  MapReader map(item, {"kind", "lr", "iterations", "batch", "schedule", "decay", "step_every",
                       "step_factor", "divergence_norm", "label"});
  e.spec.kind = OptimiserSpec::Kind::gd;
  if (map.get("kind").node.IsDefined()) e.spec.kind = parse_named(map.get("kind"), parse_optimiser);
  Item lr = map.require("lr");
  e.spec.lr = read_positive(lr);
  e.iterations_item = map.require("iterations");
  e.spec.iterations = read_int(e.iterations_item, 1, 1000000000);
  if (e.spec.kind == OptimiserSpec::Kind::sgd) {
    e.batch_item = map.require("batch");
    e.spec.batch = read_int(e.batch_item, 1, config_limits::max_n);
  } else {
    forbid(map, "batch", "applies to kind: sgd only (gd uses all n samples)");
    e.batch_item = item;
  }
  if (map.get("schedule").node.IsDefined())
    e.spec.schedule = parse_named(map.get("schedule"), parse_schedule);
  if (e.spec.schedule != OptimiserSpec::Schedule::inverse_time)
    forbid(map, "decay", "applies to schedule: inverse_time only");
  if (e.spec.schedule != OptimiserSpec::Schedule::step) {
    forbid(map, "step_every", "applies to schedule: step only");
    forbid(map, "step_factor", "applies to schedule: step only");
  }
  if (map.get("decay").node.IsDefined()) {
    e.spec.decay = read_double(map.get("decay"));
    if (!(e.spec.decay >= 0)) map.get("decay").fail("must be >= 0, found " + map.get("decay").node.Scalar());
  }
  if (map.get("step_every").node.IsDefined())
    e.spec.step_every = read_int(map.get("step_every"), 1, 1000000000);
  if (map.get("step_factor").node.IsDefined()) e.spec.step_factor = read_positive(map.get("step_factor"));
  if (map.get("divergence_norm").node.IsDefined())
    e.spec.divergence_norm = read_positive(map.get("divergence_norm"));
  if (map.get("label").node.IsDefined()) e.label = read_name(map.get("label"));

  e.canonical = YAML::Node(YAML::NodeType::Map);
  e.canonical["kind"] = scalar_node(to_string(e.spec.kind));
  e.canonical["lr"] = double_node(e.spec.lr);
  e.canonical["iterations"] = int_node(e.spec.iterations);
  if (e.spec.kind == OptimiserSpec::Kind::sgd) e.canonical["batch"] = int_node(e.spec.batch);
  e.canonical["schedule"] = scalar_node(to_string(e.spec.schedule));
  if (e.spec.schedule == OptimiserSpec::Schedule::inverse_time)
    e.canonical["decay"] = double_node(e.spec.decay);
  if (e.spec.schedule == OptimiserSpec::Schedule::step) {
    e.canonical["step_every"] = int_node(e.spec.step_every);
    e.canonical["step_factor"] = double_node(e.spec.step_factor);
  }
  e.canonical["divergence_norm"] = double_node(e.spec.divergence_norm);
  if (!e.label.empty()) e.canonical["label"] = scalar_node(e.label);
  e.canonical.SetStyle(YAML::EmitterStyle::Flow);
  return e;
}

std::vector<std::int64_t> read_int_axis(const Item& axis, std::int64_t lo, std::int64_t hi,
                                        std::vector<Item>& items, YAML::Node& canonical) {
  items = read_list(axis, true);
  std::vector<std::int64_t> values;
  std::vector<std::string> keys;
  for (const Item& item : items) {
    values.push_back(read_int(item, lo, hi));
    keys.push_back(std::to_string(values.back()));
  }
  check_unique(items, keys, "value");
  std::vector<YAML::Node> nodes;
  for (auto v : values) nodes.push_back(int_node(v));
  canonical.reset(flow_list(nodes));
  return values;
}

}  // namespace

ParsedStudy parse_training_study(const Item& root) {
  MapReader top(root, {"kind", "description", "seed", "trials", "log_points", "axes"});
  TrainingStudy study;
  YAML::Node out(YAML::NodeType::Map);
  out["kind"] = "training";
  if (top.get("description").node.IsDefined())
    out["description"] = scalar_node(read_string(top.get("description")));
  study.seed = read_uint64(top.require("seed"));
  out["seed"] = uint_node(study.seed);
  Item trials_item = top.require("trials");
  study.trials = static_cast<std::uint64_t>(
      read_int(trials_item, 1, static_cast<std::int64_t>(config_limits::max_trials)));
  out["trials"] = uint_node(study.trials);
  Item log_points_item = top.get("log_points");
  if (log_points_item.node.IsDefined())
    study.log_points = static_cast<int>(read_int(log_points_item, 2, 100000));
  out["log_points"] = int_node(study.log_points);

  MapReader axes(top.require("axes"), {"distribution", "d", "k", "n", "n_test", "activation",
                                       "teacher", "loss", "optimiser"});
  YAML::Node out_axes(YAML::NodeType::Map);

  YAML::Node node;
  std::vector<DistributionEntry> distributions =
      read_distribution_axis(axes.require("distribution"), kMaxDim, node);
  out_axes["distribution"] = node;

  std::vector<Item> d_items, k_items, n_items, n_test_items;
  std::vector<std::int64_t> dims;
  const bool has_d_axis = axes.get("d").node.IsDefined();
  if (has_d_axis) {
    YAML::Node d_node;
    dims = read_int_axis(axes.require("d"), 1, kMaxDim, d_items, d_node);
    out_axes["d"] = d_node;
  }
  YAML::Node k_node, n_node, n_test_node;
  const auto ks = read_int_axis(axes.require("k"), 1, kMaxDim, k_items, k_node);
  out_axes["k"] = k_node;
  const auto ns = read_int_axis(axes.require("n"), 1, config_limits::max_n, n_items, n_node);
  out_axes["n"] = n_node;
  std::vector<std::int64_t> n_tests{2000};
  if (axes.get("n_test").node.IsDefined()) {
    n_tests = read_int_axis(axes.require("n_test"), 1, config_limits::max_n, n_test_items, n_test_node);
  } else {
    n_test_items = {axes.item()};
    n_test_node.reset(flow_list({int_node(2000)}));
  }
  out_axes["n_test"] = n_test_node;

  std::vector<Activation> activations{Activation::relu};
  std::vector<Item> activation_items{axes.item()};
  if (axes.get("activation").node.IsDefined()) {
    activation_items = read_list(axes.require("activation"), true);
    activations.clear();
    std::vector<std::string> keys;
    for (const Item& item : activation_items) {
      activations.push_back(parse_named(item, parse_activation));
      keys.push_back(to_string(activations.back()));
    }
    check_unique(activation_items, keys, "activation");
  }
  {
    std::vector<YAML::Node> names;
    for (auto a : activations) names.push_back(scalar_node(to_string(a)));
    out_axes["activation"] = flow_list(names);
  }

  std::vector<TeacherEntry> teachers;
  {
    YAML::Node list(YAML::NodeType::Sequence);
    std::vector<Item> items;
    if (axes.get("teacher").node.IsDefined()) {
      items = read_list(axes.require("teacher"), true);
    } else {
      Item defaults = axes.item();
      defaults.node.reset(YAML::Node(YAML::NodeType::Map));
      items.push_back(defaults);
    }
    std::vector<std::string> keys;
    for (const Item& item : items) {
      teachers.push_back(read_teacher(item));
      keys.push_back(emit_flow(teachers.back().canonical));
      list.push_back(teachers.back().canonical);
    }
    check_unique(items, keys, "teacher");
    out_axes["teacher"] = list;
  }

  std::vector<LossEntry> losses;
  {
    YAML::Node list(YAML::NodeType::Sequence);
    std::vector<Item> items = read_list(axes.require("loss"), true);
    std::vector<std::string> keys;
    for (const Item& item : items) {
      losses.push_back(read_loss(item));
      keys.push_back(emit_flow(losses.back().canonical));
      list.push_back(losses.back().canonical);
    }
    check_unique(items, keys, "loss");
    out_axes["loss"] = list;
  }

  std::vector<OptimiserEntry> optimisers;
  {
    YAML::Node list(YAML::NodeType::Sequence);
    std::vector<Item> items = read_list(axes.require("optimiser"), true);
    std::vector<std::string> keys;
    for (const Item& item : items) {
      optimisers.push_back(read_optimiser(item));
      keys.push_back(emit_flow(optimisers.back().canonical));
      list.push_back(optimisers.back().canonical);
      if (std::int64_t(study.log_points) > optimisers.back().spec.iterations + 1)
        optimisers.back().iterations_item.fail(
            "must be at least log_points - 1 = " + std::to_string(study.log_points - 1) +
            " (every series logs log_points iterations)");
    }
    check_unique(items, keys, "optimiser");
    out_axes["optimiser"] = list;
  }
  out["axes"] = out_axes;

  const auto dims_of = dimensions_per_distribution(distributions, has_d_axis, dims, axes.item(), kMaxDim);

  double cells = 0;
  for (const auto& list : dims_of) cells += static_cast<double>(list.size());
  cells *= double(ks.size()) * double(ns.size()) * double(n_tests.size()) *
           double(activations.size()) * double(teachers.size()) * double(losses.size()) *
           double(optimisers.size());
  if (cells > static_cast<double>(config_limits::max_cells))
    axes.item().fail("the axes make " + format_double(cells) + " cells; at most " +
                     std::to_string(config_limits::max_cells) + " are allowed");
  if (cells * static_cast<double>(study.trials) > 9.007199254740992e15)
    trials_item.fail("cells x trials exceeds 2^53 records");

  // Cross-axis checks, located at the entry that cannot work.
  for (std::size_t ki = 0; ki < ks.size(); ++ki)
    for (const auto& list : dims_of)
      for (auto d : list)
        if (ks[ki] > d)
          k_items[ki].fail("k = " + std::to_string(ks[ki]) + " exceeds d = " + std::to_string(d) +
                           " (the teacher has k <= d hidden units)");
  for (const auto& o : optimisers)
    if (o.spec.kind == OptimiserSpec::Kind::sgd)
      for (auto n : ns)
        if (o.spec.batch > n)
          o.batch_item.fail("batch " + std::to_string(o.spec.batch) + " exceeds n = " +
                            std::to_string(n));

  const auto specs = build_distribution_specs(distributions, dims_of);

  // Cells: nested loops in the documented axis order (last fastest). `origin` remembers which
  // entry of each axis a cell came from, to locate the runner's complaints.
  struct Origin {
    std::size_t dist, k, n, n_test, activation, teacher, loss, optimiser;
  };
  std::vector<Origin> origin;
  for (std::size_t i = 0; i < distributions.size(); ++i)
    for (std::size_t di = 0; di < dims_of[i].size(); ++di)
      for (std::size_t ki = 0; ki < ks.size(); ++ki)
        for (std::size_t ni = 0; ni < ns.size(); ++ni)
          for (std::size_t ti = 0; ti < n_tests.size(); ++ti)
            for (std::size_t ai = 0; ai < activations.size(); ++ai)
              for (std::size_t te = 0; te < teachers.size(); ++te)
                for (std::size_t li = 0; li < losses.size(); ++li)
                  for (std::size_t oi = 0; oi < optimisers.size(); ++oi) {
                    TrainingCell cell;
                    cell.distribution = specs[i][di];
                    cell.k = static_cast<int>(ks[ki]);
                    cell.n = ns[ni];
                    cell.n_test = n_tests[ti];
                    cell.teacher = teachers[te].spec;
                    cell.teacher.activation = activations[ai];
                    cell.loss = losses[li].spec;
                    cell.optimiser = optimisers[oi].spec;
                    if (cell.loss.lr > 0) cell.optimiser.lr = cell.loss.lr;  // the loss's own lr
                    std::string label;
                    for (const std::string* part :
                         {&teachers[te].label, &losses[li].label, &optimisers[oi].label})
                      if (!part->empty()) label += (label.empty() ? "" : "/") + *part;
                    cell.label = label;
                    study.cells.push_back(std::move(cell));
                    origin.push_back({i, ki, ni, ti, ai, te, li, oi});
                  }

  ParsedStudy parsed;
  parsed.canonical = out;
  try {
    parsed.runner = std::make_unique<TrainingRunner>(std::move(study));
  } catch (const std::exception& ex) {
    // "cells[N].field: message": point at the entry of the axis the field belongs to.
    const std::string what = ex.what();
    std::size_t cell = 0;
    std::string field, message = what;
    if (what.rfind("cells[", 0) == 0) {
      std::size_t close = what.find(']');
      std::size_t colon = what.find(": ");
      if (close != std::string::npos && colon != std::string::npos && close + 2 <= colon) {
        cell = std::strtoull(what.c_str() + 6, nullptr, 10);
        field = what.substr(close + 2, colon - close - 2);
        message = what.substr(colon + 2);
      }
    }
    const std::string axis = field.substr(0, field.find('.'));
    if (cell < origin.size()) {
      const Origin& o = origin[cell];
      const std::string in_cell = " (cell " + std::to_string(cell) + ", " + field + ")";
      if (axis == "distribution") distributions[o.dist].item.fail(message + in_cell);
      if (axis == "k") k_items[o.k].fail(message + in_cell);
      if (axis == "n") n_items[o.n].fail(message + in_cell);
      if (axis == "n_test") n_test_items[o.n_test].fail(message + in_cell);
      if (axis == "teacher") teachers[o.teacher].item.fail(message + in_cell);
      if (axis == "loss") losses[o.loss].item.fail(message + in_cell);
      if (axis == "optimiser") optimisers[o.optimiser].item.fail(message + in_cell);
    }
    root.fail("the training study is invalid: " + what);
  }
  return parsed;
}

}  // namespace scorefarm::study_detail
