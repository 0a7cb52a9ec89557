#define BOOST_TEST_MODULE study_config
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "scorefarm/core/estimator_study.hpp"
#include "scorefarm/study/study_config.hpp"
#include "../../src/study/yaml_reader.hpp"  // find_block_level_comma (private to the module)

namespace fs = std::filesystem;
using namespace scorefarm;

namespace {

const fs::path source_dir{SCOREFARM_SOURCE_DIR};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const EstimatorStudy& estimator(const LoadedStudy& s) {
  auto* runner = dynamic_cast<const EstimatorRunner*>(s.runner.get());
  BOOST_REQUIRE(runner != nullptr);
  return runner->study();
}

// Loads and expects a ConfigError; returns it.
ConfigError expect_error(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    load_study_text(text, "t.yaml", sets);
  } catch (const ConfigError& e) {
    return e;
  }
  BOOST_FAIL("expected a ConfigError for:\n" << text);
  throw;  // unreachable
}

const std::string base = R"(kind: estimator
seed: 7
trials: 100
errors: [S2_sp, S4_F]
axes:
  distribution: [gaussian]
  d: [2]
  n: [100, 200]
  estimator: [llsfe]
  bandwidth: [{rule: constant, value: 0.63}]
  query: [{point: [1, 1]}]
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "fixture lacks: " << from);
  return text.replace(at, from.size(), to);
}

std::vector<fs::path> yaml_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

// ------------------------------------------------------------------ the malformed catalogue

// Every tests/study/malformed/*.yaml states in its header what must go wrong:
//   # expect-message: <fragment of the message>
//   # expect-key: <dotted key path>          (optional)
//   # expect-set: <key=value>                (optional; the error is then attributed to it)
//   # expect-line: <1-based line>            (0 for a --set)
//   # expect-column: <1-based column>
BOOST_AUTO_TEST_CASE(malformed_catalogue) {
  const auto files = yaml_files(source_dir / "tests/study/malformed");
  BOOST_TEST(files.size() >= 15u);
  for (const auto& file : files) {
    BOOST_TEST_CONTEXT(file.filename().string()) {
      std::string message, key, set;
      int line = -1, column = -1;
      std::istringstream header(read_text(file));
      for (std::string l; std::getline(header, l);) {
        auto value = [&](const char* tag) -> std::string {
          std::string prefix = std::string("# expect-") + tag + ": ";
          return l.rfind(prefix, 0) == 0 ? l.substr(prefix.size()) : std::string();
        };
        if (!value("message").empty()) message = value("message");
        if (!value("key").empty()) key = value("key");
        if (!value("set").empty()) set = value("set");
        if (!value("line").empty()) line = std::stoi(value("line"));
        if (!value("column").empty()) column = std::stoi(value("column"));
      }
      BOOST_REQUIRE(!message.empty());
      BOOST_REQUIRE(line >= 0);
      BOOST_REQUIRE(column >= 0);
      std::vector<std::string> sets;
      if (!set.empty()) sets.push_back(set);
      bool thrown = false;
      try {
        load_study_file(file.string(), sets);
      } catch (const ConfigError& e) {
        thrown = true;
        const std::string what = e.what();
        BOOST_TEST(what.find(message) != std::string::npos, what);
        if (!key.empty()) BOOST_TEST(e.key() == key);
        BOOST_TEST(e.line() == line);
        BOOST_TEST(e.column() == column);
        std::string where;
        if (set.empty()) {
          BOOST_TEST(e.file() == file.string());
          where = file.string() + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
        } else {
          BOOST_TEST(e.file() == "--set " + set);
          where = "--set " + set + ": ";
        }
        BOOST_TEST(what.rfind(where, 0) == 0u, what);  // what() starts with the position
        if (!key.empty()) BOOST_TEST(what.find(": " + key + ": ") != std::string::npos, what);
      }
      BOOST_TEST(thrown);
    }
  }
}

// ------------------------------------------------------------------ good configs expand right

