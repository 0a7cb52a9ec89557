// compare_files(): identical files, a single changed record, done/status differences, layouts.
#include <boost/test/unit_test.hpp>

#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "scorefarm/aggregate/compare.hpp"
#include "scorefarm/aggregate/h5file.hpp"
#include "scorefarm/core/status.hpp"
#include "study_file.hpp"

using namespace scorefarm::aggregate;
using scorefarm::test::SyntheticStudy;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

struct Dir {
  fs::path path = fs::temp_directory_path() /
                  ("scorefarm_test_compare_" + std::to_string(::getpid()));
  Dir() { fs::create_directories(path); }
  ~Dir() { fs::remove_all(path); }
  std::string file(const std::string& n) const { return (path / n).string(); }
};

SyntheticStudy study() {
  SyntheticStudy s;
  s.n_cells = 3;
  s.n_trials = 4;
  s.numeric_axes.push_back({"n", {100, 200, 500}});
  s.fields = {{"h", 1, std::vector<double>(12, 0.63)}, {"err_S2_sp", 1, {}}, {"series", 2, {}}};
  for (int i = 0; i < 12; ++i) s.fields[1].values.push_back(0.1 * (i + 1));
  for (int i = 0; i < 24; ++i) s.fields[2].values.push_back(i);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(compare)

BOOST_AUTO_TEST_CASE(identical_files_are_identical) {
  Dir dir;
  scorefarm::test::write_study(dir.file("a.h5"), study());
  scorefarm::test::write_study(dir.file("b.h5"), study());
  const auto c = compare_files(dir.file("a.h5"), dir.file("b.h5"));
  BOOST_TEST(c.identical());
  BOOST_TEST(c.same_config());
  BOOST_TEST(c.datasets.size() == 5u);  // done, err_S2_sp, h, series, status
  std::ostringstream out;
  print_comparison(out, c);
  BOOST_TEST(out.str().find("IDENTICAL") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_single_changed_record_is_found) {
  Dir dir;
  auto a = study();
  auto b = study();
  b.value("err_S2_sp", 1, 2) = a.value("err_S2_sp", 1, 2) * (1.0 + 1e-15);  // one ulp-ish change
  const double abs_diff = std::fabs(b.value("err_S2_sp", 1, 2) - a.value("err_S2_sp", 1, 2));
  BOOST_REQUIRE(abs_diff > 0.0);
  b.config_hash = "fedcba9876543210";
  scorefarm::test::write_study(dir.file("a.h5"), a);
  scorefarm::test::write_study(dir.file("b.h5"), b);
  const auto c = compare_files(dir.file("a.h5"), dir.file("b.h5"));
  BOOST_TEST(!c.identical());
  BOOST_TEST(!c.same_config());
  BOOST_REQUIRE(c.cells.size() == 1u);
  BOOST_TEST(c.cells[0].cell == 1u);
  BOOST_TEST(c.cells[0].trials == 1);
  BOOST_REQUIRE(c.cells[0].fields.size() == 1u);
  BOOST_TEST(c.cells[0].fields[0].field == "err_S2_sp");
  BOOST_TEST(c.cells[0].fields[0].values == 1);
  BOOST_TEST(c.cells[0].fields[0].max_abs == abs_diff);
  BOOST_TEST(c.cells[0].fields[0].max_rel ==
                 abs_diff / std::max(a.value("err_S2_sp", 1, 2), b.value("err_S2_sp", 1, 2)),
             tt::tolerance(1e-12));
  std::ostringstream out;
  print_comparison(out, c);
  BOOST_TEST(out.str().find("DIFFERENT: 1 trials in 1 cells differ") != std::string::npos);
  BOOST_TEST(out.str().find("config hash: DIFFERENT") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(done_status_and_series_differences) {
  Dir dir;
  auto a = study();
  auto b = study();
  b.done.assign(12, 1);
  b.done[0 * 4 + 3] = 0;                           // cell 0: a has trial 3, b not
  b.status.assign(12, 0);
  b.status[2 * 4 + 1] = scorefarm::status::low_ess;  // cell 2 trial 1: status only
  b.value("series", 2, 0, 1) = 1e300;              // cell 2 trial 0: a series value
  scorefarm::test::write_study(dir.file("a.h5"), a);
  scorefarm::test::write_study(dir.file("b.h5"), b);
  const auto c = compare_files(dir.file("a.h5"), dir.file("b.h5"));
  BOOST_REQUIRE(c.cells.size() == 2u);
  BOOST_TEST(c.cells[0].cell == 0u);
  BOOST_TEST(c.cells[0].done_only_a == 1);
  BOOST_TEST(c.cells[0].trials == 1);
  BOOST_TEST(c.cells[1].cell == 2u);
  BOOST_TEST(c.cells[1].trials == 2);
  BOOST_TEST(c.cells[1].status_differs == 1);
  BOOST_TEST(c.cells[1].fields.at(0).field == "series");
  BOOST_TEST(c.done_a == 12);
  BOOST_TEST(c.done_b == 11);
  BOOST_TEST(c.trials_differing == 3);
}

BOOST_AUTO_TEST_CASE(layout_differences_and_bad_input) {
  Dir dir;
  auto a = study();
  auto b = study();
  b.n_trials = 5;
  for (auto& f : b.fields) f.values.resize(3 * 5 * f.length, 0.0);
  scorefarm::test::write_study(dir.file("a.h5"), a);
  scorefarm::test::write_study(dir.file("b.h5"), b);
  const auto c = compare_files(dir.file("a.h5"), dir.file("b.h5"));
  BOOST_TEST(!c.identical());
  BOOST_TEST(c.layout_notes.size() == 1u);
  BOOST_CHECK_THROW(compare_files(dir.file("a.h5"), dir.file("missing.h5")), InputError);
}

BOOST_AUTO_TEST_SUITE_END()
