#pragma once
// The contract between the math and the farm. A trial is a pure function
// (study, cell, trial index) -> Record. Everything parallel, persistent or configurable wraps a
// TrialRunner from outside; nothing here knows of MPI, HDF5 or YAML.
#include <cstddef>
#include <cstdint>
#include <optional>
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

// What a long trial (training) talks to at its checkpoint points, so that a stopped job resumes it
// mid-way instead of from the start. The farm implements it (parallel/farm.cpp); the trial only
// hands over opaque bytes and never knows where they go.
class CheckpointSink {
 public:
  enum class Action { go_on, save, save_and_stop };
  virtual ~CheckpointSink() = default;
  // Asked at every checkpoint point; cheap, so a trial may ask often (no state is built for go_on).
  virtual Action at_checkpoint() = 0;
  // The whole state to resume from, after `save` or `save_and_stop`.
  virtual void save(const std::vector<unsigned char>& state) = 0;
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

  // Mid-trial checkpoints, for runners whose trials are long. checkpointable() false (the default):
  // run_checkpointed() is run() and never calls the sink.
  virtual bool checkpointable() const { return false; }
  // run(cell, trial), started from `state` when given (bytes an earlier sink.save() got for the same
  // study, cell and trial). Returns nullopt when the sink answered save_and_stop (the state it was
  // given is where to resume). Resumed or not, the Record is the one run() gives, bit for bit.
  virtual std::optional<Record> run_checkpointed(std::size_t cell, std::uint64_t trial,
                                                 const std::vector<unsigned char>* state,
                                                 CheckpointSink& sink) const {
    (void)state;
    (void)sink;
    return run(cell, trial);
  }
};

}  // namespace scorefarm
