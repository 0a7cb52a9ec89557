#include "scorefarm/core/csv.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace scorefarm {

namespace {

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  return s.substr(a, b - a);
}

std::string shorten(const std::string& s) { return s.size() > 40 ? s.substr(0, 37) + "..." : s; }

// Splits on commas and parses every field as a finite double; `where` prefixes messages.
std::vector<double> parse_fields(const std::string& line, const std::string& where) {
  std::vector<double> out;
  std::size_t start = 0;
  int field = 1;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    const std::string raw = line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::string f = trim(raw);
    if (f.empty()) throw CsvError(where + "value " + std::to_string(field) + " is empty");
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(f.c_str(), &end);
    if (end != f.c_str() + f.size())
      throw CsvError(where + "value " + std::to_string(field) + " '" + shorten(f) + "' is not a number");
    if (!std::isfinite(v))
      throw CsvError(where + "value " + std::to_string(field) + " '" + shorten(f) + "' is not finite");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
    ++field;
  }
  return out;
}

}  // namespace

Eigen::MatrixXd parse_samples_csv(const std::string& text, const std::string& name, int expected_d) {
  if (text.find('\0') != std::string::npos) throw CsvError(name + ": binary data (NUL byte) in a CSV file");
  std::vector<double> values;
  int d = expected_d > 0 ? expected_d : 0;
  long first_line = 0;
  long line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const std::string where = name + ":" + std::to_string(line_no) + ": ";
    const std::vector<double> row = parse_fields(line, where);
    if (d == 0) {
      d = static_cast<int>(row.size());
      first_line = line_no;
    }
    if (static_cast<int>(row.size()) != d) {
      if (expected_d > 0 && first_line == 0)
        throw CsvError(where + "row has " + std::to_string(row.size()) + " values, expected d = " +
                       std::to_string(expected_d));
      throw CsvError(where + "row has " + std::to_string(row.size()) + " values, but line " +
                     std::to_string(first_line) + " has " + std::to_string(d) + " (ragged file)");
    }
    if (first_line == 0) first_line = line_no;
    values.insert(values.end(), row.begin(), row.end());
  }
  if (values.empty()) throw CsvError(name + ": no data rows");
  const Eigen::Index n = static_cast<Eigen::Index>(values.size()) / d;
  return Eigen::Map<const Eigen::MatrixXd>(values.data(), d, n);
}

Eigen::VectorXd parse_point(const std::string& text, const std::string& what) {
  const std::string t = trim(text);
  if (t.empty()) throw CsvError(what + ": empty point");
  const std::vector<double> v = parse_fields(t, what + ": ");
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

}  // namespace scorefarm
