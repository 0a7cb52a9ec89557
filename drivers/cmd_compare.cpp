// `scorefarm compare a.h5 b.h5`: are two runs' records bitwise identical? Exit 0 identical,
// 1 different, 2 bad input (missing / unreadable / not a study file).
#include <iostream>

#include "command.hpp"
#include "scorefarm/aggregate/compare.hpp"
#include "scorefarm/aggregate/h5file.hpp"

namespace scorefarm::cli {
namespace {

CommandRegistration reg{
    "compare",
    "Are two study files' records bitwise identical? Exit 0 identical, 1 different, 2 bad input",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<std::string>();
      auto b = std::make_shared<std::string>();
      auto max_cells = std::make_shared<std::size_t>(50);
      sub.add_option("a", *a, "first study file")->required();
      sub.add_option("b", *b, "second study file")->required();
      sub.add_option("--max-cells", *max_cells, "list at most this many differing cells")
          ->default_val(50);
      return [a, b, max_cells] {
        aggregate::Comparison cmp;
        try {
          cmp = aggregate::compare_files(*a, *b);
        } catch (const aggregate::InputError& e) {
          throw BadInput(e.what());
        } catch (const aggregate::H5Error& e) {
          // An unreadable input is bad input here, so that exit code 1 always means "different".
          throw BadInput(e.what());
        }
        aggregate::print_comparison(std::cout, cmp, *max_cells);
        return cmp.identical() ? exit_ok : exit_error;
      };
    }};

}  // namespace
}  // namespace scorefarm::cli
