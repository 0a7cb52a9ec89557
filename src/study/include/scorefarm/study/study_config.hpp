#pragma once
// YAML study configs -> TrialRunner. The only place that knows YAML.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "scorefarm/core/trial.hpp"

namespace scorefarm {

// A config problem, located. what() is "file:line:column: message" (line/column 1-based; 0 when
// unknown), the form editors and compilers use, so users can jump straight to it.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, int column, std::string key, std::string message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& key() const { return key_; }  // dotted path, e.g. "axes.n[2]"
 private:
  std::string file_, key_;
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
LoadedStudy load_study_text(const std::string& text, const std::string& name_for_errors,
                            const std::vector<std::string>& overrides = {});

}  // namespace scorefarm
