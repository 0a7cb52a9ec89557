// libFuzzer target: CSV sample text -> parse_samples_csv and parse_point. Any exception other
// than CsvError, a result that breaks the documented shape, a crash, a sanitizer report or a hang
// (-timeout) is a finding. See tests/fuzz/run-fuzzers.
#include <cstdio>
#include <cstdlib>

#include "fuzz_oracles.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string finding = scorefarm::fuzz::check_csv_input(data, size);
  if (!finding.empty()) {
    std::fprintf(stderr, "fuzz_csv finding: %s\n", finding.c_str());
    std::abort();
  }
  return 0;
}
