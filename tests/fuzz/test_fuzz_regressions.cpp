#define BOOST_TEST_MODULE fuzz_regressions
// One case per fuzz finding, with the input inline, replayed through the fuzzers' own oracles
// (fuzz_oracles.hpp) on every CI run with the ordinary compiler. Each input below once hung or
// crashed the code under test; the test fails if the oracle reports a violation again, or if the
// input is accepted where it must be refused.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "fuzz_oracles.hpp"

namespace {

std::string replay_config(const std::string& text) {
  return scorefarm::fuzz::check_config_input(reinterpret_cast<const std::uint8_t*>(text.data()),
                                             text.size());
}

std::string replay_csv(const std::string& text) {
  return scorefarm::fuzz::check_csv_input(reinterpret_cast<const std::uint8_t*>(text.data()),
                                          text.size());
}

}  // namespace

// Finding 1 (fuzz_config, first minutes): a block-level node that starts with ',' makes yaml-cpp
// 0.7's LoadAll loop forever. The loader now rejects it with a ConfigError before yaml-cpp sees it.
BOOST_AUTO_TEST_CASE(block_level_comma_does_not_hang) {
  for (const std::string text :
       {std::string(","), std::string(", a"), std::string("- a\n,b"),
        std::string(",kind: estimator\nseed: 7\n"), std::string("a:\n  - ,x\n"),
        std::string("kind: estimator\naxes:\n  n: [100]\n,\n")}) {
    BOOST_TEST_CONTEXT(text) {
      const auto start = std::chrono::steady_clock::now();
      BOOST_TEST(replay_config(text) == "");
      BOOST_CHECK_THROW(scorefarm::load_study_text(text, "r.yaml"), scorefarm::ConfigError);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      BOOST_TEST(seconds < 5.0);
    }
  }
}

// CSV inputs at the parser's edges: embedded NUL, a lone sign, overflow to inf, and CR line ends.
// Each must be a CsvError or a finite table, never a crash or a non-finite sample.
BOOST_AUTO_TEST_CASE(csv_edge_inputs_keep_the_contract) {
  for (const std::string text :
       {std::string("1,2\n3\0,4\n", 9), std::string("-\n"), std::string("1e999,1\n"),
        std::string("1,2\r\n3,4\r\n"), std::string("nan,1\n"), std::string(",\n"),
        std::string("1,2\n3\n")}) {
    BOOST_TEST_CONTEXT(text) { BOOST_TEST(replay_csv(text) == ""); }
  }
}
