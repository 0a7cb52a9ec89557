// scorefarm: one executable, git-style subcommands (see command.hpp).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>

#include <CLI/CLI.hpp>

#include "command.hpp"
#include "scorefarm/version.hpp"

namespace scorefarm::cli {
std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> registry;
  return registry;
}
}  // namespace scorefarm::cli

int main(int argc, char** argv) {
  using namespace scorefarm::cli;
  CLI::App app{"scorefarm: Monte Carlo studies of score-function estimators and score-based training"};
  app.set_version_flag("--version", std::string(scorefarm::version) + " (" + scorefarm::git_commit + ")");
  app.require_subcommand(1);

  auto commands = command_registry();
  std::sort(commands.begin(), commands.end(),
            [](const CommandInfo& a, const CommandInfo& b) { return a.name < b.name; });
  std::map<CLI::App*, Runner> runners;
  for (auto& command : commands) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    runners[sub] = command.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? exit_ok : exit_bad_input;
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const BadInput& e) {
    std::fprintf(stderr, "scorefarm: error: %s\n", e.what());
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scorefarm: error: %s\n", e.what());
    return exit_error;
  }
  return exit_error;
}
