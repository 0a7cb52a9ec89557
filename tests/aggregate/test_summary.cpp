// aggregate_file() and write_summary() on real study files written by study_file.hpp: hand-computed
// percentiles and slopes, failed trials as +inf, partial files, idempotent /summary, bad input.
#include <boost/test/unit_test.hpp>

#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "scorefarm/aggregate/h5file.hpp"
#include "scorefarm/aggregate/summary.hpp"
#include "scorefarm/core/status.hpp"
#include "scorefarm/io/journal.hpp"
#include "study_file.hpp"

using namespace scorefarm::aggregate;
using scorefarm::test::SyntheticStudy;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

// Percentiles of {1, 2, ..., 8} (v = 7p/100): p5 1.35, p25 2.75, p50 4.5, p75 6.25, p95 7.65.
constexpr Percentiles one_to_eight{1.35, 2.75, 4.5, 6.25, 7.65};

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("scorefarm_test_aggregate_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

// Two curves (distribution = gaussian | mixture) x n in {100, 1000, 10000}, 8 trials.
// err_S2_sp = C n^-a (t + 1) and err_S4_F = D n^-b (t + 1): every percentile is a power law with
// the curve's exponent, so every slope is exact.
struct Design {
  std::vector<std::string> dist{"gaussian", "gaussian", "gaussian", "mixture", "mixture", "mixture"};
  std::vector<double> n{100, 1000, 10000, 10000, 100, 1000};  // mixture cells out of n order
  double C(std::size_t cell) const { return dist[cell] == "gaussian" ? 3.0 : 2.0; }
  double a(std::size_t cell) const { return dist[cell] == "gaussian" ? 0.5 : 0.25; }
  double D(std::size_t cell) const { return dist[cell] == "gaussian" ? 10.0 : 5.0; }
  double b(std::size_t cell) const { return dist[cell] == "gaussian" ? 0.5 : 0.125; }
  double s2(std::size_t cell) const { return C(cell) * std::pow(n[cell], -a(cell)); }
  double s4(std::size_t cell) const { return D(cell) * std::pow(n[cell], -b(cell)); }
};

SyntheticStudy make_study(const Design& d) {
  SyntheticStudy s;
  s.n_cells = 6;
  s.n_trials = 8;
  s.seed = 1234;
  s.text_axes.push_back({"distribution", d.dist});
  s.numeric_axes.push_back({"n", d.n});
  s.numeric_axes.push_back({"h", std::vector<double>(6, 0.63)});
  s.fields = {{"h", 1, {}}, {"ess", 1, {}}, {"err_S2_sp", 1, {}}, {"err_S4_F", 1, {}}};
  for (auto& f : s.fields) f.values.assign(48, 0.0);
  for (std::size_t c = 0; c < 6; ++c)
    for (std::size_t t = 0; t < 8; ++t) {
      s.value("h", c, t) = 0.63;
      s.value("ess", c, t) = 40.0 + static_cast<double>(t);
      s.value("err_S2_sp", c, t) = d.s2(c) * static_cast<double>(t + 1);
      s.value("err_S4_F", c, t) = d.s4(c) * static_cast<double>(t + 1);
    }
  return s;
}

const ScalarField& field(const Summary& s, const std::string& name) {
  for (const auto& f : s.scalars)
    if (f.name == name) return f;
  BOOST_FAIL("no field " + name);
  throw;
}

// Slopes of one curve by brute force: explicit resamples, sorted, percentiles, least squares.
Percentiles brute_force_se(const Summary& s, const SyntheticStudy& study, const Curve& curve,
                           const std::string& name, std::size_t replicates) {
  Percentiles se{};
  for (std::size_t q = 0; q < n_levels; ++q) {
    std::vector<double> slopes;
    for (std::size_t r = 0; r < replicates; ++r) {
      std::vector<double> x, y;
      for (std::size_t c : curve.cells) {
        SyntheticStudy copy = study;
        std::vector<std::uint32_t> counts(8);
        bootstrap_counts(s.bootstrap_seed, c, r, counts);
        std::vector<double> resample;
        for (std::size_t t = 0; t < 8; ++t)
          for (std::uint32_t k = 0; k < counts[t]; ++k) resample.push_back(copy.value(name, c, t));
        std::sort(resample.begin(), resample.end());
        x.push_back(std::log(study.numeric_axes[0].second[c]));
        y.push_back(std::log(percentile_sorted(resample, percentile_levels[q])));
      }
      slopes.push_back(least_squares(x, y).slope);
    }
    se[q] = standard_deviation(slopes);
  }
  return se;
}

std::vector<double> read_dataset(const std::string& path, const std::string& name) {
  h5::Handle f = h5::open_file_readonly(path);
  h5::Handle d = h5::open_dataset(f, name);
  return h5::read_doubles(d);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(summary)

BOOST_AUTO_TEST_CASE(percentiles_means_and_slopes_by_hand) {
  TempDir dir;
  const Design d;
  const auto study = make_study(d);
  const auto path = dir.file("study.h5");
  scorefarm::test::write_study(path, study);
  AggregateOptions options;
  options.bootstrap_replicates = 50;
  const Summary s = aggregate_file(path, options);

  BOOST_TEST(s.complete());
  BOOST_TEST(s.done_total == 48);
  BOOST_TEST(s.bootstrap_seed == 1234u);  // defaults to the file's seed
  BOOST_REQUIRE(s.curves.size() == 2u);
  BOOST_TEST(s.curves[0].label == "distribution=gaussian");
  BOOST_TEST(s.curves[1].label == "distribution=mixture");
  // Cells of a curve are sorted by n.
  BOOST_TEST((s.curves[1].cells == std::vector<std::size_t>{4, 5, 3}));
  for (std::size_t c = 0; c < 6; ++c) {
    BOOST_TEST(s.cells[c].done == 8);
    BOOST_TEST(s.cells[c].completion == 1.0);
    BOOST_TEST(s.cells[c].failed == 0);
    const auto& st = field(s, "err_S2_sp").cells[c];
    for (std::size_t q = 0; q < n_levels; ++q)
      BOOST_TEST(st.percentiles[q] == d.s2(c) * one_to_eight[q], tt::tolerance(1e-13));
    BOOST_TEST(st.mean == d.s2(c) * 4.5, tt::tolerance(1e-13));
    BOOST_TEST(st.infinite == 0);
    // ess = 40..47: p50 = 43.5.
    BOOST_TEST(field(s, "ess").cells[c].percentiles[2] == 43.5, tt::tolerance(1e-14));
  }
  // Slopes: exact power laws.
  for (const auto& curve : s.curves) {
    const std::size_t c0 = curve.cells[0];
    BOOST_REQUIRE(curve.slopes.size() == 2u);  // err_S2_sp, err_S4_F: not h, not ess
    BOOST_TEST(curve.points == 3);
    for (const auto& cs : curve.slopes) {
      const bool is_s2 = cs.field == "err_S2_sp";
      for (std::size_t q = 0; q < n_levels; ++q) {
        BOOST_TEST(cs.slope[q] == (is_s2 ? -d.a(c0) : -d.b(c0)), tt::tolerance(1e-12));
        const double intercept = std::log((is_s2 ? d.C(c0) : d.D(c0)) * one_to_eight[q]);
        BOOST_TEST(cs.intercept[q] == intercept, tt::tolerance(1e-12));
        BOOST_TEST(cs.bootstrap_finite[q] == 50);
      }
      const auto want = brute_force_se(s, study, curve, cs.field, 50);
      for (std::size_t q = 0; q < n_levels; ++q) {
        BOOST_TEST(cs.se[q] > 0.0);
        BOOST_TEST(cs.se[q] == want[q], tt::tolerance(1e-12));
      }
    }
  }
  // Another bootstrap seed: same slopes, other standard errors; same seed: same everything.
  options.bootstrap_seed = 99;
  const Summary other = aggregate_file(path, options);
  BOOST_TEST(other.curves[0].slopes[0].slope[2] == s.curves[0].slopes[0].slope[2]);
  BOOST_TEST(other.curves[0].slopes[0].se[2] != s.curves[0].slopes[0].se[2]);
  options.bootstrap_seed.reset();
  BOOST_TEST(aggregate_file(path, options).curves[0].slopes[0].se[2] == s.curves[0].slopes[0].se[2]);
}

BOOST_AUTO_TEST_CASE(failed_trials_count_as_infinity) {
  TempDir dir;
  const Design d;
  auto study = make_study(d);
  const auto clean = dir.file("clean.h5");
  scorefarm::test::write_study(clean, study);
  // Cell 2: trial 0 (the smallest error) failed but its stored error is finite; trial 1 is flagged
  // low_ess only; trial 2 has a NaN error without any status bit.
  study.status.assign(48, 0);
  study.status[2 * 8 + 0] = scorefarm::status::failed;
  study.status[2 * 8 + 1] = scorefarm::status::low_ess;
  study.value("err_S4_F", 2, 2) = nan_value;
  const auto failed = dir.file("failed.h5");
  scorefarm::test::write_study(failed, study);

  AggregateOptions options;
  options.bootstrap_replicates = 20;
  const Summary a = aggregate_file(clean, options);
  const Summary b = aggregate_file(failed, options);
  BOOST_TEST(b.cells[2].failed == 1);
  BOOST_TEST(b.cells[2].flagged == 2);
  BOOST_TEST(b.cells[2].status_bits[0] == 1);  // failed
  BOOST_TEST(b.cells[2].status_bits[1] == 1);  // low_ess
  // err_S2_sp of cell 2 is now {2,...,8, +inf} x scale.
  const auto& s2 = field(b, "err_S2_sp").cells[2];
  const Percentiles want{2.35, 3.75, 5.5, 7.25, inf};
  for (std::size_t q = 0; q < n_levels; ++q) {
    if (std::isinf(want[q]))
      BOOST_TEST(s2.percentiles[q] == inf);
    else
      BOOST_TEST(s2.percentiles[q] == d.s2(2) * want[q], tt::tolerance(1e-13));
    // Never lower than without the failure.
    BOOST_TEST(s2.percentiles[q] >= field(a, "err_S2_sp").cells[2].percentiles[q]);
  }
  BOOST_TEST(s2.infinite == 1);
  BOOST_TEST(s2.finite == 7);
  BOOST_TEST(s2.mean == d.s2(2) * 5.0, tt::tolerance(1e-13));  // mean of 2..8, failure excluded
  // err_S4_F: the failed trial 0 and the NaN of trial 2 are both +inf, so the sample is
  // {2,4,5,6,7,8,inf,inf} x scale: p50 (v = 3.5) = 6.5, p75 (v = 5.25) between 8 and inf -> inf.
  const auto& s4 = field(b, "err_S4_F").cells[2];
  BOOST_TEST(s4.infinite == 2);
  BOOST_TEST(s4.percentiles[2] == d.s4(2) * 6.5, tt::tolerance(1e-13));
  BOOST_TEST(s4.percentiles[3] == inf);
  // Covariates keep their stored value.
  BOOST_TEST(field(b, "h").cells[2].percentiles[4] == 0.63);
  BOOST_TEST(field(b, "h").cells[2].infinite == 0);
  // The gaussian curve's p95 slope is undefined (an infinite percentile), p50 still defined.
  const auto& cs = b.curves[0].slopes[0];
  BOOST_TEST(std::isnan(cs.slope[4]));
  BOOST_TEST(std::isfinite(cs.slope[2]));
  BOOST_TEST(cs.slope[2] != a.curves[0].slopes[0].slope[2]);
  // The mixture curve is untouched.
  BOOST_TEST(b.curves[1].slopes[0].slope[4] == a.curves[1].slopes[0].slope[4]);
}

BOOST_AUTO_TEST_CASE(partial_file_reports_completion) {
  TempDir dir;
  const Design d;
  auto study = make_study(d);
  study.done.assign(48, 1);
  for (std::size_t t = 4; t < 8; ++t) {  // cell 0: trials 4..7 not written (fill values)
    study.done[0 * 8 + t] = 0;
    for (auto& f : study.fields) f.values[0 * 8 + t] = nan_value;
  }
  for (std::size_t t = 0; t < 8; ++t) {  // cell 1: nothing written
    study.done[1 * 8 + t] = 0;
    for (auto& f : study.fields) f.values[1 * 8 + t] = nan_value;
  }
  // A record whose data are there but whose done flag is not (killed between the two writes) is
  // ignored: give it an absurd value that would show.
  study.value("err_S2_sp", 2, 0) = 1e9;
  study.done[2 * 8 + 0] = 0;
  const auto path = dir.file("partial.h5");
  scorefarm::test::write_study(path, study);
  AggregateOptions options;
  options.bootstrap_replicates = 20;
  const Summary s = aggregate_file(path, options);
  BOOST_TEST(!s.complete());
  BOOST_TEST(s.done_total == 48 - 4 - 8 - 1);
  BOOST_TEST(s.cells[0].done == 4);
  BOOST_TEST(s.cells[0].completion == 0.5);
  BOOST_TEST(s.cells[1].done == 0);
  BOOST_TEST(s.cells[1].completion == 0.0);
  BOOST_TEST(s.cells[2].done == 7);
  const auto& f = field(s, "err_S2_sp");
  // Cell 0: {1,2,3,4} x scale -> 1.15, 1.75, 2.5, 3.25, 3.85.
  const Percentiles four{1.15, 1.75, 2.5, 3.25, 3.85};
  for (std::size_t q = 0; q < n_levels; ++q)
    BOOST_TEST(f.cells[0].percentiles[q] == d.s2(0) * four[q], tt::tolerance(1e-13));
  BOOST_TEST(std::isnan(f.cells[1].percentiles[2]));
  BOOST_TEST(std::isnan(f.cells[1].mean));
  BOOST_TEST(f.cells[1].count == 0);
  // Cell 2: {2..8}: p50 = 5.
  BOOST_TEST(f.cells[2].percentiles[2] == d.s2(2) * 5.0, tt::tolerance(1e-13));
  // The gaussian curve is fitted through cells 0 and 2 only.
  const auto& curve = s.curves[0];
  BOOST_TEST(curve.points == 2);
  const double want = std::log((d.s2(2) * 5.0) / (d.s2(0) * 2.5)) / std::log(10000.0 / 100.0);
  BOOST_TEST(curve.slopes[0].slope[2] == want, tt::tolerance(1e-12));
  // The table says so.
  std::ostringstream table;
  print_table(table, s);
  BOOST_TEST(table.str().find("[PARTIAL]") != std::string::npos);
  BOOST_TEST(table.str().find("4/8") != std::string::npos);
  BOOST_TEST(table.str().find("0/8") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(summary_is_replaced_and_records_are_untouched) {
  TempDir dir;
  const Design d;
  const auto study = make_study(d);
  const auto path = dir.file("study.h5");
  scorefarm::test::write_study(path, study);
  // A stale /summary with an object the new one does not have.
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "summary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t j = H5Gcreate2(g, "junk", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(j);
    H5Gclose(g);
    H5Fclose(f);
  }
  const auto records_before = read_dataset(path, "records/err_S2_sp");
  const auto status_before = read_dataset(path, "records/status");
  AggregateOptions options;
  options.bootstrap_replicates = 30;
  const Summary s = aggregate_file(path, options);
  write_summary(path, s);
  const auto pct1 = read_dataset(path, "summary/fields/err_S2_sp/percentiles");
  const auto se1 = read_dataset(path, "summary/slopes/err_S2_sp/se");
  const auto slope1 = read_dataset(path, "summary/slopes/err_S4_F/slope");
  // Rerun on the file that now holds a /summary: same results, one /summary.
  const Summary again = aggregate_file(path, options);
  write_summary(path, again);
  BOOST_TEST(read_dataset(path, "summary/fields/err_S2_sp/percentiles") == pct1);
  BOOST_TEST(read_dataset(path, "summary/slopes/err_S2_sp/se") == se1);
  BOOST_TEST(read_dataset(path, "summary/slopes/err_S4_F/slope") == slope1);
  {
    h5::Handle f = h5::open_file_readonly(path);
    BOOST_TEST(!h5::exists(f, "summary/junk"));
    BOOST_TEST(!h5::exists(f, "summary_new"));
    BOOST_TEST((h5::child_names(f) == std::vector<std::string>{"cells", "records", "runs", "summary"}));
    h5::Handle g = h5::open_group(f, "summary");
    BOOST_TEST(h5::read_int_attribute(g, "records_done") == 48);
    BOOST_TEST(h5::read_int_attribute(g, "complete") == 1);
  }
  // What was written is what was computed.
  for (std::size_t c = 0; c < 6; ++c)
    for (std::size_t q = 0; q < n_levels; ++q)
      BOOST_TEST(pct1[c * n_levels + q] == field(s, "err_S2_sp").cells[c].percentiles[q]);
  BOOST_TEST(se1[0 * n_levels + 2] == s.curves[0].slopes[0].se[2]);
  const auto curve_of = read_dataset(path, "summary/cells/curve");
  BOOST_TEST((curve_of == std::vector<double>{0, 0, 0, 1, 1, 1}));
  // Records bit for bit.
  const auto records_after = read_dataset(path, "records/err_S2_sp");
  BOOST_TEST(std::memcmp(records_before.data(), records_after.data(),
                         records_before.size() * sizeof(double)) == 0);
  BOOST_TEST(read_dataset(path, "records/status") == status_before);
}

BOOST_AUTO_TEST_CASE(training_series_bands_by_hand) {
  TempDir dir;
  SyntheticStudy s;
  s.kind = "training";
  s.n_cells = 2;
  s.n_trials = 5;
  s.text_axes.push_back({"loss", {"L", "G"}});
  const std::size_t L = 3;
  s.fields = {{"iteration", L, {}}, {"e_A", L, {}}, {"e_A_final", 1, {}},
              {"iterations_done", 1, {}}};
  s.fields[0].values.assign(2 * 5 * L, 0);
  s.fields[1].values.assign(2 * 5 * L, 0);
  s.fields[2].values.assign(2 * 5, 0);
  s.fields[3].values.assign(2 * 5, 100);
  const double its[3] = {0, 10, 100};
  for (std::size_t c = 0; c < 2; ++c)
    for (std::size_t t = 0; t < 5; ++t) {
      for (std::size_t i = 0; i < L; ++i) {
        s.value("iteration", c, t, i) = its[i];
        s.value("e_A", c, t, i) = static_cast<double>((t + 1) * (i + 1)) * (c == 0 ? 1.0 : 0.1);
      }
      s.value("e_A_final", c, t) = s.value("e_A", c, t, L - 1);
    }
  // Cell 1, trial 4 diverged at the last logged iteration: NaN there, status diverged.
  s.status.assign(10, 0);
  s.status[1 * 5 + 4] = scorefarm::status::diverged;
  s.value("e_A", 1, 4, 2) = nan_value;
  const auto path = dir.file("training.h5");
  scorefarm::test::write_study(path, s);
  const Summary sum = aggregate_file(path);
  BOOST_TEST(sum.curves.empty());  // no n axis
  BOOST_REQUIRE(sum.series.size() == 1u);  // e_A (iteration is the x axis, not a series summary)
  const auto& e = sum.series[0];
  BOOST_TEST(e.name == "e_A");
  BOOST_TEST((e.iteration[0] == std::vector<double>{0, 10, 100}));
  // {1..5} x (i+1) x scale: 1.2, 2, 3, 4, 4.8.
  const Percentiles five{1.2, 2.0, 3.0, 4.0, 4.8};
  for (std::size_t i = 0; i < L; ++i)
    for (std::size_t q = 0; q < n_levels; ++q)
      BOOST_TEST(e.percentiles[0][i][q] == five[q] * static_cast<double>(i + 1),
                 tt::tolerance(1e-13));
  // Cell 1, last iteration: {0.3, 0.6, 0.9, 1.2, inf}: p75 exactly 1.2, p95 inf.
  BOOST_TEST(e.percentiles[1][2][2] == 0.9, tt::tolerance(1e-13));
  BOOST_TEST(e.percentiles[1][2][3] == 1.2, tt::tolerance(1e-13));
  BOOST_TEST(e.percentiles[1][2][4] == inf);
  BOOST_TEST(e.infinite[1][2] == 1);
  BOOST_TEST(e.infinite[1][1] == 0);
  // Scalars: the diverged trial's final e(A) counts as +inf although its stored value is finite.
  BOOST_TEST(field(sum, "e_A_final").cells[1].infinite == 1);
  BOOST_TEST(field(sum, "iterations_done").cells[1].infinite == 0);  // covariate
  BOOST_TEST(sum.cells[1].failed == 1);
  // Written and read back.
  write_summary(path, sum);
  const auto pct = read_dataset(path, "summary/series/e_A/percentiles");
  BOOST_TEST(pct.size() == 2u * L * n_levels);
  BOOST_TEST(pct[(0 * L + 2) * n_levels + 4] == 4.8 * 3, tt::tolerance(1e-13));
  BOOST_TEST(std::isinf(pct[(1 * L + 2) * n_levels + 4]));
  std::ostringstream csv;
  write_csv(csv, sum);
  BOOST_TEST(csv.str().find("series,1,,G,e_A,100,") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_input_is_reported) {
  TempDir dir;
  BOOST_CHECK_THROW(aggregate_file(dir.file("missing.h5")), InputError);
  {
    std::ofstream(dir.file("text.h5")) << "not hdf5\n";
  }
  BOOST_CHECK_THROW(aggregate_file(dir.file("text.h5")), InputError);
  const Design d;
  auto study = make_study(d);
  const auto path = dir.file("nodone.h5");
  scorefarm::test::write_study(path, study);
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "records/done", H5P_DEFAULT);
    H5Fclose(f);
  }
  try {
    aggregate_file(path);
    BOOST_FAIL("no exception");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("/records/done") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(csv_and_json_carry_the_same_numbers) {
  TempDir dir;
  const Design d;
  const auto path = dir.file("study.h5");
  scorefarm::test::write_study(path, make_study(d));
  AggregateOptions options;
  options.bootstrap_replicates = 10;
  const Summary s = aggregate_file(path, options);
  std::ostringstream csv, json;
  write_csv(csv, s);
  write_json(json, s);
  // Header and one row per (field, cell) + two per (curve, error field).
  std::istringstream lines(csv.str());
  std::string header, line;
  std::getline(lines, header);
  BOOST_TEST(header ==
             "kind,cell,curve,distribution,n,h,field,iteration,done,trials,completion,failed,"
             "flagged,infinite,mean,p5,p25,p50,p75,p95,points");
  int rows = 0;
  while (std::getline(lines, line)) ++rows;
  BOOST_TEST(rows == 4 * 6 + 2 * 2 * 2);
  BOOST_TEST(csv.str().find(fmt::format("cell,0,0,gaussian,100,0.63,err_S2_sp,,8,8,1,0,0,0,{}",
                                        d.s2(0) * 4.5)) != std::string::npos);
  BOOST_TEST(json.str().find("\"label\": \"distribution=mixture\"") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// A process killed while it replaces /summary (here: right after the journal is written, before the
// file is touched) loses nothing: the file still opens with its records and the old summary, and
// the recovery that every writer runs first (io::recover_journal) completes the new summary.
BOOST_AUTO_TEST_CASE(killed_summary_write_loses_nothing) {
  TempDir dir;
  const Design d;
  const auto path = dir.file("study.h5");
  scorefarm::test::write_study(path, make_study(d));
  AggregateOptions options;
  options.bootstrap_replicates = 10;
  write_summary(path, aggregate_file(path, options));
  const auto old_se = read_dataset(path, "summary/slopes/err_S2_sp/se");
  const auto records = read_dataset(path, "records/err_S4_F");
  options.bootstrap_seed = 4242;  // a different summary
  const Summary fresh = aggregate_file(path, options);

  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    scorefarm::io::testing::set_commit_hook([](const char* stage) {
      if (std::string(stage) == "journal-written") ::_exit(0);  // killed at the worst moment
    });
    try {
      write_summary(path, fresh);
    } catch (...) {
    }
    ::_exit(3);  // the hook never fired
  }
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  BOOST_REQUIRE(WIFEXITED(wstatus));
  BOOST_TEST(WEXITSTATUS(wstatus) == 0);
  BOOST_TEST(fs::exists(scorefarm::io::journal_path(path)));
  // Untouched: opens, same records, old summary.
  BOOST_TEST(read_dataset(path, "summary/slopes/err_S2_sp/se") == old_se);
  BOOST_TEST(read_dataset(path, "records/err_S4_F") == records);
  // Recovery replays the complete journal: the new summary, records still the same.
  scorefarm::io::recover_journal(path);
  BOOST_TEST(!fs::exists(scorefarm::io::journal_path(path)));
  const auto new_se = read_dataset(path, "summary/slopes/err_S2_sp/se");
  BOOST_TEST(new_se != old_se);
  BOOST_TEST(new_se[2] == fresh.curves[0].slopes[0].se[2]);
  BOOST_TEST(read_dataset(path, "records/err_S4_F") == records);
}