BOOST_AUTO_TEST_CASE(cartesian_product_in_documented_order) {
  const std::string text = R"(kind: estimator
seed: 3
trials: 10
axes:
  query: [{point: [1, 1]}, {sample: true}]      # key order in the file does not matter
  bandwidth: [0.5, {rule: theory, value: 1.2, degree: 2}, {rule: silverman}]
  estimator: [llsfe, kde]
  n: [100, 300]
  d: 2
  distribution: [gaussian, paper_mixture]
)";
  LoadedStudy s = load_study_text(text, "t.yaml");
  const EstimatorStudy& st = estimator(s);
  BOOST_TEST(s.kind == "estimator");
  BOOST_TEST(st.seed == 3u);
  BOOST_TEST(st.trials == 10u);
  BOOST_TEST((st.errors == std::vector<std::string>{"S2_sp", "S4_F"}));  // the default
  BOOST_REQUIRE(st.cells.size() == 2u * 1 * 2 * 2 * 3 * 2);
  BOOST_TEST(s.runner->cell_count() == st.cells.size());
  // Independent enumeration: distribution slowest, then d, n, estimator, bandwidth, query.
  const std::vector<std::string> dists{"gaussian", "paper_mixture"};
  const std::vector<std::int64_t> ns{100, 300};
  const std::vector<std::string> ests{"llsfe", "kde"};
  const std::vector<BandwidthRule::Kind> rules{BandwidthRule::Kind::constant,
                                               BandwidthRule::Kind::theory,
                                               BandwidthRule::Kind::silverman};
  const std::vector<double> values{0.5, 1.2, 1.0};
  std::size_t c = 0;
  for (const auto& dist : dists)
    for (auto n : ns)
      for (const auto& est : ests)
        for (std::size_t b = 0; b < 3; ++b)
          for (int q = 0; q < 2; ++q, ++c) {
            BOOST_TEST_CONTEXT("cell " << c) {
              const EstimatorCell& cell = st.cells[c];
              BOOST_TEST(cell.distribution.name == dist);
              BOOST_TEST(cell.distribution.d == 2);
              BOOST_TEST(cell.n == n);
              BOOST_TEST(cell.estimator.name == est);
              BOOST_TEST((cell.bandwidth.kind == rules[b]));
              BOOST_TEST(cell.bandwidth.value == values[b]);
              BOOST_TEST(cell.bandwidth.degree == 2);
              if (q == 0) {
                BOOST_TEST((cell.query.kind == QueryRule::Kind::fixed));
                BOOST_TEST((cell.query.point == std::vector<double>{1.0, 1.0}));
              } else {
                BOOST_TEST((cell.query.kind == QueryRule::Kind::sample));
              }
            }
          }
}

BOOST_AUTO_TEST_CASE(d_axis_and_presets) {
  LoadedStudy s = load_study_text(
      replace(replace(base, "d: [2]", "d: [1, 3]"), "{point: [1, 1]}", "{point: 0.5}"), "t.yaml");
  const EstimatorStudy& st = estimator(s);
  BOOST_REQUIRE(st.cells.size() == 4u);
  const int expect_d[] = {1, 1, 3, 3};
  for (std::size_t c = 0; c < 4; ++c) {
    BOOST_TEST(st.cells[c].distribution.d == expect_d[c]);
    BOOST_TEST(st.cells[c].query.point.size() == static_cast<std::size_t>(expect_d[c]));
    for (double x : st.cells[c].query.point) BOOST_TEST(x == 0.5);
    // The preset gaussian is N(0, I_d).
    const auto& comp = st.cells[c].distribution.components.at(0);
    BOOST_TEST(comp.mean.isZero());
    BOOST_TEST(comp.cov.isIdentity());
  }
}

