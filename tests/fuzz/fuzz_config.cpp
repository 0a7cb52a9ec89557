// libFuzzer target: YAML text in memory -> load_study_text, through validation and runner
// construction. Any exception other than ConfigError, a non-canonical effective YAML, a crash,
// a sanitizer report or a hang (-timeout) is a finding. See tests/fuzz/run-fuzzers.
#include <cstdio>
#include <cstdlib>

#include "fuzz_oracles.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string finding = scorefarm::fuzz::check_config_input(data, size);
  if (!finding.empty()) {
    std::fprintf(stderr, "fuzz_config finding: %s\n", finding.c_str());
    std::abort();
  }
  return 0;
}
