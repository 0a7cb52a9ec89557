#define BOOST_TEST_MODULE study_plan
#include <boost/test/unit_test.hpp>
BOOST_AUTO_TEST_CASE(x) {}
