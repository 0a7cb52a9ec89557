#pragma once
// What the fuzz targets check, shared by the libFuzzer entry points (fuzz_config.cpp,
// fuzz_csv.cpp) and by the ordinary ctest that replays the committed corpus and the regression
// inputs with any compiler (test_fuzz_corpus.cpp, test_fuzz_regressions.cpp).
//
// Each check takes raw bytes and returns "" when the code under test kept its contract, or a
// description of the violation. A crash, a sanitizer report or a hang is caught by the harness
// around it (libFuzzer, or ctest's timeout), not here.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "scorefarm/core/csv.hpp"
#include "scorefarm/study/study_config.hpp"

namespace scorefarm::fuzz {

// Lines "# expect-set: key=value" (the malformed catalogue's convention) are YAML comments; the
// config oracle also passes them to the loader as --set overrides, so the fuzzer mutates those
// too. At most 4, as a real command line would have.
inline std::vector<std::string> overrides_in(const std::string& text) {
  std::vector<std::string> sets;
  const std::string prefix = "# expect-set: ";
  std::size_t pos = 0;
  while (pos < text.size() && sets.size() < 4) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (text.compare(pos, prefix.size(), prefix) == 0 && nl - pos > prefix.size())
      sets.push_back(text.substr(pos + prefix.size(), nl - pos - prefix.size()));
    pos = nl + 1;
  }
  return sets;
}

inline std::string check_config_error(const ConfigError& e, const char* stage) {
  std::ostringstream out;
  if (e.message().empty()) out << stage << ": ConfigError with an empty message; ";
  if (e.line() < 0 || e.column() < 0)
    out << stage << ": ConfigError at a negative position " << e.line() << ":" << e.column() << "; ";
  if (e.line() == 0 && e.column() != 0)
    out << stage << ": ConfigError with a column but no line; ";
  if (std::string(e.what()).find(e.message()) == std::string::npos)
    out << stage << ": what() lacks the message; ";
  return out.str();
}

// load_study_text: on any input it returns or throws ConfigError. When it returns, the effective
// YAML is canonical: it loads again (without overrides) to the same effective YAML, hash and kind.
inline std::string check_config_input(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> sets = overrides_in(text);
  std::string stage = "load";
  try {
    LoadedStudy study = load_study_text(text, "fuzz.yaml", sets);
    if (!study.runner) return "load returned without a runner";
    if (study.hash != fnv1a64_hex(study.effective_yaml)) return "hash is not FNV-1a of the effective YAML";
    stage = "reload of the effective YAML";
    LoadedStudy again = load_study_text(study.effective_yaml, "effective.yaml");
    if (again.effective_yaml != study.effective_yaml)
      return "effective YAML is not a fixed point:\n--- first\n" + study.effective_yaml +
             "--- again\n" + again.effective_yaml;
    if (again.kind != study.kind) return "kind changed on reload";
    return "";
  } catch (const ConfigError& e) {
    return check_config_error(e, stage.c_str());
  } catch (const std::exception& e) {
    return stage + ": exception other than ConfigError: " + e.what();
  } catch (...) {
    return stage + ": non-std exception";
  }
}

inline std::string print_csv(const Eigen::MatrixXd& m) {
  std::string out;
  char buffer[64];
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      std::snprintf(buffer, sizeof buffer, "%s%.17g", i ? "," : "", m(i, j));
      out += buffer;
    }
    out += '\n';
  }
  return out;
}

// parse_samples_csv / parse_point: on any input they return or throw CsvError. A returned matrix
// is d x n with d, n >= 1 and finite entries; parsing again with expected_d = d gives the same
// matrix, with expected_d = d + 1 a CsvError; printing it and parsing that gives it back.
inline std::string check_csv_input(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string stage = "parse_samples_csv";
  try {
    try {
      const Eigen::MatrixXd m = parse_samples_csv(text, "fuzz.csv");
      if (m.rows() < 1 || m.cols() < 1) return "empty matrix returned";
      if (!m.allFinite()) return "non-finite value returned";
      const int d = static_cast<int>(m.rows());
      stage = "parse_samples_csv with expected_d = d";
      const Eigen::MatrixXd same = parse_samples_csv(text, "fuzz.csv", d);
      if (same.rows() != m.rows() || same.cols() != m.cols() || same != m)
        return "expected_d = d changed the result";
      stage = "parse_samples_csv with expected_d = d + 1";
      bool thrown = false;
      try {
        parse_samples_csv(text, "fuzz.csv", d + 1);
      } catch (const CsvError&) {
        thrown = true;
      }
      if (!thrown) return "expected_d = d + 1 accepted";
      stage = "parse of the printed matrix";
      const Eigen::MatrixXd back = parse_samples_csv(print_csv(m), "printed.csv");
      if (back.rows() != m.rows() || back.cols() != m.cols() || back != m)
        return "print/parse round trip changed the matrix";
    } catch (const CsvError& e) {
      if (std::string(e.what()).rfind("fuzz.csv:", 0) != 0)
        return stage + ": CsvError without the file name in front: " + e.what();
    }
    stage = "parse_point";
    try {
      const Eigen::VectorXd p = parse_point(text, "--at");
      if (p.size() < 1 || !p.allFinite()) return "parse_point returned an empty or non-finite point";
    } catch (const CsvError& e) {
      if (std::string(e.what()).rfind("--at: ", 0) != 0)
        return stage + ": CsvError without the option name in front: " + e.what();
    }
    return "";
  } catch (const std::exception& e) {
    return stage + ": exception other than CsvError: " + e.what();
  } catch (...) {
    return stage + ": non-std exception";
  }
}

}  // namespace scorefarm::fuzz
