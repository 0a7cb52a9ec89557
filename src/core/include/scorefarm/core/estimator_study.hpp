#pragma once
// The `estimator` trial kind: draw n samples from a known distribution, pick a query point,
// estimate the scores there and record the errors against the exact scores.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scorefarm/core/bandwidth.hpp"
#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/trial.hpp"

namespace scorefarm {

struct EstimatorSpec {
  std::string name = "llsfe";  // "llsfe" or "kde"
  int degree = 2;              // llsfe polynomial degree
  std::string kernel = "gaussian";
};

struct QueryRule {
  enum class Kind { fixed, sample };  // fixed point, or drawn afresh from f in each trial
  Kind kind = Kind::fixed;
  std::vector<double> point;  // fixed: d values, or one value repeated d times
  std::string describe() const;
};

// Errors that can be recorded: "S1" (‖·‖₂), "S2_sp" (spectral), "S2_F", "S3_F", "S4_F",
// "S4_sp" (exact for d = 2, flagged lower bound for d > 2).
std::vector<std::string> estimator_error_names();

struct EstimatorCell {
  DistributionSpec distribution;
  std::int64_t n = 1000;
  EstimatorSpec estimator;
  BandwidthRule bandwidth;
  QueryRule query;
};

struct EstimatorStudy {
  std::uint64_t seed = 1;
  std::uint64_t trials = 100;
  std::vector<std::string> errors{"S2_sp", "S4_F"};
  std::vector<EstimatorCell> cells;
};

// Substreams used inside one estimator trial (documented so other tools can replay a trial).
inline constexpr std::uint64_t substream_data = 0;
inline constexpr std::uint64_t substream_query = 1;

class EstimatorRunner final : public TrialRunner {
 public:
  explicit EstimatorRunner(EstimatorStudy study);  // validates; throws std::invalid_argument
  std::string kind() const override { return "estimator"; }
  std::vector<FieldSpec> fields() const override;   // h, ess, then err_<name> per error
  std::size_t cell_count() const override { return study_.cells.size(); }
  std::uint64_t trials_per_cell() const override { return study_.trials; }
  std::vector<CellColumn> cell_table() const override;
  double cost(std::size_t cell) const override;
  Record run(std::size_t cell, std::uint64_t trial) const override;
  const EstimatorStudy& study() const { return study_; }

 private:
  EstimatorStudy study_;
  std::vector<std::unique_ptr<Distribution>> distributions_;  // one per cell
};

}  // namespace scorefarm
