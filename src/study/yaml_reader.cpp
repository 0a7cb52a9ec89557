#include "yaml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

namespace scorefarm::study_detail {

namespace {

bool starts_with_path(const std::string& path, const std::string& prefix) {
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  if (path.size() == prefix.size()) return true;
  char next = path[prefix.size()];
  return next == '.' || next == '[';
}

// A short, printable rendering of a scalar for messages.
std::string quote_for_message(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (out.size() >= 40) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return "'" + out + "'";
}

bool is_plain(const YAML::Node& node) { return node.Tag() == "?"; }

// Parses the whole text as a number; rejects trailing garbage, hex, inf and nan.
bool parse_double(const std::string& text, double& out) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-'))
      return false;
  }
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value)) return false;
  out = value;
  return true;
}

bool parse_integer_text(const std::string& text, bool& negative, std::uint64_t& magnitude) {
  std::size_t i = 0;
  negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (i == text.size() || text.size() - i > 20) return false;
  std::uint64_t value = 0;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  magnitude = value;
  return true;
}

// True when a string would not read back as the same string if written plain.
bool needs_quotes(const std::string& text) {
  if (text.empty()) return true;
  double ignored;
  if (parse_double(text, ignored)) return true;
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* const words[] = {"null", "~", "true", "false", "yes", "no", "on", "off",
                                      "y", "n", ".inf", "-.inf", "+.inf", ".nan"};
  for (const char* w : words)
    if (lower == w) return true;
  return false;
}

void emit_node(YAML::Emitter& out, const YAML::Node& node, bool flow) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (node.Tag() == "!")
        out << YAML::DoubleQuoted << node.Scalar();
      else
        out << node.Scalar();
      break;
    case YAML::NodeType::Sequence:
      flow = flow || node.Style() == YAML::EmitterStyle::Flow;
      out << (flow ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
      for (const auto& child : node) emit_node(out, child, flow);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Map:
      flow = flow || node.Style() == YAML::EmitterStyle::Flow;
      out << (flow ? YAML::Flow : YAML::Block) << YAML::BeginMap;
      for (const auto& kv : node) {
        out << YAML::Key << kv.first.Scalar() << YAML::Value;
        emit_node(out, kv.second, flow);
      }
      out << YAML::EndMap;
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

TextPosition find_block_level_comma(const std::string& text) {
  int line = 1, column = 0;
  int flow_depth = 0;
  char quote = 0;            // inside '...' or "..."
  bool comment = false;      // until the end of the line
  bool node_start = true;    // the next non-blank character would begin a node
  int block_scalar_indent = -1;  // inside a | or > block: lines indented more than this
  int indent = 0;            // indentation of the current line
  bool line_blank = true;
  char previous = '\n';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    ++column;
    if (c == '\n') {
      ++line;
      column = 0;
      comment = false;
      indent = 0;
      line_blank = true;
      if (flow_depth == 0 && quote == 0) node_start = true;
      previous = c;
      continue;
    }
    if (line_blank && c == ' ') {
      ++indent;
      previous = c;
      continue;
    }
    if (line_blank) {
      line_blank = false;
      if (block_scalar_indent >= 0) {
        if (indent > block_scalar_indent) comment = true;  // block scalar text: skip the line
        else block_scalar_indent = -1;
      }
    }
    if (comment) {
      previous = c;
      continue;
    }
    if (quote != 0) {
      if (c == '\\' && quote == '"') ++i, ++column;
      else if (c == quote) quote = 0;
      previous = c;
      continue;
    }
    const bool blank_before = previous == ' ' || previous == '\t' || previous == '\n';
    if (c == '#' && blank_before) {
      comment = true;
    } else if (c == ' ' || c == '\t') {
      // keeps node_start as it is
    } else if (flow_depth > 0) {
      if (c == '[' || c == '{') ++flow_depth;
      else if (c == ']' || c == '}') --flow_depth;
      else if ((c == '\'' || c == '"') && (blank_before || previous == '[' || previous == '{' ||
                                            previous == ',' || previous == ':'))
        quote = c;
      if (flow_depth == 0) node_start = false;
    } else if (node_start) {
      const char next = i + 1 < text.size() ? text[i + 1] : '\n';
      const bool indicator = next == ' ' || next == '\n' || next == '\t' || next == '\r';
      if (c == ',') return {line, column};
      if (c == '[' || c == '{') {
        ++flow_depth;
        node_start = false;
      } else if (c == '\'' || c == '"') {
        quote = c;
        node_start = false;
      } else if ((c == '-' || c == '?' || c == ':') && indicator) {
        // a sequence entry, complex key or value indicator: a node follows
      } else if ((c == '|' || c == '>') ) {
        block_scalar_indent = indent;
        comment = true;  // the header's rest (indentation and chomping indicators)
        node_start = false;
      } else if (c == '&' || c == '!' ) {
        // anchor or tag: the node itself follows after the next blank
        while (i + 1 < text.size() && text[i + 1] != ' ' && text[i + 1] != '\n') ++i, ++column;
      } else {
        node_start = false;
      }
    } else if (c == ':' ) {
      const char next = i + 1 < text.size() ? text[i + 1] : '\n';
      if (next == ' ' || next == '\n' || next == '\t' || next == '\r') node_start = true;
    }
    previous = c;
  }
  return {};
}

