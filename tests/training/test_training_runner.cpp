// The training trial runner (TrainingRunner, SPEC §6): records are pure functions of
// (seed, cell, trial); the paper's Figure 4 Gaussian setting converges for a fixed seed; a divergent
// setting is recorded as `diverged` (no crash, no NaN); L̂'s per-sample LLSFE path runs end to end;
// checkpoints resume mid-trial to the same record, bit for bit.
#define BOOST_TEST_MODULE training_runner
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scorefarm/core/distribution.hpp"
#include "scorefarm/core/status.hpp"
#include "scorefarm/training/training_study.hpp"

using namespace scorefarm;

namespace {

// The Figure 4 Gaussian cell as configs/paper/fig4_gaussian.yaml states it (k = d = 2, N(0, I),
// A* = I, w* = 1, ReLU, n = 4096, full-batch GD, lr 5e-5, 10,000 iterations, mu = 30,
// lambda = 1e4 for (|a| - 1)^2, sign auto = -1).
TrainingCell fig4_cell(LossSpec::Kind kind = LossSpec::Kind::G) {
  TrainingCell c;
  c.distribution = preset_distribution("gaussian", 2);
  c.k = 2;
  c.n = 4096;
  c.n_test = 500;
  c.loss.kind = kind;
  c.loss.mu = 30;
  c.loss.lambda = 10000;
  c.loss.regulariser = LossSpec::Regulariser::norm;
  c.loss.sign = LossSpec::Sign::automatic;
  c.loss.bandwidth.kind = BandwidthRule::Kind::constant;
  c.loss.bandwidth.value = 0.63;
  c.optimiser.kind = OptimiserSpec::Kind::gd;
  c.optimiser.lr = 5e-5;
  c.optimiser.iterations = 10000;
  return c;
}

TrainingStudy study_of(std::vector<TrainingCell> cells, std::uint64_t seed = 20190417,
                       int log_points = 12) {
  TrainingStudy s;
  s.seed = seed;
  s.trials = 1000;
  s.log_points = log_points;
  s.cells = std::move(cells);
  return s;
}

// Named access to a record: series (log_points values) and scalars, in fields() order.
struct View {
  std::map<std::string, std::vector<double>> f;
  View(const TrainingRunner& r, const Record& rec) {
    std::size_t at = 0;
    for (const FieldSpec& s : r.fields()) {
      f[s.name].assign(rec.values.begin() + long(at), rec.values.begin() + long(at + s.length));
      at += s.length;
    }
    BOOST_REQUIRE_EQUAL(at, rec.values.size());
  }
  double scalar(const std::string& name) const { return f.at(name).at(0); }
  const std::vector<double>& series(const std::string& name) const { return f.at(name); }
};

bool same_bits(const Record& a, const Record& b) {
  return a.status == b.status && a.values.size() == b.values.size() &&
         std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) == 0;
}

