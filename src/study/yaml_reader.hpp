#pragma once
// Strict, located reading of a yaml-cpp tree (private to scorefarm::study).
//
// Every value is read through an Item that knows its dotted key path and where it sits in the
// file, so that every complaint becomes "file:line:column: key: message". Values that came from a
// --set override are reported against that override instead of a file position.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "scorefarm/study/study_config.hpp"

namespace scorefarm::study_detail {

struct OverrideOrigin {
  std::string path;  // canonical dotted path, e.g. "axes.n[1]"
  std::string text;  // the --set argument as given
};

class Context {
 public:
  explicit Context(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }
  void add_override(OverrideOrigin origin) { overrides_.push_back(std::move(origin)); }
  // Throws the ConfigError for a problem at `path` (file position `mark`, unless the path lies
  // inside a value set by an override).
  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& message) const;

 private:
  std::string file_;
  std::vector<OverrideOrigin> overrides_;
};

// One node being read. `node` may be undefined (a missing key). `key_mark` is where the key that
// introduced it sits (the best place to point at for "missing" or "empty" complaints).
// yaml-cpp's Node::operator= on a bound node overwrites the node in the tree; Item's assignment
// rebinds instead (Node::reset), so Items can be copied and assigned like values.
struct Item {
  Item() = default;
  Item(const Item& other) = default;
  Item& operator=(const Item& other) {
    ctx = other.ctx;
    node.reset(other.node);
    key_mark = other.key_mark;
    path = other.path;
    return *this;
  }

  const Context* ctx = nullptr;
  YAML::Node node;
  YAML::Mark key_mark;
  std::string path;

  bool present() const { return node.IsDefined() && !node.IsNull(); }
  YAML::Mark mark() const;  // the value's position when it has one, else key_mark
  [[noreturn]] void fail(const std::string& message) const { ctx->fail(mark(), path, message); }
  [[noreturn]] void fail_at_key(const std::string& message) const {
    ctx->fail(key_mark, path, message);
  }
};

// yaml-cpp 0.7 (Debian 12) never returns from Load/LoadAll when a block-level node starts with ','
// (", a", "- ,b": found by the mutation fuzz in tests/study). YAML forbids that anyway: ',' is an
// indicator and cannot begin a plain scalar outside [ ] and { }. Every text goes through this
// before yaml-cpp sees it; the first such ',' is returned as a 1-based (line, column), or (0, 0).
struct TextPosition {
  int line = 0, column = 0;
};
TextPosition find_block_level_comma(const std::string& text);

Item root_item(const Context& ctx, const YAML::Node& root);
std::string child_path(const std::string& parent, const std::string& key);
std::string index_path(const std::string& parent, std::size_t index);

// "a mapping", "a list", "the text 'abc'", "nothing"...: what a node is, for messages.
std::string describe_node(const YAML::Node& node);

// Generic checks on a raw tree before any schema is applied: nesting depth (which also stops alias
// cycles), total node visits (alias bombs), explicit tags, and mapping keys (plain scalars, no
// duplicates: yaml-cpp 0.7 silently accepts duplicate keys).
void scan_tree(const Context& ctx, const YAML::Node& node, const std::string& path,
               const YAML::Mark& key_mark);

// A mapping whose keys must all be in `allowed` (in schema order).
class MapReader {
 public:
  MapReader(const Item& item, std::vector<std::string> allowed);
  bool has(const std::string& key) const;        // present and not null
  Item get(const std::string& key) const;         // undefined node when missing
  Item require(const std::string& key) const;     // fails "missing required key" when absent
  const Item& item() const { return item_; }

 private:
  Item item_;
  std::vector<std::string> allowed_;
};

// The one key of a single-key mapping such as {gaussian: {...}} (plus optional extra keys from
// `extras`, e.g. "label"). Fails unless exactly one key outside `extras` is present.
std::string single_key(const Item& item, const std::vector<std::string>& extras);

// Scalars. Numbers must be plain (unquoted) scalars: `n: "100"` is a type error.
std::int64_t read_int(const Item& item, std::int64_t lo, std::int64_t hi);
std::uint64_t read_uint64(const Item& item);
double read_double(const Item& item);  // finite
double read_positive(const Item& item);  // finite and > 0
bool read_bool(const Item& item);        // true | false
std::string read_string(const Item& item);  // any scalar, non-empty
std::string read_name(const Item& item);    // a plain identifier [A-Za-z0-9_]+

// The entries of a list. When `allow_single` a lone non-list value stands for a one-entry list
// (`d: 2` means `d: [2]`). Fails on an empty list.
std::vector<Item> read_list(const Item& item, bool allow_single);
std::vector<double> read_number_list(const Item& item);

// Canonical spellings.
std::string format_double(double value);  // shortest round-trip; always with '.', YAML 1.1 safe
YAML::Node scalar_node(const std::string& text);
YAML::Node int_node(std::int64_t value);
YAML::Node uint_node(std::uint64_t value);
YAML::Node double_node(double value);
YAML::Node flow_list(const std::vector<YAML::Node>& values);
YAML::Node double_list(const std::vector<double>& values);
std::string emit(const YAML::Node& node);  // block style, flow where the node asks for it
std::string emit_flow(const YAML::Node& node);  // one line

}  // namespace scorefarm::study_detail