void Context::fail(const YAML::Mark& mark, const std::string& path,
                   const std::string& message) const {
  for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it)
    if (starts_with_path(path, it->path)) throw ConfigError("--set " + it->text, 0, 0, path, message);
  if (mark.is_null() || mark.line < 0) throw ConfigError(file_, 0, 0, path, message);
  throw ConfigError(file_, mark.line + 1, mark.column + 1, path, message);
}

YAML::Mark Item::mark() const {
  if (present()) {
    YAML::Mark m = node.Mark();
    if (!m.is_null()) return m;
  }
  return key_mark;
}

Item root_item(const Context& ctx, const YAML::Node& root) {
  Item item;
  item.ctx = &ctx;
  item.node.reset(root);
  item.key_mark = root.Mark();
  if (item.key_mark.is_null()) item.key_mark = YAML::Mark();
  return item;
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string describe_node(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return "the text " + quote_for_message(node.Scalar());
}

void scan_tree(const Context& ctx, const YAML::Node& root, const std::string& root_path,
               const YAML::Mark& root_key_mark) {
  std::size_t visited = 0;
  // Explicit stack: no recursion, whatever the input.
  struct Frame {
    YAML::Node node;
    std::string path;
    YAML::Mark key_mark;
    int depth;
  };
  std::vector<Frame> stack{{root, root_path, root_key_mark, 0}};
  while (!stack.empty()) {
    Frame frame = std::move(stack.back());
    stack.pop_back();
    const YAML::Node& node = frame.node;
    YAML::Mark mark = node.Mark().is_null() ? frame.key_mark : node.Mark();
    if (++visited > config_limits::max_nodes)
      ctx.fail(mark, frame.path, "config too large (more than " +
                                     std::to_string(config_limits::max_nodes) +
                                     " values, counting repeated aliases)");
    if (frame.depth > config_limits::max_depth)
      ctx.fail(mark, frame.path,
               "nested more than " + std::to_string(config_limits::max_depth) +
                   " levels deep (or an alias that contains itself)");
    const std::string& tag = node.Tag();
    if (!tag.empty() && tag != "?" && tag != "!")
      ctx.fail(mark, frame.path, "explicit YAML tags such as '" + tag.substr(0, 40) +
                                     "' are not supported; write the plain value");
    if (node.IsSequence()) {
      std::size_t i = 0;
      for (const auto& child : node) {
        stack.push_back({child, index_path(frame.path, i), mark, frame.depth + 1});
        ++i;
      }
    } else if (node.IsMap()) {
      std::map<std::string, YAML::Mark> seen;
      for (const auto& kv : node) {
        YAML::Mark key_mark = kv.first.Mark().is_null() ? mark : kv.first.Mark();
        if (!kv.first.IsScalar() || kv.first.Scalar().empty())
          ctx.fail(key_mark, frame.path, "mapping keys must be plain names, found " +
                                             describe_node(kv.first) + " as a key");
        const std::string& key = kv.first.Scalar();
        auto [it, inserted] = seen.emplace(key, key_mark);
        if (!inserted)
          ctx.fail(key_mark, child_path(frame.path, key),
                   "duplicate key '" + key.substr(0, 40) + "' (first given at line " +
                       std::to_string(it->second.line + 1) + ")");
        stack.push_back({kv.second, child_path(frame.path, key), key_mark, frame.depth + 1});
      }
    }
  }
}

MapReader::MapReader(const Item& item, std::vector<std::string> allowed)
    : item_(item), allowed_(std::move(allowed)) {
  if (!item_.present()) item_.fail_at_key("missing value: expected a mapping");
  if (!item_.node.IsMap()) item_.fail("expected a mapping, found " + describe_node(item_.node));
  for (const auto& kv : item_.node) {
    const std::string& key = kv.first.Scalar();
    if (std::find(allowed_.begin(), allowed_.end(), key) == allowed_.end()) {
      std::string known;
      for (const auto& a : allowed_) known += (known.empty() ? "" : ", ") + a;
      YAML::Mark key_mark = kv.first.Mark().is_null() ? item_.mark() : kv.first.Mark();
      item_.ctx->fail(key_mark, child_path(item_.path, key),
                      "unknown key '" + key.substr(0, 40) + "' (allowed here: " + known + ")");
    }
  }
}

bool MapReader::has(const std::string& key) const { return get(key).present(); }

Item MapReader::get(const std::string& key) const {
  Item child;
  child.ctx = item_.ctx;
  child.path = child_path(item_.path, key);
  child.key_mark = item_.mark();
  child.node.reset(YAML::Node(YAML::NodeType::Undefined));
  for (const auto& kv : item_.node) {
    if (kv.first.Scalar() == key) {
      child.node.reset(kv.second);
      if (!kv.first.Mark().is_null()) child.key_mark = kv.first.Mark();
      return child;
    }
  }
  return child;  // undefined node
}

Item MapReader::require(const std::string& key) const {
  Item child = get(key);
  if (!child.node.IsDefined())  // point at the key that opened this mapping ("axes:")
    item_.ctx->fail(item_.key_mark, child.path, "missing required key '" + key + "'");
  if (child.node.IsNull()) child.fail_at_key("missing value");
  return child;
}

std::string single_key(const Item& item, const std::vector<std::string>& extras) {
  std::string found;
  std::size_t count = 0;
  for (const auto& kv : item.node) {
    const std::string& key = kv.first.Scalar();
    if (std::find(extras.begin(), extras.end(), key) != extras.end()) continue;
    found = key;
    ++count;
  }
  if (count != 1)
    item.fail("expected exactly one kind key in this mapping, found " + std::to_string(count));
  return found;
}

std::int64_t read_int(const Item& item, std::int64_t lo, std::int64_t hi) {
  if (!item.present()) item.fail_at_key("missing value: expected an integer");
  if (!item.node.IsScalar()) item.fail("expected an integer, found " + describe_node(item.node));
  const std::string& text = item.node.Scalar();
  if (!is_plain(item.node))
    item.fail("expected an integer, found the quoted text " + quote_for_message(text));
  bool negative = false;
  std::uint64_t magnitude = 0;
  std::int64_t value = 0;
  if (parse_integer_text(text, negative, magnitude)) {
    if (magnitude > static_cast<std::uint64_t>(INT64_MAX))
      item.fail("integer " + quote_for_message(text) + " is out of range");
    value = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  } else {
    // Allow exact integers written as reals, e.g. 5e4.
    double real = 0;
    if (!parse_double(text, real) || std::floor(real) != real || std::fabs(real) > 9.0e15)
      item.fail("expected an integer, found " + describe_node(item.node));
    value = static_cast<std::int64_t>(real);
  }
  if (value < lo || value > hi) {
    if (hi == INT64_MAX)
      item.fail("must be at least " + std::to_string(lo) + ", found " + std::to_string(value));
    item.fail("must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
              ", found " + std::to_string(value));
  }
  return value;
}

std::uint64_t read_uint64(const Item& item) {
  if (!item.present()) item.fail_at_key("missing value: expected an integer");
  if (!item.node.IsScalar()) item.fail("expected an integer, found " + describe_node(item.node));
  const std::string& text = item.node.Scalar();
  if (!is_plain(item.node))
    item.fail("expected an integer, found the quoted text " + quote_for_message(text));
  bool negative = false;
  std::uint64_t magnitude = 0;
  if (!parse_integer_text(text, negative, magnitude))
    item.fail("expected an integer in [0, 2^64), found " + describe_node(item.node));
  if (negative && magnitude != 0) item.fail("must not be negative, found " + text);
  return magnitude;
}

double read_double(const Item& item) {
  if (!item.present()) item.fail_at_key("missing value: expected a number");
  if (!item.node.IsScalar()) item.fail("expected a number, found " + describe_node(item.node));
  const std::string& text = item.node.Scalar();
  if (!is_plain(item.node))
    item.fail("expected a number, found the quoted text " + quote_for_message(text));
  double value = 0;
  if (!parse_double(text, value))
    item.fail("expected a finite number, found " + describe_node(item.node));
  return value;
}

double read_positive(const Item& item) {
  double value = read_double(item);
  if (!(value > 0)) item.fail("must be > 0, found " + item.node.Scalar());
  return value;
}

bool read_bool(const Item& item) {
  if (!item.present()) item.fail_at_key("missing value: expected true or false");
  if (!item.node.IsScalar() || !is_plain(item.node) ||
      (item.node.Scalar() != "true" && item.node.Scalar() != "false"))
    item.fail("expected true or false, found " + describe_node(item.node));
  return item.node.Scalar() == "true";
}

std::string read_string(const Item& item) {
  if (!item.present()) item.fail_at_key("missing value: expected text");
  if (!item.node.IsScalar()) item.fail("expected text, found " + describe_node(item.node));
  const std::string& text = item.node.Scalar();
  if (text.empty()) item.fail("must not be empty");
  if (text.size() > 4096) item.fail("text longer than 4096 characters");
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f)
      item.fail("control characters are not allowed in text");
  }
  return text;
}