BOOST_AUTO_TEST_CASE(explicit_distributions) {
  const std::string text = R"(kind: estimator
seed: 1
trials: 5
axes:
  distribution:
    - gaussian: {mean: [1, -1], cov: [[2, 0.5], [0.5, 1]]}
      label: tilted
    - mixture:
        - {weight: 1, mean: [1, 1]}
        - {weight: 3, mean: [-1, -1], cov: [2, 0.5]}
    - laplace: {scale: 2}
    - student_t: {nu: 7, location: 0.5, scatter: 2}
      label: t7
  d: 2
  n: 50
  bandwidth: 0.7
  query: sample
)";
  LoadedStudy s = load_study_text(text, "t.yaml");
  const EstimatorStudy& st = estimator(s);
  BOOST_REQUIRE(st.cells.size() == 4u);
  const auto& g = st.cells[0].distribution;
  BOOST_TEST(g.name == "tilted");
  BOOST_TEST((g.kind == DistributionSpec::Kind::gaussian));
  BOOST_TEST(g.components.at(0).mean(0) == 1.0);
  BOOST_TEST(g.components.at(0).mean(1) == -1.0);
  BOOST_TEST(g.components.at(0).cov(0, 1) == 0.5);
  BOOST_TEST(g.components.at(0).cov(1, 1) == 1.0);
  const auto& m = st.cells[1].distribution;
  BOOST_TEST(m.name == "mixture");
  BOOST_REQUIRE(m.components.size() == 2u);
  BOOST_TEST(m.components[0].weight == 0.25);  // weights normalised
  BOOST_TEST(m.components[1].weight == 0.75);
  BOOST_TEST(m.components[1].cov(0, 0) == 2.0);  // diagonal form
  BOOST_TEST(m.components[1].cov(1, 1) == 0.5);
  BOOST_TEST(m.components[1].cov(0, 1) == 0.0);
  BOOST_TEST(m.components[0].cov.isIdentity());  // default cov 1
  const auto& l = st.cells[2].distribution;
  BOOST_TEST((l.kind == DistributionSpec::Kind::laplace));
  BOOST_TEST(l.laplace_scale == 2.0);
  const auto& t = st.cells[3].distribution;
  BOOST_TEST(t.name == "t7");
  BOOST_TEST(t.nu == 7.0);
  BOOST_TEST(t.location.size() == 2);
  BOOST_TEST(t.location(1) == 0.5);
  BOOST_TEST(t.scatter(1, 1) == 2.0);
  BOOST_TEST(t.scatter(0, 1) == 0.0);
  for (const auto& cell : st.cells) {
    BOOST_TEST(cell.n == 50);
    BOOST_TEST((cell.query.kind == QueryRule::Kind::sample));
    BOOST_TEST(cell.bandwidth.value == 0.7);
  }
}

BOOST_AUTO_TEST_CASE(dimension_inferred_without_d_axis) {
  const std::string text = R"(kind: estimator
seed: 1
trials: 5
axes:
  distribution: [{gaussian: {mean: [0, 0, 0]}}, {laplace: {}, label: lap}]
  n: 50
  bandwidth: 0.7
  query: {point: 0}
)";
  // laplace fixes no dimension: without axes.d this is an error...
  ConfigError e = expect_error(text);
  BOOST_TEST(e.key() == "axes.d");
  BOOST_TEST(std::string(e.what()).find("does not fix a dimension") != std::string::npos);
  // ...with only the explicit one, d = 3 comes from its mean.
  LoadedStudy s = load_study_text(replace(text, ", {laplace: {}, label: lap}", ""), "t.yaml");
  BOOST_REQUIRE(estimator(s).cells.size() == 1u);
  BOOST_TEST(estimator(s).cells[0].distribution.d == 3);
  BOOST_TEST(estimator(s).cells[0].query.point.size() == 3u);
}

BOOST_AUTO_TEST_CASE(numbers_accept_one_spelling_of_each_value) {
  // 5e1 is the integer 50; quoted numbers are text and rejected.
  LoadedStudy s = load_study_text(replace(base, "trials: 100", "trials: 5e1"), "t.yaml");
  BOOST_TEST(estimator(s).trials == 50u);
  BOOST_TEST(expect_error(replace(base, "trials: 100", "trials: 5.5")).key() == "trials");
  BOOST_TEST(expect_error(replace(base, "seed: 7", "seed: -1")).key() == "seed");
  BOOST_TEST(expect_error(replace(base, "value: 0.63", "value: .inf")).key() ==
             "axes.bandwidth[0].value");
  BOOST_TEST(expect_error(replace(base, "value: 0.63", "value: nan")).key() ==
             "axes.bandwidth[0].value");
  LoadedStudy big = load_study_text(replace(base, "seed: 7", "seed: 18446744073709551615"), "t");
  BOOST_TEST(estimator(big).seed == 18446744073709551615ull);
  BOOST_TEST(expect_error(replace(base, "seed: 7", "seed: 18446744073709551616")).key() == "seed");
}

