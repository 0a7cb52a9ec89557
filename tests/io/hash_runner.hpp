#pragma once
// A test-only TrialRunner: each record is a tiny deterministic computation (SplitMix64 of
// (cell, trial)), so that dispatch and storage can be checked bit for bit against a reference
// computed independently (expected_value below) — without the cost of the estimator.
// Used by tests/io and tests/mpi; the real EstimatorRunner is exercised there too.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "scorefarm/core/trial.hpp"

namespace scorefarm::test {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Value i of record (cell, trial): a double with all 64 bits from the hash (NaN patterns excluded
// by clearing the top exponent bit), so that any misplaced or mangled byte shows.
inline double expected_value(std::size_t cell, std::uint64_t trial, std::size_t i) {
  std::uint64_t bits = splitmix64((static_cast<std::uint64_t>(cell) << 40) ^ (trial << 8) ^ i);
  bits &= ~(std::uint64_t(1) << 62);
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline std::uint32_t expected_status(std::size_t cell, std::uint64_t trial) {
  return static_cast<std::uint32_t>(splitmix64(cell * 1000003u + trial) & 0x1f);
}

class HashRunner final : public TrialRunner {
 public:
  HashRunner(std::size_t cells, std::uint64_t trials, std::size_t series_length = 3,
             double busy_microseconds = 0.0)
      : cells_(cells), trials_(trials), series_(series_length), busy_us_(busy_microseconds) {}

  std::string kind() const override { return "estimator"; }
  std::vector<FieldSpec> fields() const override {
    std::vector<FieldSpec> f{{"h", 1, "test field h"}, {"err_S1", 1, "test field err_S1"}};
    if (series_ > 1) f.push_back({"series", series_, "test series"});
    return f;
  }
  std::size_t cell_count() const override { return cells_; }
  std::uint64_t trials_per_cell() const override { return trials_; }
  std::vector<CellColumn> cell_table() const override {
    CellColumn n{"n", false, {}, {}};
    CellColumn name{"distribution", true, {}, {}};
    for (std::size_t c = 0; c < cells_; ++c) {
      n.numbers.push_back(100.0 * static_cast<double>(c + 1));
      name.texts.push_back(c % 2 ? "mixture" : "gaussian");
    }
    return {name, n};
  }
  double cost(std::size_t cell) const override { return 100.0 * static_cast<double>(cell + 1); }
  Record run(std::size_t cell, std::uint64_t trial) const override {
    if (busy_us_ > 0) {  // stand-in for work: the trial takes about this long
      const auto until = std::chrono::steady_clock::now() +
                         std::chrono::nanoseconds(static_cast<long long>(busy_us_ * 1000.0));
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    Record record;
    record.status = expected_status(cell, trial);
    for (std::size_t i = 0; i < record_width(); ++i) record.values.push_back(expected_value(cell, trial, i));
    return record;
  }

 private:
  std::size_t cells_;
  std::uint64_t trials_;
  std::size_t series_;
  double busy_us_;
};

// Passes everything on to `base`; tests derive from it to change one behaviour (a failing trial, a
// slow rank, counting resumes) of a real runner.
class ForwardingRunner : public TrialRunner {
 public:
  explicit ForwardingRunner(const TrialRunner& base) : base_(base) {}
  std::string kind() const override { return base_.kind(); }
  std::vector<FieldSpec> fields() const override { return base_.fields(); }
  std::size_t cell_count() const override { return base_.cell_count(); }
  std::uint64_t trials_per_cell() const override { return base_.trials_per_cell(); }
  std::vector<CellColumn> cell_table() const override { return base_.cell_table(); }
  double cost(std::size_t cell) const override { return base_.cost(cell); }
  Record run(std::size_t cell, std::uint64_t trial) const override { return base_.run(cell, trial); }
  bool checkpointable() const override { return base_.checkpointable(); }
  std::optional<Record> run_checkpointed(std::size_t cell, std::uint64_t trial,
                                         const std::vector<unsigned char>* state,
                                         CheckpointSink& sink) const override {
    return base_.run_checkpointed(cell, trial, state, sink);
  }

 protected:
  const TrialRunner& base_;
};

}  // namespace scorefarm::test
