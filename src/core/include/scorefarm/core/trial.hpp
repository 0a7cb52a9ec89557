#pragma once
// The contract between the math and the farm. A trial is a pure function
// (study, cell, trial index) -> Record. Everything parallel, persistent or configurable wraps a
// TrialRunner from outside; nothing here knows of MPI, HDF5 or YAML.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace scorefarm {

// One named value of a record. length > 1 for per-iteration series (training curves).
struct FieldSpec {
  std::string name;
  std::size_t length = 1;
  std::string description;
};

// The result of one trial: a status and the concatenation of all fields, in fields() order.
struct Record {
  std::uint32_t status = 0;
  std::vector<double> values;
};

// One column of the cell table: the value of an axis for every cell.
struct CellColumn {
  std::string name;
  bool is_text = false;
  std::vector<double> numbers;     // when !is_text
  std::vector<std::string> texts;  // when is_text
};

class TrialRunner {
 public:
  virtual ~TrialRunner() = default;
  virtual std::string kind() const = 0;  // "estimator", "training"
  virtual std::vector<FieldSpec> fields() const = 0;
  virtual std::size_t cell_count() const = 0;
  virtual std::uint64_t trials_per_cell() const = 0;
  virtual std::vector<CellColumn> cell_table() const = 0;
  // Sample evaluations (or comparable work units) of one trial of `cell`, for planning.
  virtual double cost(std::size_t cell) const = 0;
  // Pure: same arguments, same Record, bit for bit, in any process.
  virtual Record run(std::size_t cell, std::uint64_t trial) const = 0;
  std::size_t record_width() const;  // Σ field lengths
};

}  // namespace scorefarm
