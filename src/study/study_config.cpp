// Loading a study: text -> YAML tree -> overrides -> schema of its kind -> runner.
#include "scorefarm/study/study_config.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "kinds.hpp"
#include "overrides.hpp"
#include "yaml_reader.hpp"

namespace scorefarm {

using namespace study_detail;

std::vector<std::string> study_kinds() {
#ifdef SCOREFARM_HAVE_TRAINING
  return {"estimator", "training"};
#else
  return {"estimator"};
#endif
}

namespace {

// Counts the documents of a YAML stream, stopping at `limit`. YAML::LoadAll of yaml-cpp 0.7 loops
// forever (allocating a null document per turn) on a token no document rule consumes, such as a
// ',' after a tag, an anchor or a quoted scalar at block level (jbeder/yaml-cpp#1040, fixed
// upstream in 0.8.1 by #1319; fuzz_config findings, tests/fuzz/regressions/config). The first
// document is read with YAML::Load, which calls the parser once; this bounded count only tells
// whether a second document follows.
struct DocumentCounter : YAML::EventHandler {
  YAML::Mark second;  // where the second document's first node starts
  int documents = 0;
  bool located = false;
  void node(const YAML::Mark& mark) {
    if (documents == 2 && !located) second = mark, located = true;
  }
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}
};

DocumentCounter count_documents(const std::string& text, int limit) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.documents < limit && parser.HandleNextDocument(counter)) {
  }
  return counter;
}

LoadedStudy load_impl(const std::string& text, const std::string& name,
                      const std::vector<std::string>& overrides) {
  Context ctx(name);
  if (text.size() > config_limits::max_text_bytes)
    throw ConfigError(name, 0, 0, "", "config larger than 1 MiB");
  if (text.find('\0') != std::string::npos) {
    // yaml-cpp would stop reading at a NUL; say so rather than silently truncating.
    std::size_t at = text.find('\0');
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
    throw ConfigError(name, line, 0, "", "NUL byte in the config (not a text file?)");
  }
  if (TextPosition comma = find_block_level_comma(text); comma.line > 0)
    throw ConfigError(name, comma.line, comma.column, "",
                      "',' cannot begin a value outside [ ] or { } (a stray comma?)");
  YAML::Node root = YAML::Load(text);
  if (root.IsNull())
    throw ConfigError(name, 1, 1, "", "empty config: expected a mapping with kind, seed, trials and axes");
  if (const DocumentCounter counter = count_documents(text, 2); counter.documents > 1)
    ctx.fail(counter.second, "", "a study config is one YAML document; found a second one");
  scan_tree(ctx, root, "", root.Mark());
  if (!root.IsMap())
    ctx.fail(root.Mark(), "", "expected a mapping with kind, seed, trials and axes, found " +
                                  describe_node(root));
  for (const std::string& text_override : overrides) apply_override(ctx, root, text_override);

  // Read `kind` first, without judging the other keys: their schema depends on it.
  Item top = root_item(ctx, root);
  Item kind_item;
  kind_item.ctx = &ctx;
  kind_item.path = "kind";
  kind_item.key_mark = top.mark();
  kind_item.node.reset(YAML::Node(YAML::NodeType::Undefined));
  for (const auto& kv : root) {
    if (kv.first.Scalar() == "kind") {
      kind_item.node.reset(kv.second);
      kind_item.key_mark = kv.first.Mark();
    }
  }
  if (!kind_item.node.IsDefined())
    ctx.fail(top.mark(), "kind", "missing required key 'kind' (estimator or training)");
  std::string kind = read_name(kind_item);
  ParsedStudy parsed;
  if (kind == "estimator") {
    parsed = parse_estimator_study(top);
#ifdef SCOREFARM_HAVE_TRAINING
  } else if (kind == "training") {
    parsed = parse_training_study(top);
#endif
  } else if (kind == "training") {
    kind_item.fail("kind 'training' is not available in this build (no training module)");
  } else {
    std::string known;
    for (const auto& k : study_kinds()) known += (known.empty() ? "" : " or ") + k;
    kind_item.fail("unknown kind '" + kind + "' (expected " + known + ")");
  }

  LoadedStudy study;
  study.path = name;
  study.text = text;
  study.overrides = overrides;
  study.effective_yaml = emit(parsed.canonical);
  study.hash = fnv1a64_hex(study.effective_yaml);
  study.kind = kind;
  study.runner = std::move(parsed.runner);
  return study;
}

}  // namespace

LoadedStudy load_study_text(const std::string& text, const std::string& name_for_errors,
                            const std::vector<std::string>& overrides) {
  // Total: whatever goes wrong becomes a ConfigError naming the file.
  try {
    return load_impl(text, name_for_errors, overrides);
  } catch (const ConfigError&) {
    throw;
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own message, at its position; a tab in some indentation is the usual cause of
    // its vaguer complaints ("end of map not found"), so say so when there is one.
    std::string message = e.msg;
    if (message.find("tab") == std::string::npos &&
        (text.rfind("\n\t", std::string::npos) != std::string::npos || text.rfind('\t', 0) == 0))
      message += " (the config has a tab in its indentation; YAML indents with spaces only)";
    if (e.mark.is_null() || e.mark.line < 0) throw ConfigError(name_for_errors, 0, 0, "", message);
    throw ConfigError(name_for_errors, e.mark.line + 1, e.mark.column + 1, "", message);
  } catch (const std::bad_alloc&) {
    throw ConfigError(name_for_errors, 0, 0, "", "out of memory while loading the config");
  } catch (const std::exception& e) {
    throw ConfigError(name_for_errors, 0, 0, "", std::string("invalid config: ") + e.what());
  }
}

LoadedStudy load_study_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ConfigError(path, 0, 0, "", "is a directory, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, 0, 0, "", "cannot open the config file");
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > config_limits::max_text_bytes)
      throw ConfigError(path, 0, 0, "", "config larger than 1 MiB");
    if (in.eof()) break;
  }
  if (in.bad()) throw ConfigError(path, 0, 0, "", "cannot read the config file");
  return load_study_text(text, path, overrides);
}

}  // namespace scorefarm
