#define BOOST_TEST_MODULE estimator_study
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "scorefarm/core/estimator_study.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/norms.hpp"
#include "scorefarm/core/score_tensors.hpp"

using namespace scorefarm;

namespace {

EstimatorCell cell(const std::string& dist, int d, std::int64_t n) {
  EstimatorCell c;
  c.distribution = preset_distribution(dist, d);
  c.n = n;
  c.bandwidth.value = 0.63;
  c.query.point = {1.0};
  return c;
}

EstimatorStudy study() {
  EstimatorStudy s;
  s.seed = 42;
  s.trials = 10;
  s.errors = estimator_error_names();
  s.cells = {cell("gaussian", 2, 500), cell("paper_mixture", 2, 300), cell("student_t", 3, 400)};
  EstimatorCell k = cell("laplace", 2, 300);
  k.estimator.name = "kde";
  k.query.kind = QueryRule::Kind::sample;
  s.cells.push_back(k);
  return s;
}

bool same_bits(const Record& a, const Record& b) {
  return a.status == b.status && a.values.size() == b.values.size() &&
         std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) == 0;
}

std::string message(const EstimatorStudy& s) {
  try {
    EstimatorRunner r(s);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no exception";
}

}  // namespace

BOOST_AUTO_TEST_CASE(fields_and_cell_table) {
  EstimatorRunner r(study());
  const auto f = r.fields();
  BOOST_TEST(f.size() == 8u);
  BOOST_TEST(f[0].name == "h");
  BOOST_TEST(f[1].name == "ess");
  BOOST_TEST(f[2].name == "err_S1");
  BOOST_TEST(f[7].name == "err_S4_sp");
  BOOST_TEST(r.record_width() == 8u);
  BOOST_TEST(r.kind() == "estimator");
  BOOST_TEST(r.cell_count() == 4u);
  BOOST_TEST(r.cost(1) == 300.0);
  const auto t = r.cell_table();
  std::vector<std::string> names;
  for (const auto& c : t) names.push_back(c.name);
  const std::vector<std::string> expect{"distribution", "d",      "n",           "estimator", "degree",
                                        "kernel",       "bandwidth_rule", "bandwidth_c", "query"};
  BOOST_TEST(names == expect);
  BOOST_TEST(t[0].is_text);
  BOOST_TEST(t[0].texts[1] == "paper_mixture");
  BOOST_TEST(t[2].numbers[2] == 400.0);
  BOOST_TEST(t[3].texts[3] == "kde");
  BOOST_TEST(t[6].texts[0] == "constant");
  BOOST_TEST(t[8].texts[0] == "fixed:1");
  BOOST_TEST(t[8].texts[3] == "sample");
}

BOOST_AUTO_TEST_CASE(run_is_bitwise_reproducible_in_any_order_and_instance) {
  EstimatorRunner a(study()), b(study());
  std::vector<Record> forward;
  for (std::size_t c = 0; c < a.cell_count(); ++c)
    for (std::uint64_t t = 0; t < 5; ++t) forward.push_back(a.run(c, t));
  std::size_t k = forward.size();
  for (std::size_t c = b.cell_count(); c-- > 0;)
    for (std::uint64_t t = 5; t-- > 0;) BOOST_TEST(same_bits(b.run(c, t), forward[--k]));
  // Different trials and cells differ.
  BOOST_TEST(!same_bits(forward[0], forward[1]));
  BOOST_TEST(forward[0].values[2] != forward[5].values[2]);
}

BOOST_AUTO_TEST_CASE(record_matches_a_manual_replay_of_the_trial) {
  EstimatorStudy s = study();
  EstimatorRunner r(s);
  const std::size_t c = 0;
  const std::uint64_t t = 3;
  auto dist = make_distribution(s.cells[c].distribution);
  Eigen::MatrixXd X(2, s.cells[c].n);
  Stream data(s.seed, c, t, substream_data);
  dist->sample(data, X);
  const Eigen::Vector2d x(1.0, 1.0);
  const Estimate E = llsfe2(X, x, 0.63);
  const Scores Se = scores_from_log_derivs(E.log_derivs), St = scores_from_log_derivs(dist->log_derivs(x));
  const Record rec = r.run(c, t);
  BOOST_TEST(rec.values[0] == 0.63);
  BOOST_TEST(rec.values[1] == E.ess);
  BOOST_TEST(rec.values[2] == (Se.S1 - St.S1).norm());
  BOOST_TEST(rec.values[3] == spectral_norm_sym(Se.S2 - St.S2));
  double f4 = 0;
  for (std::size_t i = 0; i < Se.S4.size(); ++i) f4 += std::pow(Se.S4.data[i] - St.S4.data[i], 2);
  BOOST_TEST(std::abs(rec.values[6] - std::sqrt(f4)) <= 1e-14 * std::sqrt(f4));
  // Gaussian closed form: S2 − Ŝ2 at x = (1,1) is small at n = 500 but not zero.
  BOOST_TEST(rec.values[3] > 0.0);
  BOOST_TEST(rec.values[3] < 2.0);
}

