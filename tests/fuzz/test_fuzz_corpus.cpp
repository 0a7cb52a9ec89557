#define BOOST_TEST_MODULE fuzz_corpus
// Replays the committed fuzz corpus (tests/fuzz/corpus/config, tests/fuzz/corpus/csv) through the
// same oracles the libFuzzer targets use, so that every CI run, with gcc and without libFuzzer,
// re-checks every input the fuzzers ever kept: the loader and the CSV parser only ever raise their
// own errors, successful loads are canonical, and no input takes longer than the fuzzers' 5 s.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz_oracles.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path corpus_dir = fs::path(SCOREFARM_SOURCE_DIR) / "tests/fuzz/corpus";

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class Check>
void replay(const fs::path& dir, std::size_t at_least, Check check) {
  const auto files = files_in(dir);
  BOOST_TEST_REQUIRE(files.size() >= at_least, dir << " holds only " << files.size() << " files");
  for (const auto& file : files) {
    const std::string bytes = read_bytes(file);
    const auto start = std::chrono::steady_clock::now();
    const std::string finding =
        check(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST(finding.empty(), file.filename().string() << ": " << finding);
    BOOST_TEST(seconds < 5.0, file.filename().string() << " took " << seconds << " s");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(config_corpus) {
  replay(corpus_dir / "config", 50, scorefarm::fuzz::check_config_input);
}

BOOST_AUTO_TEST_CASE(csv_corpus) {
  replay(corpus_dir / "csv", 10, scorefarm::fuzz::check_csv_input);
}

// The oracles themselves must be able to fail: a config that loads is checked for canonical
// output, a bad one must raise ConfigError, and CSV text must round-trip.
BOOST_AUTO_TEST_CASE(oracles_see_what_they_check) {
  using scorefarm::fuzz::overrides_in;
  const std::string text = "# expect-set: trials=5\n# expect-set: seed=1\nkind: estimator\n";
  BOOST_TEST(overrides_in(text) == (std::vector<std::string>{"trials=5", "seed=1"}),
             boost::test_tools::per_element());
  scorefarm::ConfigError bad("f", -1, 0, "", "");
  BOOST_TEST(!scorefarm::fuzz::check_config_error(bad, "t").empty());
  scorefarm::ConfigError good("f", 3, 4, "k", "m");
  BOOST_TEST(scorefarm::fuzz::check_config_error(good, "t").empty());
  Eigen::MatrixXd m(2, 1);
  m << 0.1, 1e-310;
  BOOST_TEST(scorefarm::fuzz::print_csv(m) == "0.10000000000000001,9.9999999999999694e-311\n");
}