BOOST_AUTO_TEST_CASE(estimator_support_comes_from_the_core) {
  ConfigError e = expect_error(replace(base, "estimator: [llsfe]", "estimator: [{llsfe: {kernel: box}}]"));
  BOOST_TEST(e.key() == "axes.estimator[0]");
  BOOST_TEST(std::string(e.what()).find("not supported") != std::string::npos, e.what());
  LoadedStudy s = load_study_text(
      replace(base, "estimator: [llsfe]", "estimator: [{llsfe: {degree: 2, kernel: gaussian}}, {kde: {}}]"),
      "t.yaml");
  BOOST_TEST(estimator(s).cells.size() == 4u);
  BOOST_TEST(estimator(s).cells[1].estimator.name == "kde");
}

BOOST_AUTO_TEST_CASE(more_mistakes_are_located) {
  struct Case {
    std::string from, to, key, fragment;
  };
  const std::vector<Case> cases{
      {"  query: [{point: [1, 1]}]\n", "", "axes.query", "missing required key 'query'"},
      {"bandwidth: [{rule: constant, value: 0.63}]", "bandwidth: [{rule: silverman, degree: 2}]",
       "axes.bandwidth[0].degree", "theory rule only"},
      {"query: [{point: [1, 1]}]", "query: [{point: [1, 1], sample: true}]", "axes.query[0]",
       "exactly one"},
      {"query: [{point: [1, 1]}]", "query: [nowhere]", "axes.query[0]", "expected a query rule"},
      {"distribution: [gaussian]", "distribution: [{gaussian: {}, laplace: {}}]",
       "axes.distribution[0]", "exactly one"},
      {"distribution: [gaussian]", "distribution: [[gaussian]]", "axes.distribution[0]",
       "expected a distribution"},
      {"distribution: [gaussian]", "distribution: [{mixture: []}]", "axes.distribution[0].mixture",
       "must not be empty"},
      {"distribution: [gaussian]", "distribution: [{mixture: [{weight: 1}]}]",
       "axes.distribution[0].mixture[0].mean", "missing required key 'mean'"},
      {"distribution: [gaussian]", "distribution: [{gaussian: {mean: [0, 0], cov: [1, 1, 1]}}]",
       "axes.distribution[0].gaussian.cov", "has dimension 3 but"},
      {"distribution: [gaussian]", "distribution: [{gaussian: {cov: [[1, 0], [0]]}}]",
       "axes.distribution[0].gaussian.cov[1]", "must be square"},
      {"errors: [S2_sp, S4_F]", "errors: []", "errors", "must not be empty"},
      {"errors: [S2_sp, S4_F]", "errors: [S4_F, S4_F]", "errors[1]", "duplicate error"},
      {"d: [2]", "d: [33]", "axes.d[0]", "between 1 and 32"},
      {"kind: estimator", "kind: [estimator]", "kind", "expected a name"},
      {"trials: 100", "trials: 2000000000000", "trials", "between 1 and"},
      {"axes:", "description: \"a\\u0001b\"\naxes:", "description", "control characters"},
      {"bandwidth: [{rule: constant, value: 0.63}]",
       "bandwidth: [0.63, {rule: constant, value: 0.63}]", "axes.bandwidth[1]", "duplicate bandwidth"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.to) {
      ConfigError e = expect_error(replace(base, c.from, c.to));
      BOOST_TEST(e.key() == c.key);
      BOOST_TEST(std::string(e.what()).find(c.fragment) != std::string::npos, e.what());
      BOOST_TEST(e.line() > 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(too_many_cells) {
  std::string ns = "[";
  for (int i = 1; i <= 400; ++i) ns += (i > 1 ? ", " : "") + std::to_string(i);
  ns += "]";
  std::string hs = "[";
  for (int i = 1; i <= 300; ++i) hs += (i > 1 ? ", " : "") + std::to_string(i) + ".5";
  hs += "]";
  std::string text = replace(replace(base, "n: [100, 200]", "n: " + ns),
                             "bandwidth: [{rule: constant, value: 0.63}]", "bandwidth: " + hs);
  ConfigError e = expect_error(text);
  BOOST_TEST(e.key() == "axes");
  BOOST_TEST(std::string(e.what()).find("120000.0 cells") != std::string::npos, e.what());
}

// ------------------------------------------------------------------ overrides

BOOST_AUTO_TEST_CASE(set_overrides_scalars_and_scalar_lists) {
  LoadedStudy plain = load_study_text(base, "t.yaml");
  LoadedStudy s = load_study_text(base, "t.yaml",
                                  {"trials=12", "seed=99", "axes.n=[10, 20, 30]",
                                   "axes.bandwidth[0].value=0.25", "axes.d=3",
                                   "axes.query[0].point=0.5", "errors=[S1]"});
  const EstimatorStudy& st = estimator(s);
  BOOST_TEST(st.trials == 12u);
  BOOST_TEST(st.seed == 99u);
  BOOST_TEST((st.errors == std::vector<std::string>{"S1"}));
  BOOST_REQUIRE(st.cells.size() == 3u);
  BOOST_TEST(st.cells[2].n == 30);
  BOOST_TEST(st.cells[0].bandwidth.value == 0.25);
  BOOST_TEST(st.cells[0].distribution.d == 3);
  BOOST_TEST((st.cells[0].query.point == std::vector<double>{0.5, 0.5, 0.5}));
  BOOST_TEST(s.overrides.size() == 7u);
  BOOST_TEST(s.text == base);  // the verbatim file, not the overridden one
  BOOST_TEST(s.hash != plain.hash);
  BOOST_TEST(s.effective_yaml.find("trials: 12") != std::string::npos, s.effective_yaml);
  // Later overrides win.
  LoadedStudy twice = load_study_text(base, "t.yaml", {"trials=5", "trials=6"});
  BOOST_TEST(estimator(twice).trials == 6u);
  // A --set that restates the file changes nothing, hash included.
  LoadedStudy same = load_study_text(base, "t.yaml", {"trials=100"});
  BOOST_TEST(same.hash == plain.hash);
  // A new optional key may be added by --set.
  LoadedStudy described = load_study_text(base, "t.yaml", {"description=hello"});
  BOOST_TEST(described.effective_yaml.find("description: hello") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_set_is_reported_against_the_set) {
  struct Case {
    std::string set, key, fragment;
  };
  const std::vector<Case> cases{
      {"trials", "", "expected key=value"},
      {"=5", "", "missing key"},
      {"trials=", "trials", "missing value"},
      {"trails=5", "trails", "unknown key 'trails'"},
      {"axes.nn=5", "axes.nn", "unknown key 'nn'"},
      {"axes=5", "axes", "is a mapping"},
      {"axes.bandwidth=0.5", "axes.bandwidth", "list of mappings"},
      {"axes.n[7]=5", "axes.n[7]", "out of range"},
      {"axes.n.x=5", "axes.n.x", "is a list"},
      {"trials.x=5", "trials.x", "not a mapping"},
      {"trials[0]=5", "trials[0]", "not a list"},
      {"trials=abc", "trials", "expected an integer"},
      {"trials={a: 1}", "trials", "scalar or a list of scalars"},
      {"trials=[1, [2]]", "trials", "scalar or a list of scalars"},
      {"trials=[1, 2", "trials", "cannot parse the value"},
      {"axes.n=[]", "axes.n", "must not be empty"},
      {"a..b=1", "a..b", "empty key segment"},
      {"axes.n[x]=1", "axes.n[x]", "malformed list index"},
      {"trials=!!str 5", "trials", "explicit YAML tags"},
      {"kind=training2", "kind", "unknown kind"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.set) {
      ConfigError e = expect_error(base, {"seed=8", c.set});
      BOOST_TEST(e.file() == "--set " + c.set);
      BOOST_TEST(e.line() == 0);
      BOOST_TEST(e.key() == c.key);
      BOOST_TEST(std::string(e.what()).find(c.fragment) != std::string::npos, e.what());
      BOOST_TEST(std::string(e.what()).rfind("--set " + c.set + ": ", 0) == 0u, e.what());
    }
  }
  // An error in the file is still reported at the file, even with overrides present.
  ConfigError e = expect_error(replace(base, "seed: 7", "seed: x"), {"trials=5"});
  BOOST_TEST(e.file() == "t.yaml");
  BOOST_TEST(e.line() == 2);
}

// ------------------------------------------------------------------ hash and canonical form

BOOST_AUTO_TEST_CASE(fnv1a64_known_values) {
  // Reference values of FNV-1a 64 (Fowler/Noll/Vo test suite).
  BOOST_TEST(fnv1a64_hex("") == "cbf29ce484222325");
  BOOST_TEST(fnv1a64_hex("a") == "af63dc4c8601ec8c");
  BOOST_TEST(fnv1a64_hex("foobar") == "85944171f73967e8");
}

BOOST_AUTO_TEST_CASE(hash_ignores_layout_but_not_meaning) {
  LoadedStudy a = load_study_text(base, "a.yaml");
  BOOST_TEST(a.hash.size() == 16u);
  BOOST_TEST(a.hash == fnv1a64_hex(a.effective_yaml));
  // Comments, key order, flow vs block, shorthands and number spellings do not matter...
  const std::string same = R"(# the same study, written differently
axes:
  query:
    - point: [1.0, 1.00]
  bandwidth: 0.63
  estimator: {llsfe: {degree: 2}}
  n:
    - 1e2
    - 200
  d: 2
  distribution: gaussian
errors: [S2_sp, S4_F]
trials: 100
seed: 7
kind: estimator
)";
  LoadedStudy b = load_study_text(same, "b.yaml");
  BOOST_TEST(b.effective_yaml == a.effective_yaml);
  BOOST_TEST(b.hash == a.hash);
  // ...defaults are spelled out, so omitting `errors` (default [S2_sp, S4_F]) is the same study.
  LoadedStudy c = load_study_text(replace(base, "errors: [S2_sp, S4_F]\n", ""), "c.yaml");
  BOOST_TEST(c.hash == a.hash);
  // Anything that changes the records changes the hash.
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"seed: 7", "seed: 8"}, {"trials: 100", "trials: 101"}, {"[S2_sp, S4_F]", "[S4_F, S2_sp]"},
           {"[100, 200]", "[200, 100]"}, {"value: 0.63", "value: 0.630000001"},
           {"[gaussian]", "[paper_mixture]"}, {"[llsfe]", "[kde]"}, {"[1, 1]", "[1, 2]"}}) {
    BOOST_TEST_CONTEXT(to) { BOOST_TEST(load_study_text(replace(base, from, to), "x").hash != a.hash); }
  }
}

BOOST_AUTO_TEST_CASE(canonical_form_is_pinned) {
  // The canonical text is what the hash covers and what output files store: changing how it is
  // written makes every existing output file refuse to resume. Change this only on purpose.
  LoadedStudy s = load_study_text(base, "t.yaml");
  const std::string expected = R"(kind: estimator
seed: 7
trials: 100
errors: [S2_sp, S4_F]
axes:
  distribution:
    - gaussian
  d: [2]
  n: [100, 200]
  estimator:
    - {llsfe: {degree: 2, kernel: gaussian}}
  bandwidth:
    - {rule: constant, value: 0.63}
  query:
    - {point: [1.0, 1.0]}
)";
  BOOST_TEST(s.effective_yaml == expected);
  BOOST_TEST(s.hash == fnv1a64_hex(expected));
}

