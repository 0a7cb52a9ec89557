#include "overrides.hpp"

#include <cctype>

namespace scorefarm::study_detail {

namespace {

struct Step {
  bool is_index = false;
  std::string key;
  std::size_t index = 0;
};

bool is_scalar_list(const YAML::Node& node) {
  if (!node.IsSequence()) return false;
  for (const auto& child : node)
    if (!child.IsScalar()) return false;
  return true;
}

}  // namespace

void apply_override(Context& ctx, YAML::Node& root, const std::string& text) {
  const std::string origin = "--set " + text;
  auto fail = [&](const std::string& key, const std::string& message) -> void {
    throw ConfigError(origin, 0, 0, key, message);
  };
  std::size_t eq = text.find('=');
  if (eq == std::string::npos) fail("", "expected key=value");
  std::string key_text = text.substr(0, eq);
  std::string value_text = text.substr(eq + 1);
  if (key_text.empty()) fail("", "missing key before '='");

  // Parse the path: name ('.' name | '[' digits ']')*
  std::vector<Step> steps;
  std::size_t i = 0;
  while (i < key_text.size()) {
    if (key_text[i] == '[') {
      std::size_t close = key_text.find(']', i);
      if (steps.empty() || close == std::string::npos || close == i + 1 || close - i > 10)
        fail(key_text, "malformed list index in the key");
      std::size_t index = 0;
      for (std::size_t k = i + 1; k < close; ++k) {
        if (!std::isdigit(static_cast<unsigned char>(key_text[k])))
          fail(key_text, "malformed list index in the key");
        index = index * 10 + static_cast<std::size_t>(key_text[k] - '0');
      }
      steps.push_back({true, "", index});
      i = close + 1;
    } else {
      if (key_text[i] == '.') {
        if (steps.empty()) fail(key_text, "key must not start with '.'");
        ++i;
      }
      std::size_t start = i;
      while (i < key_text.size() && key_text[i] != '.' && key_text[i] != '[') {
        char c = key_text[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
          fail(key_text, "keys are names made of letters, digits and '_'");
        ++i;
      }
      if (i == start) fail(key_text, "empty key segment");
      steps.push_back({false, key_text.substr(start, i - start), 0});
    }
  }

  // Canonical path, as the schema reader spells it.
  std::string path;
  for (const Step& s : steps) path = s.is_index ? index_path(path, s.index) : child_path(path, s.key);

  YAML::Node value;
  if (find_block_level_comma(value_text).line > 0)
    fail(path, "cannot parse the value: ',' cannot begin a value outside [ ] or { }");
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    fail(path, "cannot parse the value: " + e.msg);
  }
  if (!value.IsDefined() || value.IsNull()) fail(path, "missing value after '='");
  if (!value.IsScalar() && !is_scalar_list(value))
    fail(path, "the value must be a scalar or a list of scalars, e.g. 7 or [100, 200]");
  const std::string& tag = value.Tag();
  if (!tag.empty() && tag != "?" && tag != "!") fail(path, "explicit YAML tags are not supported");
  for (const auto& child : value)
    if (!child.Tag().empty() && child.Tag() != "?" && child.Tag() != "!")
      fail(path, "explicit YAML tags are not supported");
  if (value.IsSequence()) value.SetStyle(YAML::EmitterStyle::Flow);

  // Walk to the parent of the last step. const access never inserts keys.
  YAML::Node current = root;
  std::string walked;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const Step& step = steps[s];
    bool last = s + 1 == steps.size();
    const YAML::Node& parent = current;
    YAML::Node child;
    if (step.is_index) {
      if (!parent.IsSequence())
        fail(path, "'" + walked + "' is not a list; it cannot be indexed");
      if (step.index >= parent.size())
        fail(path, "'" + walked + "' has " + std::to_string(parent.size()) + " entries; index " +
                       std::to_string(step.index) + " is out of range");
      child.reset(parent[step.index]);
      walked = index_path(walked, step.index);
    } else {
      if (!parent.IsMap()) {
        if (parent.IsSequence())
          fail(path, "'" + walked + "' is a list; select an entry, e.g. " + walked + "[0]");
        fail(path, "'" + walked + "' is not a mapping; it has no key '" + step.key + "'");
      }
      bool found = false;
      for (const auto& kv : parent) {
        if (kv.first.Scalar() == step.key) {
          child.reset(kv.second);
          found = true;
          break;
        }
      }
      walked = child_path(walked, step.key);
      if (!found) {
        if (!last) fail(path, "unknown key: the config has no '" + walked + "'");
        YAML::Node insert_into = current;
        insert_into[step.key] = value;  // a new key: the schema decides whether it is allowed
        ctx.add_override({path, text});
        return;
      }
    }
    if (last) {
      if (child.IsMap())
        fail(path, "'" + path + "' is a mapping; set its fields one by one, e.g. " + path +
                       ".<key>=...");
      if (child.IsSequence() && !is_scalar_list(child))
        fail(path, "'" + path + "' is a list of mappings; set their fields one by one, e.g. " +
                       path + "[0].<key>=...");
      if (step.is_index) {
        YAML::Node seq = current;
        seq[step.index] = value;
      } else {
        YAML::Node map = current;
        map[step.key] = value;
      }
      ctx.add_override({path, text});
      return;
    }
    current.reset(child);  // rebind the handle; operator= would overwrite the node itself
  }
}

}  // namespace scorefarm::study_detail