BOOST_AUTO_TEST_CASE(sampled_query_uses_its_substream) {
  EstimatorStudy s = study();
  s.cells = {cell("gaussian", 2, 200)};
  s.cells[0].query.kind = QueryRule::Kind::sample;
  s.errors = {"S1"};
  EstimatorRunner r(s);
  auto dist = make_distribution(s.cells[0].distribution);
  const std::uint64_t t = 4;
  Eigen::MatrixXd X(2, 200);
  Stream data(s.seed, 0, t, substream_data);
  dist->sample(data, X);
  Eigen::VectorXd x(2);
  Stream q(s.seed, 0, t, substream_query);
  dist->sample_one(q, x);
  const Estimate E = llsfe2(X, x, 0.63);
  BOOST_TEST(r.run(0, t).values[2] == (E.log_derivs.g - dist->log_derivs(x).g).norm());
}

BOOST_AUTO_TEST_CASE(failed_trials_record_infinite_errors) {
  EstimatorStudy s = study();
  s.cells = {cell("gaussian", 2, 1)};  // one sample: Σ = 0
  EstimatorRunner r(s);
  const Record rec = r.run(0, 0);
  BOOST_TEST((rec.status & status::failed));
  for (std::size_t i = 2; i < rec.values.size(); ++i) BOOST_TEST(std::isinf(rec.values[i]));
}

BOOST_AUTO_TEST_CASE(spectral_approx_flag_for_d_above_2) {
  EstimatorRunner r(study());
  BOOST_TEST((r.run(2, 0).status & status::spectral_approx));  // d = 3 cell
  BOOST_TEST(!(r.run(0, 0).status & status::spectral_approx));
  EstimatorStudy s = study();
  s.errors = {"S2_sp", "S4_F"};
  EstimatorRunner q(s);
  BOOST_TEST(!(q.run(2, 0).status & status::spectral_approx));  // not requested, not flagged
}

BOOST_AUTO_TEST_CASE(bandwidth_rules_in_the_record) {
  EstimatorStudy s = study();
  s.cells = {cell("gaussian", 2, 1000)};
  s.cells[0].bandwidth.kind = BandwidthRule::Kind::theory;
  s.cells[0].bandwidth.value = 1.5;
  EstimatorRunner r(s);
  BOOST_TEST(std::abs(r.run(0, 0).values[0] - 1.5 * std::pow(1000.0, -1.0 / 8.0)) < 1e-15);
  s.cells[0].bandwidth.kind = BandwidthRule::Kind::silverman;
  s.cells[0].bandwidth.value = 1.0;
  EstimatorRunner q(s);
  const double h = q.run(0, 0).values[0];
  BOOST_TEST(std::abs(h - std::pow(1000.0, -1.0 / 6.0)) < 0.05);  // σ̄ ≈ 1 for N(0, I), d = 2
}

BOOST_AUTO_TEST_CASE(validation_names_the_field) {
  EstimatorStudy s = study();
  s.cells[1].estimator.name = "knn";
  BOOST_TEST(message(s).find("cells[1].estimator.name") != std::string::npos, message(s));
  s = study();
  s.cells[0].estimator.kernel = "boxcar";
  BOOST_TEST(message(s).find("cells[0].estimator.kernel") != std::string::npos, message(s));
  s = study();
  s.cells[0].n = 0;
  BOOST_TEST(message(s).find("cells[0].n") != std::string::npos, message(s));
  s = study();
  s.cells[2].query.point = {1.0, 2.0};  // d = 3
  BOOST_TEST(message(s).find("cells[2].query.point") != std::string::npos, message(s));
  s = study();
  s.cells[0].bandwidth.value = -1;
  BOOST_TEST(message(s).find("cells[0].bandwidth") != std::string::npos, message(s));
  s = study();
  s.errors = {"S2_sp", "S5"};
  BOOST_TEST(message(s).find("errors") != std::string::npos, message(s));
  s = study();
  s.cells[1].distribution.components[0].weight = 0;
  BOOST_TEST(message(s).find("cells[1].distribution.components[0].weight") != std::string::npos, message(s));
  s = study();
  s.cells.clear();
  BOOST_TEST(message(s).find("cells") != std::string::npos);
}