std::string read_name(const Item& item) {
  if (!item.present()) item.fail_at_key("missing value: expected a name");
  if (!item.node.IsScalar()) item.fail("expected a name, found " + describe_node(item.node));
  const std::string& text = item.node.Scalar();
  bool ok = !text.empty() && text.size() <= 64;
  for (char c : text)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!ok)
    item.fail("expected a name (letters, digits, '_', '-', '.'), found " + describe_node(item.node));
  return text;
}

std::vector<Item> read_list(const Item& item, bool allow_single) {
  if (!item.present()) item.fail_at_key("must not be empty");
  std::vector<Item> items;
  if (!item.node.IsSequence()) {
    if (!allow_single) item.fail("expected a list, found " + describe_node(item.node));
    items.push_back(item);
    return items;
  }
  if (item.node.size() == 0) item.fail("must not be empty");
  std::size_t i = 0;
  for (const auto& child : item.node) {
    Item entry;
    entry.ctx = item.ctx;
    entry.node.reset(child);
    entry.path = index_path(item.path, i++);
    entry.key_mark = item.mark();
    if (!child.Mark().is_null()) entry.key_mark = child.Mark();
    items.push_back(entry);
  }
  return items;
}

std::vector<double> read_number_list(const Item& item) {
  std::vector<double> values;
  for (const Item& entry : read_list(item, false)) values.push_back(read_double(entry));
  return values;
}

