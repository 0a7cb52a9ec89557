#pragma once
// `scorefarm compare a.h5 b.h5`: are two runs' records identical, bit for bit?
//
// Compared: the layout (n_cells, n_trials, the /records datasets with their shapes and type classes,
// and the /cells table), then, cell by cell (one hyperslab per cell and dataset), every value of
// every /records dataset by its bit pattern, including /records/done and /records/status.
// The config hashes are reported but do not decide the verdict: two configs that differ only in
// comments produce identical records and are reported as identical records with different hashes.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace scorefarm::aggregate {

struct FieldDifference {
  std::string field;
  std::int64_t values = 0;  // values whose bits differ
  // Over values that differ and whose trial is done in both files (NaN when there is none);
  // +inf when exactly one side is not finite. relative = |a - b| / max(|a|, |b|).
  double max_abs = 0.0;
  double max_rel = 0.0;
};

struct CellDifference {
  std::size_t cell = 0;
  std::int64_t trials = 0;         // trials with any difference
  std::int64_t done_only_a = 0;    // done in a, not done in b
  std::int64_t done_only_b = 0;
  std::int64_t status_differs = 0;
  std::vector<FieldDifference> fields;  // only fields with differences
};

struct Comparison {
  std::string path_a, path_b;
  std::string hash_a, hash_b;
  std::int64_t n_cells = 0;
  std::int64_t n_trials = 0;
  std::int64_t done_a = 0, done_b = 0;
  std::vector<std::string> datasets;        // /records datasets compared
  std::vector<std::string> layout_notes;    // why records could not be compared one to one
  std::vector<CellDifference> cells;        // cells with differences, ascending
  std::vector<FieldDifference> totals;      // per dataset over all cells (only differing ones)
  std::int64_t trials_differing = 0;
  bool identical() const { return layout_notes.empty() && cells.empty(); }
  bool same_config() const { return hash_a == hash_b; }
};

// Throws InputError when a file is missing, not HDF5 or not a scorefarm study file.
Comparison compare_files(const std::string& a, const std::string& b);

// Human-readable verdict; lists at most `max_cells` differing cells.
void print_comparison(std::ostream& out, const Comparison& c, std::size_t max_cells = 50);

}  // namespace scorefarm::aggregate