BOOST_AUTO_TEST_CASE(canonical_form_is_a_fixed_point) {
  // Loading the effective YAML again gives the same study: same text, same hash, same cells.
  std::vector<std::string> texts{base};
  for (const auto& f : yaml_files(source_dir / "configs")) texts.push_back(read_text(f));
  texts.push_back(R"(kind: estimator
description: "odd labels: 'yes', 1e5, null"
seed: 0
trials: 1
axes:
  distribution:
    - {gaussian: {mean: [1e-300, -2.5e+10], cov: [[3, 1e-3], [1e-3, 2]]}, label: "true"}
    - {mixture: [{mean: 1, cov: [1, 2]}, {weight: 2.5, mean: [0, 0]}], label: "1e5"}
    - {student_t: {nu: 4.000001}, label: "null"}
    - {preset: laplace, label: L-1.5}
  d: [2]
  n: 3
  estimator: [kde]
  bandwidth: [{rule: theory, value: 0.1, degree: 0}, 1e-7]
  query: [sample, {point: -0.0}]
)");
  for (const auto& text : texts) {
    LoadedStudy first = load_study_text(text, "first.yaml");
    LoadedStudy again = load_study_text(first.effective_yaml, "again.yaml");
    BOOST_TEST(again.effective_yaml == first.effective_yaml);
    BOOST_TEST(again.hash == first.hash);
    BOOST_TEST(again.runner->cell_count() == first.runner->cell_count());
    BOOST_TEST(again.kind == first.kind);
    if (first.kind != "estimator") continue;  // training cells: tests/study training cases
    const auto& c1 = estimator(first).cells;
    const auto& c2 = estimator(again).cells;
    for (std::size_t i = 0; i < c1.size(); ++i) {
      BOOST_TEST(c1[i].distribution.name == c2[i].distribution.name);
      BOOST_TEST(c1[i].bandwidth.value == c2[i].bandwidth.value);  // shortest round-trip: exact
      BOOST_TEST(c1[i].query.point == c2[i].query.point);
      for (std::size_t k = 0; k < c1[i].distribution.components.size(); ++k)
        BOOST_TEST((c1[i].distribution.components[k].cov == c2[i].distribution.components[k].cov));
    }
  }
}

