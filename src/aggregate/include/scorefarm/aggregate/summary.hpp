#pragma once
// `scorefarm aggregate`: percentiles, means, failure counts, completion and log-log slopes of one
// study file, streamed cell by cell (one hyperslab per cell and field; never the whole file).
//
// Rules (README "Summary schema" repeats them):
// - Only records with done == 1 count. completion = done / n_trials per cell.
// - failed = status & status::failure_mask != 0; flagged = status != 0 (failed trials included).
// - In every scalar field except the covariates (h, ess, iterations_done, sign) a failed trial
//   counts as +inf, and so does any non-finite value in any field: a failure can raise a
//   percentile, never lower it. Percentiles: stats.hpp (numpy 'linear', +inf propagates).
// - mean = mean of the finite values of the done trials that did not fail; the failure share is
//   reported beside it.
// - Curves: the cells that agree on every /cells axis except `n`. For each curve, error field
//   (err_*) and level, slope = least-squares slope of log(percentile) on log(n) over the cells with
//   done > 0; NaN when fewer than two distinct n, or when a percentile is +inf or <= 0 at one of
//   them. Bootstrap standard error: B resamples of the trials of every cell (stats.hpp), slope of
//   each replicate, sample standard deviation; +inf when a replicate slope is not finite.
// - Series fields (training, shape n_cells x n_trials x L): the five percentiles across trials at
//   every logged iteration, per cell (non-finite values count as +inf).
#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "scorefarm/aggregate/stats.hpp"

namespace scorefarm::aggregate {

struct AggregateOptions {
  std::size_t bootstrap_replicates = 200;
  std::optional<std::uint64_t> bootstrap_seed;  // default: the file's `seed` attribute
};

// One column of /cells.
struct CellAxis {
  std::string name;
  bool is_text = false;
  std::vector<double> numbers;
  std::vector<std::string> texts;
  std::string text(std::size_t cell) const;  // the value as printed
};

struct CellSummary {
  std::int64_t done = 0;
  double completion = 0.0;  // done / n_trials
  std::int64_t failed = 0;
  std::int64_t flagged = 0;
  std::array<std::int64_t, 32> status_bits{};  // done trials with each status bit set
  std::int64_t curve = -1;                     // index into Summary::curves, -1 if none
};

struct FieldCellStats {
  std::int64_t count = 0;     // values used = done trials
  std::int64_t infinite = 0;  // counted as +inf (failed trial or non-finite value)
  std::int64_t finite = 0;    // used by the mean
  double mean = 0.0;          // NaN when finite == 0
  Percentiles percentiles{};  // NaN when count == 0
};

struct ScalarField {
  std::string name;
  bool failed_as_inf = true;  // false for covariates (h, ess...)
  bool has_slopes = false;    // err_* fields of studies with an `n` axis
  std::vector<FieldCellStats> cells;
};

struct CurveSlopes {
  std::string field;
  Percentiles slope{};
  Percentiles intercept{};  // log P = intercept + slope log n
  Percentiles se{};
  std::array<std::int64_t, n_levels> bootstrap_finite{};
};

struct Curve {
  std::string label;                   // the axes that tell curves apart, "name=value, ..."
  std::vector<std::size_t> cells;      // sorted by n
  std::int64_t points = 0;             // cells with done > 0 (used by the fit)
  std::vector<CurveSlopes> slopes;     // one per field with has_slopes, in field order
};

struct SeriesField {
  std::string name;
  std::size_t length = 0;
  // [cell][i]: logged iteration i of this cell (from the `iteration` field of its first done trial,
  // else i); NaN when the cell has no done trial.
  std::vector<std::vector<double>> iteration;
  std::vector<std::vector<Percentiles>> percentiles;      // [cell][i]
  std::vector<std::vector<std::int64_t>> infinite;        // [cell][i]
};

struct Summary {
  std::string path;
  std::string kind;
  std::string config_hash;
  std::string source_version;  // scorefarm_version of the run that wrote the records
  std::string source_commit;
  std::int64_t n_cells = 0;
  std::int64_t n_trials = 0;
  std::uint64_t seed = 0;
  std::uint64_t bootstrap_seed = 0;
  std::size_t bootstrap_replicates = 0;
  std::int64_t done_total = 0;
  std::int64_t iteration_mismatches = 0;  // done trials whose `iteration` series differs from the
                                          // cell's first done trial (should be 0)
  std::vector<CellAxis> axes;
  std::vector<CellSummary> cells;
  std::vector<ScalarField> scalars;
  std::vector<Curve> curves;
  std::vector<SeriesField> series;
  bool complete() const { return done_total == n_cells * n_trials; }
};

// Reads `path` (read-only) and computes everything. Throws InputError for a file that does not
// follow the schema, H5Error for I/O failures.
Summary aggregate_file(const std::string& path, const AggregateOptions& options = {});

// Replaces /summary in `path` (opened read-write only for this), through io::JournaledFile: the
// file is either wholly before or wholly after the update, even after kill -9 (the next open
// replays or discards the journal). Nothing outside /summary is touched. The caller holds the lock
// file (io::LockFile) so that no run writes the file meanwhile.
void write_summary(const std::string& path, const Summary& summary);

void write_csv(std::ostream& out, const Summary& summary);
void write_json(std::ostream& out, const Summary& summary);
void print_table(std::ostream& out, const Summary& summary);

}  // namespace scorefarm::aggregate