bool has_nan(const Record& r) {
  for (double v : r.values)
    if (std::isnan(v)) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(records_are_pure_functions_of_seed_cell_trial) {
  TrainingCell c = fig4_cell();
  c.n = 512;
  c.optimiser.iterations = 300;
  TrainingCell sgd = c;
  sgd.optimiser.kind = OptimiserSpec::Kind::sgd;
  sgd.optimiser.batch = 64;
  sgd.optimiser.lr = 1e-4;
  TrainingCell l2 = c;
  l2.loss.kind = LossSpec::Kind::l2;
  l2.loss.lambda = 0;
  l2.optimiser.lr = 5e-3;
  const TrainingRunner a(study_of({c, sgd, l2}));
  const TrainingRunner b(study_of({c, sgd, l2}));  // built separately: no shared state
  for (std::size_t cell = 0; cell < 3; ++cell) {
    BOOST_TEST_INFO("cell " << cell);
    const Record r1 = a.run(cell, 7);
    BOOST_TEST(same_bits(r1, a.run(cell, 7)));
    BOOST_TEST(same_bits(r1, b.run(cell, 7)));
    // Other trials run in between change nothing (no hidden state carried across trials).
    (void)a.run(cell, 3);
    BOOST_TEST(same_bits(r1, a.run(cell, 7)));
    const Record r2 = a.run(cell, 8);
    BOOST_TEST(!same_bits(r1, r2));
    BOOST_TEST(!has_nan(r1));
  }
  // Another seed gives other data and another initialisation.
  const TrainingRunner other(study_of({c}, 20190418));
  BOOST_TEST(!same_bits(a.run(0, 7), other.run(0, 7)));
  // Cells that differ only in the loss or the optimiser share data and initial A for a trial
  // (paired comparisons): the logged point at iteration 0 has the same e(A).
  const View v0(a, a.run(0, 5)), v1(a, a.run(1, 5)), v2(a, a.run(2, 5));
  BOOST_TEST(v0.series("e_A")[0] == v1.series("e_A")[0]);
  BOOST_TEST(v0.series("e_match")[0] == v2.series("e_match")[0]);
  BOOST_TEST(v0.scalar("sign") == -1.0);  // auto: sign(kappa) = -1 for ReLU
  BOOST_TEST(v2.scalar("sign") == 0.0);   // l2 has no data-part sign
}

BOOST_AUTO_TEST_CASE(figure4_gaussian_converges_for_a_fixed_seed) {
  // G (= the exact L for Gaussian input) with the shipped Figure 4 settings. Trial 0 of this seed
  // starts with its two rows in different basins (about half the seeds do: with mu = 30 the
  // collapsed point is a local minimum, see configs/paper/fig4_gaussian.yaml), and must reach
  // both teacher rows within its 10,000-iteration budget.
  const TrainingRunner r(study_of({fig4_cell(LossSpec::Kind::G), fig4_cell(LossSpec::Kind::L)}));
  const std::uint64_t trial = 5;
  const Record rec = r.run(0, trial);
  const View v(r, rec);
  BOOST_TEST((rec.status & status::failure_mask) == 0u);
  BOOST_TEST(v.scalar("iterations_done") == 10000.0);
  BOOST_TEST(v.scalar("e_match_final") < 0.05);
  BOOST_TEST(v.scalar("e_A_strict_final") < 0.05);
  BOOST_TEST(v.scalar("e_A_final") <= v.scalar("e_A_strict_final"));
  // It got there by descending: the loss fell and the error shrank from the start.
  BOOST_TEST(v.series("loss").back() < v.series("loss").front());
  BOOST_TEST(v.series("e_match").back() < v.series("e_match").front());
  // The refit test error is that of a network close to the teacher (y has variance ~0.68).
  BOOST_TEST(v.scalar("test_l2_final") < 0.02);
  // For N(0, I) input the exact score is the Gaussian one: L follows the same path as G.
  const View vl(r, r.run(1, trial));
  BOOST_TEST(std::abs(vl.scalar("e_match_final") - v.scalar("e_match_final")) < 1e-9);
}

BOOST_AUTO_TEST_CASE(divergent_setting_is_recorded_as_diverged) {
  // The committed-then-broken Figure 4 setting: lambda = 100 with (|a| - 1)^2 leaves the quartic
  // data part unbounded below; the rows run off to infinity within a few hundred iterations.
  TrainingCell c = fig4_cell();
  c.loss.lambda = 100;
  const TrainingRunner r(study_of({c}));
  for (std::uint64_t trial : {0u, 1u}) {
    Record rec;
    BOOST_REQUIRE_NO_THROW(rec = r.run(0, trial));
    const View v(r, rec);
    BOOST_TEST_INFO("trial " << trial);
    BOOST_TEST((rec.status & status::diverged) != 0u);
    BOOST_TEST(!has_nan(rec));
    const double done = v.scalar("iterations_done");
    BOOST_TEST(done > 0.0);
    BOOST_TEST(done < 10000.0);
    // Final scalars of a failed run are +inf (they count against every percentile).
    for (const char* s : {"loss_final", "e_A_final", "e_A_strict_final", "e_match_final",
                          "e_match_mean_final", "test_l2_final"})
      BOOST_TEST(std::isinf(v.scalar(s)));
    // Logged points before the divergence are finite, the ones never reached are +inf.
    const auto& it = v.series("iteration");
    const auto& em = v.series("e_match");
    const auto& loss = v.series("loss");
    int finite = 0, unreached = 0;
    for (std::size_t j = 0; j < it.size(); ++j) {
      if (it[j] < done) {
        BOOST_TEST(std::isfinite(em[j]));
        BOOST_TEST(std::isfinite(loss[j]));
        ++finite;
      } else if (it[j] > done) {
        BOOST_TEST(std::isinf(em[j]));
        ++unreached;
      }
    }
    BOOST_TEST(finite >= 1);
    BOOST_TEST(unreached >= 1);
  }
  // Non-finite values (a huge learning rate overflows at once) are caught too.
  TrainingCell blow = fig4_cell();
  blow.n = 256;
  blow.optimiser.lr = 1e150;
  blow.optimiser.iterations = 50;
  blow.optimiser.divergence_norm = 1e300;
  const TrainingRunner rb(study_of({blow}));
  Record rec;
  BOOST_REQUIRE_NO_THROW(rec = rb.run(0, 0));
  BOOST_TEST((rec.status & status::diverged) != 0u);
  BOOST_TEST(!has_nan(rec));
}

BOOST_AUTO_TEST_CASE(lhat_per_sample_estimates_path_runs) {
  // L̂ builds per-sample LLSFE (g, G2) at every training point, then trains on them.
  TrainingCell c = fig4_cell(LossSpec::Kind::Lhat);
  c.n = 600;
  c.optimiser.iterations = 400;
  TrainingCell loo = c;
  loo.loss.leave_one_out = true;
  TrainingCell silver = c;
  silver.loss.bandwidth.kind = BandwidthRule::Kind::silverman;
  silver.loss.bandwidth.value = 1.0;
  TrainingCell mix = c;
  mix.distribution = preset_distribution("paper_mixture", 2);
  const TrainingRunner r(study_of({c, loo, silver, mix}, 20190417, 8));
  for (std::size_t cell = 0; cell < 4; ++cell) {
    BOOST_TEST_INFO("cell " << cell);
    const Record rec = r.run(cell, 2);
    const View v(r, rec);
    BOOST_TEST((rec.status & status::failure_mask) == 0u);
    BOOST_TEST(!has_nan(rec));
    BOOST_TEST(v.scalar("iterations_done") == 400.0);
    for (const char* s : {"loss", "e_A", "e_A_strict", "e_match", "e_match_mean", "test_l2"})
      for (double x : v.series(s)) BOOST_TEST(std::isfinite(x));
    // It trains: the loss goes down.
    BOOST_TEST(v.series("loss").back() < v.series("loss").front());
    BOOST_TEST(same_bits(rec, r.run(cell, 2)));
  }
  // Leave-one-out changes the estimates, hence the path.
  BOOST_TEST(!same_bits(r.run(0, 2), r.run(1, 2)));
}

// A sink that saves every `every`-th time it is asked and stops after its `stop_after`-th save (0:
// never stops); it keeps the last state it got.
class CountingSink final : public CheckpointSink {
 public:
  CountingSink(int every, int stop_after) : every_(every), stop_after_(stop_after) {}
  Action at_checkpoint() override {
    ++asked;
    if (asked % every_ != 0) return Action::go_on;
    return stop_after_ > 0 && saves + 1 == stop_after_ ? Action::save_and_stop : Action::save;
  }
  void save(const std::vector<unsigned char>& state) override {
    ++saves;
    saved = state;
  }
  int asked = 0, saves = 0;
  std::vector<unsigned char> saved;

 private:
  int every_, stop_after_;
};

BOOST_AUTO_TEST_CASE(checkpoint_resume_gives_the_same_record) {
  TrainingCell gd = fig4_cell();
  gd.n = 512;
  gd.optimiser.iterations = 600;
  TrainingCell sgd = gd;
  sgd.optimiser.kind = OptimiserSpec::Kind::sgd;
  sgd.optimiser.batch = 100;
  sgd.optimiser.schedule = OptimiserSpec::Schedule::inverse_time;
  sgd.optimiser.decay = 1e-3;
  TrainingCell l2 = gd;
  l2.loss.kind = LossSpec::Kind::l2;
  l2.loss.learn_w = true;
  l2.loss.lambda = 0;
  l2.optimiser.lr = 5e-3;
  const TrainingRunner r(study_of({gd, sgd, l2}, 20190417, 20));
  BOOST_TEST(r.checkpointable());
  for (std::size_t cell = 0; cell < 3; ++cell) {
    const Record full = r.run(cell, 4);
    // A sink that never saves changes nothing; it is asked after every iteration but the last.
    CountingSink never(1000000, 0);
    const auto plain = r.run_checkpointed(cell, 4, nullptr, never);
    BOOST_REQUIRE(plain.has_value());
    BOOST_TEST(same_bits(full, *plain));
    BOOST_TEST(never.asked == 599);
    // Stop at the 1st, 2nd, ... save (every 77 iterations: not on a logged point in general; every
    // iteration: logged points included), resume from the bytes, compare with the uninterrupted run.
    for (int every : {77, 1})
      for (int stop_after : {1, 3, 6}) {
        BOOST_TEST_INFO("cell " << cell << " save every " << every << ", stop after save " << stop_after);
        CountingSink first(every, stop_after);
        BOOST_TEST(!r.run_checkpointed(cell, 4, nullptr, first).has_value());
        const TrainingCheckpoint cp = TrainingCheckpoint::from_bytes(first.saved);
        BOOST_TEST(cp.iteration == every * stop_after);
        // Resumed twice over: stopped again after the next save, then run to the end.
        CountingSink second(every, 1);
        BOOST_TEST(!r.run_checkpointed(cell, 4, &first.saved, second).has_value());
        BOOST_TEST(TrainingCheckpoint::from_bytes(second.saved).iteration == every * (stop_after + 1));
        CountingSink last(every, 0);
        const auto resumed = r.run_checkpointed(cell, 4, &second.saved, last);
        BOOST_REQUIRE(resumed.has_value());
        BOOST_TEST(same_bits(full, *resumed));
      }
  }
  // A checkpoint of another trial or cell, or a damaged buffer, is refused.
  CountingSink one(100, 1);
  (void)r.run_checkpointed(0, 4, nullptr, one);
  const std::vector<unsigned char> saved = one.saved;
  CountingSink any(1, 0);
  BOOST_CHECK_THROW((void)r.run_checkpointed(0, 5, &saved, any), std::invalid_argument);
  BOOST_CHECK_THROW((void)r.run_checkpointed(1, 4, &saved, any), std::invalid_argument);
  std::vector<unsigned char> cut(saved.begin(), saved.end() - 3);
  BOOST_CHECK_THROW((void)TrainingCheckpoint::from_bytes(cut), std::invalid_argument);
  BOOST_CHECK_THROW((void)r.run_checkpointed(0, 4, &cut, any), std::invalid_argument);
  std::vector<unsigned char> bad = saved;
  bad[0] = 'X';
  BOOST_CHECK_THROW((void)TrainingCheckpoint::from_bytes(bad), std::invalid_argument);
}
