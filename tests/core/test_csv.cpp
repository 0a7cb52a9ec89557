#define BOOST_TEST_MODULE csv
#include <boost/test/unit_test.hpp>

#include "scorefarm/core/csv.hpp"

using namespace scorefarm;

namespace {
std::string error_of(const std::string& text, int d = 0) {
  try {
    parse_samples_csv(text, "data.csv", d);
  } catch (const CsvError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

BOOST_AUTO_TEST_CASE(parses_points_as_columns) {
  const Eigen::MatrixXd X = parse_samples_csv("1,2\n 3.5 , -4e-1\r\n\n# comment\n5,6", "f");
  BOOST_TEST(X.rows() == 2);
  BOOST_TEST(X.cols() == 3);
  BOOST_TEST(X(0, 1) == 3.5);
  BOOST_TEST(X(1, 1) == -0.4);
  BOOST_TEST(X(1, 2) == 6.0);
  BOOST_TEST(parse_samples_csv("7\n8\n", "f").rows() == 1);
}

BOOST_AUTO_TEST_CASE(bad_input_names_file_and_line) {
  BOOST_TEST(error_of("1,2\n3,4\n5\n") == "data.csv:3: row has 1 values, but line 1 has 2 (ragged file)");
  BOOST_TEST(error_of("1,2\n3,abc\n") == "data.csv:2: value 2 'abc' is not a number");
  BOOST_TEST(error_of("1,2\n3,4x\n") == "data.csv:2: value 2 '4x' is not a number");
  BOOST_TEST(error_of("1,,2\n") == "data.csv:1: value 2 is empty");
  BOOST_TEST(error_of("1,2,\n") == "data.csv:1: value 3 is empty");
  BOOST_TEST(error_of("nan,2\n") == "data.csv:1: value 1 'nan' is not finite");
  BOOST_TEST(error_of("1,1e999\n") == "data.csv:1: value 2 '1e999' is not finite");
  BOOST_TEST(error_of("\n# only a comment\n") == "data.csv: no data rows");
  BOOST_TEST(error_of("1,2,3\n", 2) == "data.csv:1: row has 3 values, expected d = 2");
  BOOST_TEST(error_of(std::string("1,2\n\0,3\n", 8)) == "data.csv: binary data (NUL byte) in a CSV file");
}

BOOST_AUTO_TEST_CASE(points) {
  const Eigen::VectorXd p = parse_point("1, -2.5,3", "--at");
  BOOST_TEST(p.size() == 3);
  BOOST_TEST(p(1) == -2.5);
  BOOST_CHECK_THROW(parse_point("1,x", "--at"), CsvError);
  BOOST_CHECK_THROW(parse_point("", "--at"), CsvError);
}
