#pragma once
// Git-style subcommands. Each drivers/cmd_<name>.cpp registers itself with a static
// CommandRegistration, so adding a subcommand never touches main.cpp.
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace scorefarm::cli {

// Exit codes shared by every subcommand (documented in the README).
inline constexpr int exit_ok = 0;
inline constexpr int exit_error = 1;        // runtime failure (I/O, MPI...)
inline constexpr int exit_bad_input = 2;    // bad config, CSV or option: nothing was written
inline constexpr int exit_incomplete = 75;  // stopped by a signal; rerun the same command to resume
                                            // (75 = EX_TEMPFAIL in sysexits.h: "try again later")

// `setup` adds the subcommand's options to `sub` and returns the function that runs it.
using Runner = std::function<int()>;
using Setup = std::function<Runner(CLI::App& sub)>;

struct CommandInfo {
  std::string name;
  std::string description;
  Setup setup;
};

std::vector<CommandInfo>& command_registry();

struct CommandRegistration {
  CommandRegistration(std::string name, std::string description, Setup setup) {
    command_registry().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

// Thrown for bad user input; main() prints the message and exits with exit_bad_input.
struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace scorefarm::cli
