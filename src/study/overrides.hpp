#pragma once
// --set key=value: replace one scalar (or list of scalars) of a parsed config by dotted path.
#include <string>

#include <yaml-cpp/yaml.h>

#include "yaml_reader.hpp"

namespace scorefarm::study_detail {

// `text` is "path=value". The path is dotted keys with optional list indices ("trials",
// "axes.n", "axes.bandwidth[0].value"); the value is YAML ("7", "[100, 200]", "gaussian").
// Every intermediate key must exist; the last key may be new (the schema then decides whether
// it is allowed). Only scalars and lists of scalars can be replaced, and only by scalars or
// lists of scalars. Registers the override with `ctx`, so later schema errors inside the value
// are reported against the --set instead of the file. Throws ConfigError.
void apply_override(Context& ctx, YAML::Node& root, const std::string& text);

}  // namespace scorefarm::study_detail