// ------------------------------------------------------------------ shipped configs never rot

BOOST_AUTO_TEST_CASE(every_shipped_config_validates) {
  const auto files = yaml_files(source_dir / "configs");
  BOOST_TEST(files.size() >= 7u);
  for (const auto& f : files) {
    BOOST_TEST_CONTEXT(f.string()) {
      try {
        LoadedStudy s = load_study_file(f.string());
        BOOST_TEST(s.runner->cell_count() > 0u);
        BOOST_TEST(s.text == read_text(f));
      } catch (const ConfigError& e) {
        BOOST_FAIL(e.what());
      }
    }
  }
  // The paper configs state SPEC §5's choices.
  LoadedStudy fig1 = load_study_file((source_dir / "configs/paper/fig1_gaussian.yaml").string());
  const auto& st = estimator(fig1);
  BOOST_TEST(st.trials == 50000u);
  BOOST_REQUIRE(st.cells.size() == 7u);
  const std::int64_t grid[] = {100, 200, 500, 1000, 2000, 5000, 10000};
  for (std::size_t c = 0; c < 7; ++c) {
    BOOST_TEST(st.cells[c].n == grid[c]);
    BOOST_TEST(st.cells[c].bandwidth.value == 0.63);
    BOOST_TEST((st.cells[c].bandwidth.kind == BandwidthRule::Kind::constant));
    BOOST_TEST((st.cells[c].query.point == std::vector<double>{1.0, 1.0}));
  }
  LoadedStudy alt = load_study_file(
      (source_dir / "configs/paper/fig1_gaussian_sampled_query.yaml").string());
  BOOST_TEST(estimator(alt).cells[0].bandwidth.value == std::sqrt(0.5));
  BOOST_TEST((estimator(alt).cells[0].query.kind == QueryRule::Kind::sample));
}