std::string format_double(double value) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  // YAML 1.1 readers (PyYAML) need a '.' in the mantissa and a signed exponent to see a float.
  std::size_t e = text.find('e');
  std::string mantissa = text.substr(0, e);
  std::string exponent = e == std::string::npos ? "" : text.substr(e + 1);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  if (!exponent.empty() && exponent[0] != '-' && exponent[0] != '+') exponent = "+" + exponent;
  return exponent.empty() ? mantissa : mantissa + "e" + exponent;
}

YAML::Node scalar_node(const std::string& text) {
  YAML::Node node(text);
  if (needs_quotes(text)) node.SetTag("!");
  return node;
}

YAML::Node int_node(std::int64_t value) { return YAML::Node(std::to_string(value)); }
YAML::Node uint_node(std::uint64_t value) { return YAML::Node(std::to_string(value)); }
YAML::Node double_node(double value) { return YAML::Node(format_double(value)); }

YAML::Node flow_list(const std::vector<YAML::Node>& values) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (const auto& v : values) node.push_back(v);
  node.SetStyle(YAML::EmitterStyle::Flow);
  return node;
}

YAML::Node double_list(const std::vector<double>& values) {
  std::vector<YAML::Node> nodes;
  for (double v : values) nodes.push_back(double_node(v));
  return flow_list(nodes);
}

std::string emit(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit_node(out, node, false);
  if (!out.good()) throw std::runtime_error("cannot write the canonical YAML: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

std::string emit_flow(const YAML::Node& node) {
  YAML::Emitter out;
  emit_node(out, node, true);
  if (!out.good()) throw std::runtime_error("cannot write the canonical YAML: " + out.GetLastError());
  return out.c_str();
}

}  // namespace scorefarm::study_detail
