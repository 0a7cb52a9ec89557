#pragma once
// YAML study configs -> TrialRunner. The only place that knows YAML.
//
// The schema (every key, its type and default) is documented in the README section "Configure a
// study" and exercised by tests/study. In short:
//
//   kind: estimator            # required: estimator | training
//   description: free text     # optional
//   seed: 20190416             # required, integer in [0, 2^64)
//   trials: 50000              # required, integer >= 1 (trials per cell)
//   errors: [S2_sp, S4_F]      # optional, default [S2_sp, S4_F]
//   axes:                      # required; cells are the Cartesian product of these lists
//     distribution: [gaussian] # required
//     d: [2]                   # required unless every distribution fixes its own dimension
//     n: [100, 1000]           # required
//     estimator: [llsfe]       # optional, default [llsfe]
//     bandwidth: [{rule: constant, value: 0.63}]  # required
//     query: [{point: [1, 1]}] # required
//
// Cells enumerate as nested loops in the axis order above (distribution slowest, query fastest),
// whatever order the keys have in the file.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "scorefarm/core/trial.hpp"

namespace scorefarm {

// A config problem, located. what() is "file:line:column: key: message" (line/column 1-based), the
// form editors and compilers use, so users can jump straight to it. When the position is unknown
// (line 0), e.g. for a --set override or an unreadable file, what() is "file: key: message", and
// `file` then names the override ("--set trials=0"). The key part is omitted when empty.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, int column, std::string key, std::string message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& key() const { return key_; }  // dotted path, e.g. "axes.n[2]"
  const std::string& message() const { return message_; }  // without position and key
 private:
  std::string file_, key_, message_;
  int line_, column_;
};

struct LoadedStudy {
  std::string path;              // as given
  std::string text;              // the file's bytes, verbatim
  std::vector<std::string> overrides;  // the --set key=value strings, in order
  std::string effective_yaml;    // canonical YAML of the config after overrides
  std::string hash;              // 16 hex digits, FNV-1a 64 of effective_yaml: identifies the study
  std::string kind;              // "estimator" or "training"
  std::unique_ptr<TrialRunner> runner;
};

// Reads, applies `overrides` ("dotted.key=value", scalars only), validates strictly and builds the
// runner. Throws ConfigError for every user mistake; never touches any other file.
LoadedStudy load_study_file(const std::string& path, const std::vector<std::string>& overrides = {});
// The same from text; `name_for_errors` stands for the file name in messages. Total: on ANY input
// it either returns or throws ConfigError (it is fuzzed).
LoadedStudy load_study_text(const std::string& text, const std::string& name_for_errors,
                            const std::vector<std::string>& overrides = {});

// ---- Details shared with tools and tests ----

// The effective YAML is canonical: keys in schema order, every default filled in, numbers in one
// spelling (integers in decimal, reals in shortest round-trip form), comments and layout dropped.
// Two configs that differ only in those respects have the same hash; loading the effective YAML
// again gives the same effective YAML.

// FNV-1a 64 of `text`, as 16 lowercase hex digits.
std::string fnv1a64_hex(const std::string& text);

// The trial kinds this build understands.
std::vector<std::string> study_kinds();

// Limits that keep a mistaken (or hostile) config from exhausting memory or time while loading.
namespace config_limits {
inline constexpr std::size_t max_text_bytes = 1u << 20;  // 1 MiB of YAML
inline constexpr int max_depth = 32;                      // nesting levels (catches alias cycles)
inline constexpr std::size_t max_nodes = 200000;          // nodes visited (catches alias bombs)
inline constexpr std::size_t max_cells = 100000;
inline constexpr int max_estimator_dim = 32;              // S4 has d^4 entries
inline constexpr int max_training_dim = 1024;
inline constexpr std::int64_t max_n = 1000000000;         // samples per trial
inline constexpr std::uint64_t max_trials = std::uint64_t(1) << 40;
}  // namespace config_limits

}  // namespace scorefarm
