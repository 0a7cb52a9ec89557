#pragma once
// Parsing of sample files: a pure function of the text (no file access), so that it can be tested
// and fuzzed in isolation. The CLI reads the file and hands the text here.
#include <stdexcept>
#include <string>

#include <Eigen/Dense>

namespace scorefarm {

struct CsvError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// One point per row, values separated by commas (spaces or tabs around values are allowed), no
// header. Blank lines and lines starting with '#' are skipped; CRLF line ends are accepted.
// Returns the samples as a d x n matrix (one point per column). Throws CsvError with
// "<name>:<line>: <message>" for a ragged row, a field that is not a finite number, a row whose
// width differs from expected_d (when expected_d > 0), or a file without data rows ("<name>: ...").
Eigen::MatrixXd parse_samples_csv(const std::string& text, const std::string& name, int expected_d = 0);

// Parses "x1,...,xd" (e.g. an --at option). Throws CsvError naming `what` on a malformed value.
Eigen::VectorXd parse_point(const std::string& text, const std::string& what);

}  // namespace scorefarm