BOOST_AUTO_TEST_CASE(unreadable_files) {
  try {
    load_study_file("/nonexistent/dir/study.yaml");
    BOOST_FAIL("no error");
  } catch (const ConfigError& e) {
    BOOST_TEST(e.file() == "/nonexistent/dir/study.yaml");
    BOOST_TEST(std::string(e.what()).find("cannot open") != std::string::npos);
  }
  try {
    load_study_file((source_dir / "configs").string());
    BOOST_FAIL("no error");
  } catch (const ConfigError& e) {
    BOOST_TEST(std::string(e.what()).find("is a directory") != std::string::npos);
  }
}

// ------------------------------------------------------------------ hostile input

BOOST_AUTO_TEST_CASE(hostile_inputs_only_raise_config_errors) {
  std::vector<std::string> inputs{
      "",
      "   \n# only a comment\n",
      "kind: estimator\n---\nkind: estimator\n",
      std::string(100000, '['),
      std::string(5000, '{') + std::string(5000, '}'),
      "a: &x [1, *x]\n",                                   // alias cycle
      "kind: estimator\naxes: &a {distribution: *a}\n",
      "kind: *undefined_alias\n",
      // billion laughs
      "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
      "kind: estimator\n",
      std::string("kind: estimator\0seed: 1\n", 24),
      "[1, 2]\n",
      "just text",
      "? [a, b]\n: 1\n",
      "kind: estimator\nseed: 1\ntrials: 1\naxes: {distribution: gaussian, d: 2147483648, n: 1, "
      "bandwidth: 1, query: sample}\n",
      "kind: estimator\nseed: 1\ntrials: 1\naxes: {distribution: gaussian, d: 2, n: 1, "
      "bandwidth: 1e309, query: sample}\n",
      "kind: estimator\nseed: 1\ntrials: 1\naxes: {distribution: {gaussian: {mean: [" +
          std::string(400, '1').insert(1, ",") + "]}}, n: 1, bandwidth: 1, query: sample}\n",
      "\xff\xfe\x00k\x00i\x00n\x00d",
      "kind: \"\\xff\\u0000\"\n",
      "%YAML 1.2\n%TAG ! tag:x,2000:\n--- !foo\nkind: estimator\n",
  };
  for (const auto& text : inputs) {
    BOOST_TEST_CONTEXT(text.substr(0, 60)) {
      try {
        load_study_text(text, "h.yaml");
        BOOST_FAIL("accepted");
      } catch (const ConfigError& e) {
        BOOST_TEST(std::string(e.what()).rfind("h.yaml", 0) == 0u, e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(texts_that_hang_yaml_cpp_are_rejected_first) {
  // Each of these makes yaml-cpp 0.7's LoadAll loop forever; the loader must answer at once.
  for (const std::string text : {",", ", a", "- a\n,b", ",kind: estimator\nseed: 7\n", "a:\n  - ,x\n"}) {
    BOOST_TEST_CONTEXT(text) {
      BOOST_CHECK_THROW(load_study_text(text, "h.yaml"), ConfigError);
      BOOST_TEST(study_detail::find_block_level_comma(text).line > 0);
    }
  }
  // and valid YAML with commas where YAML allows them is still read as YAML
  for (const std::string text : {"a: b, c\n", "a: [1, 2]\n", "a: {x: 1, y: 2}\n", "a: ',b'\n",
                                 "a: |\n  , text\n", "# , comment\na: 1\n", "a: \"x\\\", y\"\n"}) {
    BOOST_TEST_CONTEXT(text) { BOOST_TEST(study_detail::find_block_level_comma(text).line == 0); }
  }
}

BOOST_AUTO_TEST_CASE(mutated_configs_only_raise_config_errors) {
  // A small deterministic fuzz: byte edits of a valid config with YAML-significant characters.
  // Every outcome must be a loaded study or a ConfigError (anything else escapes and fails).
  const std::string seed_text = replace(
      base, "distribution: [gaussian]",
      "distribution: [gaussian, {mixture: [{weight: 1, mean: [1, 1], cov: [[1, 0], [0, 1]]}, "
      "{mean: -1}]}]");
  const std::string alphabet = "[]{}:,-&*!|>'\"#?%@` \n\t0123456789.eE+-_abcxyz";
  std::mt19937_64 rng(12345);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = seed_text;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !text.empty(); ++k) {
      const std::size_t at = rng() % text.size();
      switch (rng() % 4) {
        case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: text.erase(at, 1 + rng() % 8); break;
        default: text = text.substr(0, at); break;
      }
    }
    try {
      LoadedStudy s = load_study_text(text, "m.yaml");
      ++loaded;
      BOOST_TEST(s.runner->cell_count() > 0u);
    } catch (const ConfigError&) {
      ++rejected;
    }
  }
  BOOST_TEST_MESSAGE("mutations loaded " << loaded << ", rejected " << rejected);
  BOOST_TEST(rejected > 0);
}
