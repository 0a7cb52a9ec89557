#include "scorefarm/training/training_study.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "scorefarm/core/rng.hpp"
#include "scorefarm/core/status.hpp"
#include "scorefarm/training/activation.hpp"
#include "scorefarm/training/losses.hpp"
#include "scorefarm/training/metrics.hpp"
#include "scorefarm/training/optimiser.hpp"
#include "scorefarm/training/teacher.hpp"

namespace scorefarm {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace scorefarm::training;

namespace {

// Substreams of a training trial (documented in training_study.hpp).
constexpr std::uint64_t kSubData = 0, kSubInit = 1, kSubTeacher = 2, kSubTest = 3, kSubBatch = 16;

const char* const kSeries[] = {"iteration", "loss",    "e_A",    "e_A_strict",
                               "e_match",   "e_match_mean", "test_l2"};
constexpr int kNumSeries = 7;
const char* const kScalars[] = {"loss_final",         "e_A_final",     "e_A_strict_final",
                                "e_match_final",      "e_match_mean_final", "test_l2_final",
                                "iterations_done",    "sign"};
constexpr int kNumScalars = 8;

// FNV-1a 64 of a canonical text: the key of the data / teacher streams.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void put(std::string& out, double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g,", v);
  out += buf;
}
void put(std::string& out, const Eigen::MatrixXd& M) {
  put(out, double(M.rows()));
  put(out, double(M.cols()));
  for (Index j = 0; j < M.cols(); ++j)
    for (Index i = 0; i < M.rows(); ++i) put(out, M(i, j));
}

// Everything that defines the input distribution (not its display name).
std::string canonical(const DistributionSpec& s) {
  std::string out = "dist:";
  put(out, double(int(s.kind)));
  put(out, double(s.d));
  for (const auto& c : s.components) {
    put(out, c.weight);
    put(out, c.mean);
    put(out, c.cov);
  }
  put(out, s.laplace_scale);
  put(out, s.nu);
  put(out, s.location);
  put(out, s.scatter);
  return out;
}

std::string canonical(const TeacherSpec& t, int d, int k) {
  std::string out = "teacher:";
  put(out, double(d));
  put(out, double(k));
  put(out, double(int(t.matrix)));
  put(out, t.condition);
  put(out, double(int(t.weights)));
  put(out, double(int(t.activation)));
  put(out, t.noise);
  put(out, double(int(t.per)));
  if (t.matrix == TeacherSpec::Matrix::given) put(out, t.rows);
  if (t.weights == TeacherSpec::Weights::given)
    for (double v : t.values) put(out, v);
  return out;
}

std::string where(std::size_t cell, const char* key) {
  return "cells[" + std::to_string(cell) + "]." + key + ": ";
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// ------------------------------------------------------------------ checkpoint bytes

namespace {
constexpr char kMagic[8] = {'S', 'F', 'T', 'C', 'K', 'P', 'T', '1'};
template <class T>
void append(std::vector<unsigned char>& b, const T& v) {
  const auto* p = reinterpret_cast<const unsigned char*>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}
void append_vec(std::vector<unsigned char>& b, const std::vector<double>& v) {
  append(b, std::uint64_t(v.size()));
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  b.insert(b.end(), p, p + v.size() * sizeof(double));
}
struct Reader {
  const std::vector<unsigned char>& b;
  std::size_t pos = 0;
  template <class T>
  T get() {
    if (pos + sizeof(T) > b.size()) throw std::invalid_argument("training checkpoint: truncated");
    T v;
    std::memcpy(&v, b.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::vector<double> get_vec() {
    const auto n = get<std::uint64_t>();
    if (n > (b.size() - pos) / sizeof(double))
      throw std::invalid_argument("training checkpoint: truncated");
    std::vector<double> v(n);
    std::memcpy(v.data(), b.data() + pos, n * sizeof(double));
    pos += n * sizeof(double);
    return v;
  }
};
}  // namespace

std::vector<unsigned char> TrainingCheckpoint::to_bytes() const {
  std::vector<unsigned char> b(kMagic, kMagic + 8);
  append(b, cell);
  append(b, trial);
  append(b, iteration);
  append(b, status);
  append_vec(b, A);
  append_vec(b, w);
  append_vec(b, record);
  return b;
}

TrainingCheckpoint TrainingCheckpoint::from_bytes(const std::vector<unsigned char>& bytes) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw std::invalid_argument("training checkpoint: bad magic (not a scorefarm checkpoint)");
  Reader r{bytes, 8};
  TrainingCheckpoint c;
  c.cell = r.get<std::uint64_t>();
  c.trial = r.get<std::uint64_t>();
  c.iteration = r.get<std::int64_t>();
  c.status = r.get<std::uint32_t>();
  c.A = r.get_vec();
  c.w = r.get_vec();
  c.record = r.get_vec();
  if (r.pos != bytes.size()) throw std::invalid_argument("training checkpoint: trailing bytes");
  return c;
}

// ------------------------------------------------------------------ runner

TrainingRunner::TrainingRunner(TrainingStudy study) : study_(std::move(study)) {
  if (study_.trials < 1) throw std::invalid_argument("trials must be >= 1");
  if (study_.cells.empty()) throw std::invalid_argument("a training study needs at least one cell");
  if (study_.log_points < 2) throw std::invalid_argument("log_points must be >= 2");
  for (std::size_t ci = 0; ci < study_.cells.size(); ++ci) {
    const TrainingCell& c = study_.cells[ci];
    const int d = c.distribution.d;
    if (c.k < 1 || c.k > d)
      throw std::invalid_argument(where(ci, "k") + "need 1 <= k <= d = " + std::to_string(d) +
                                  ", got " + std::to_string(c.k));
    if (c.n < 1) throw std::invalid_argument(where(ci, "n") + "must be >= 1");
    if (c.n_test < 1) throw std::invalid_argument(where(ci, "n_test") + "must be >= 1");
    const auto& t = c.teacher;
    if (!(t.noise >= 0) || !std::isfinite(t.noise))
      throw std::invalid_argument(where(ci, "teacher.noise") + "must be a finite number >= 0");
    if (t.matrix == TeacherSpec::Matrix::conditioned && !(t.condition >= 1 && std::isfinite(t.condition)))
      throw std::invalid_argument(where(ci, "teacher.condition") + "must be a finite number >= 1");
    if (t.matrix == TeacherSpec::Matrix::given || t.weights == TeacherSpec::Weights::given) {
      Stream probe(0, 0, 0, 0);
      try {
        (void)make_teacher(t, d, c.k, probe);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(where(ci, "teacher") + e.what());
      }
    }
    const auto& l = c.loss;
    if (!(l.mu >= 0) || !std::isfinite(l.mu))
      throw std::invalid_argument(where(ci, "loss.mu") + "must be a finite number >= 0");
    if (!(l.lambda >= 0) || !std::isfinite(l.lambda))
      throw std::invalid_argument(where(ci, "loss.lambda") + "must be a finite number >= 0");
    if (l.learn_w && l.kind != LossSpec::Kind::l2)
      throw std::invalid_argument(where(ci, "loss.learn_w") + "only the l2 loss learns w");
    if (l.kind == LossSpec::Kind::L && c.distribution.kind == DistributionSpec::Kind::student_t &&
        double(c.n) * std::pow(double(d), 4) > 2e7)
      throw std::invalid_argument(where(ci, "loss") +
                                  "L with a student_t input stores dense G3, G4 per sample; "
                                  "n·d⁴ must be <= 2e7");
    if (l.kind == LossSpec::Kind::Lhat && c.n < 2 + d)
      throw std::invalid_argument(where(ci, "n") + "Lhat needs n >= d + 2 samples");
    const auto& o = c.optimiser;
    if (!(o.lr > 0) || !std::isfinite(o.lr))
      throw std::invalid_argument(where(ci, "optimiser.lr") + "must be a finite number > 0");
    if (o.iterations < 1)
      throw std::invalid_argument(where(ci, "optimiser.iterations") + "must be >= 1");
    if (std::int64_t(study_.log_points) > o.iterations + 1)
      throw std::invalid_argument(where(ci, "optimiser.iterations") + "log_points = " +
                                  std::to_string(study_.log_points) +
                                  " needs at least log_points - 1 iterations");
    if (o.kind == OptimiserSpec::Kind::sgd && (o.batch < 1 || o.batch > c.n))
      throw std::invalid_argument(where(ci, "optimiser.batch") + "must be in 1..n for sgd");
    if (o.schedule == OptimiserSpec::Schedule::inverse_time && !(o.decay >= 0))
      throw std::invalid_argument(where(ci, "optimiser.decay") + "must be >= 0");
    if (o.schedule == OptimiserSpec::Schedule::step && (o.step_every < 1 || !(o.step_factor > 0)))
      throw std::invalid_argument(where(ci, "optimiser.step_every") +
                                  "step schedule needs step_every >= 1 and step_factor > 0");
    if (!(o.divergence_norm > 0))
      throw std::invalid_argument(where(ci, "optimiser.divergence_norm") + "must be > 0");
    try {
      distributions_.push_back(make_distribution(c.distribution));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where(ci, "distribution") + e.what());
    }
    int sign = 0;
    if (l.kind != LossSpec::Kind::l2) {
      switch (l.sign) {
        case LossSpec::Sign::plus: sign = 1; break;
        case LossSpec::Sign::minus: sign = -1; break;
        case LossSpec::Sign::automatic:
          try {
            sign = automatic_sign(t.activation);
          } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(where(ci, "loss.sign") + e.what());
          }
      }
    }
    signs_.push_back(sign);
    const std::string teacher = canonical(t, d, c.k);
    teacher_keys_.push_back(fnv1a(teacher));
    data_keys_.push_back(fnv1a(canonical(c.distribution) + teacher));
  }
}

std::vector<FieldSpec> TrainingRunner::fields() const {
  const std::size_t L = std::size_t(study_.log_points);
  const char* const series_desc[] = {
      "iteration number of each logged point (updates applied)",
      "training loss on the full training set (data part and regulariser)",
      "paper eq. 22 e(A) = min(row, column) error of M = normalised(A) normalised(A*)^+",
      "max(row, column) error of the same M: the strict variant of eq. 22",
      "max over matched pairs of 1 - |cos(a_i, a*_pi(i))|, best signed permutation",
      "mean over matched pairs of 1 - |cos(a_i, a*_pi(i))|, best signed permutation",
      "test mean squared error after a least-squares refit of w on the training set"};
  const char* const scalar_desc[] = {
      "loss at the last iteration (+inf if the run failed)",
      "e(A) at the last iteration (+inf if the run failed)",
      "strict e(A) at the last iteration (+inf if the run failed)",
      "matching error (max) at the last iteration (+inf if the run failed)",
      "matching error (mean) at the last iteration (+inf if the run failed)",
      "test MSE after refit at the last iteration (+inf if the run failed)",
      "gradient updates applied before the run ended or stopped",
      "sign multiplying the data part of the loss (+1/-1; 0 for l2)"};
  std::vector<FieldSpec> f;
  for (int i = 0; i < kNumSeries; ++i) f.push_back({kSeries[i], L, series_desc[i]});
  for (int i = 0; i < kNumScalars; ++i) f.push_back({kScalars[i], 1, scalar_desc[i]});
  return f;
}

std::vector<CellColumn> TrainingRunner::cell_table() const {
  auto text = [](const char* name) {
    CellColumn c;
    c.name = name;
    c.is_text = true;
    return c;
  };
  auto num = [](const char* name) {
    CellColumn c;
    c.name = name;
    return c;
  };
  std::vector<CellColumn> cols = {
      text("label"),      text("distribution"), num("d"),           num("k"),
      num("n"),           num("n_test"),        text("loss"),       text("activation"),
      text("teacher"),    text("teacher_weights"), text("teacher_per"), num("condition"),
      num("noise"),       text("optimiser"),    num("batch"),       num("lr"),
      text("schedule"),   num("iterations"),    num("mu"),          num("lambda"),
      text("regulariser"), text("sign"),        num("sign_used"),   num("learn_w"),
      text("bandwidth"),  num("leave_one_out")};
  for (std::size_t ci = 0; ci < study_.cells.size(); ++ci) {
    const TrainingCell& c = study_.cells[ci];
    std::size_t i = 0;
    auto T = [&](const std::string& s) { cols[i++].texts.push_back(s); };
    auto N = [&](double v) { cols[i++].numbers.push_back(v); };
    T(c.label);
    T(c.distribution.name);
    N(c.distribution.d);
    N(c.k);
    N(double(c.n));
    N(double(c.n_test));
    T(to_string(c.loss.kind));
    T(to_string(c.teacher.activation));
    T(to_string(c.teacher.matrix));
    T(to_string(c.teacher.weights));
    T(to_string(c.teacher.per));
    N(c.teacher.condition);
    N(c.teacher.noise);
    T(to_string(c.optimiser.kind));
    N(c.optimiser.kind == OptimiserSpec::Kind::sgd ? double(c.optimiser.batch) : double(c.n));
    N(c.optimiser.lr);
    T(to_string(c.optimiser.schedule));
    N(double(c.optimiser.iterations));
    N(c.loss.mu);
    N(c.loss.lambda);
    T(to_string(c.loss.regulariser));
    T(to_string(c.loss.sign));
    N(signs_[ci]);
    N(c.loss.learn_w ? 1.0 : 0.0);
    T(c.loss.kind == LossSpec::Kind::Lhat ? c.loss.bandwidth.describe() : std::string());
    N(c.loss.leave_one_out ? 1.0 : 0.0);
  }
  return cols;
}

double TrainingRunner::cost(std::size_t cell) const {
  const TrainingCell& c = study_.cells.at(cell);
  const double d = c.distribution.d, k = c.k, n = double(c.n);
  const double m = c.optimiser.kind == OptimiserSpec::Kind::sgd ? double(c.optimiser.batch) : n;
  double per_step = 2.0 * m * k * d;
  if (c.loss.kind == LossSpec::Kind::Lhat) per_step = 3.0 * m * k * d * d;
  if (c.loss.kind == LossSpec::Kind::L && c.distribution.kind == DistributionSpec::Kind::student_t)
    per_step = m * k * k * d * d * d * d;
  double total = per_step * double(c.optimiser.iterations);
  total += double(study_.log_points) * (n + double(c.n_test)) * k * (d + k);
  if (c.loss.kind == LossSpec::Kind::Lhat) total += n * n * d * d;
  return total;
}

std::vector<std::int64_t> TrainingRunner::log_iterations(std::size_t cell) const {
  return log_schedule(study_.cells.at(cell).optimiser.iterations, study_.log_points);
}

int TrainingRunner::resolved_sign(std::size_t cell) const { return signs_.at(cell); }

Record TrainingRunner::run(std::size_t cell, std::uint64_t trial) const {
  return *train(cell, trial, nullptr, nullptr);
}

std::optional<Record> TrainingRunner::run_checkpointed(std::size_t cell, std::uint64_t trial,
                                                       const std::vector<unsigned char>* state,
                                                       CheckpointSink& sink) const {
  if (!state) return train(cell, trial, nullptr, &sink);
  const TrainingCheckpoint resume = TrainingCheckpoint::from_bytes(*state);
  return train(cell, trial, &resume, &sink);
}

std::optional<Record> TrainingRunner::train(std::size_t ci, std::uint64_t trial,
                                            const TrainingCheckpoint* resume, CheckpointSink* sink) const {
  const TrainingCell& cell = study_.cells.at(ci);
  const Distribution& dist = *distributions_[ci];
  const int d = cell.distribution.d, k = cell.k;
  const std::uint64_t seed = study_.seed, dkey = data_keys_[ci];
  const OptimiserSpec& opt = cell.optimiser;
  const std::int64_t T = opt.iterations;
  const std::vector<std::int64_t> sched = log_iterations(ci);
  const std::size_t L = sched.size();
  const std::size_t width = record_width();

  // Teacher, data, test data, initialisation: pure functions of (seed, settings, trial).
  Stream teacher_stream(seed, teacher_keys_[ci],
                        cell.teacher.per == TeacherSpec::Per::trial ? trial : 0, kSubTeacher);
  const Teacher teacher = make_teacher(cell.teacher, d, k, teacher_stream);
  MatrixXd X(d, cell.n);
  Stream data_stream(seed, dkey, trial, kSubData);
  dist.sample(data_stream, X);
  const VectorXd y = teacher_labels(teacher, X, data_stream);
  MatrixXd Xt(d, cell.n_test);
  Stream test_stream(seed, dkey, trial, kSubTest);
  dist.sample(test_stream, Xt);
  const VectorXd yt = teacher_labels(teacher, Xt, test_stream);
  const MatrixXd pinv = teacher_pseudo_inverse(teacher.A);

  std::uint32_t status_bits = status::ok;
  std::unique_ptr<Loss> loss;
  const LossSpec& ls = cell.loss;
  switch (ls.kind) {
    case LossSpec::Kind::l2:
      loss = std::make_unique<L2Loss>(X, y, teacher.activation, ls.learn_w, ls.regulariser,
                                      ls.lambda);
      break;
    case LossSpec::Kind::G:
      loss = std::make_unique<ScoreLoss>(gaussian_forms_model(X), y, ls.mu, signs_[ci],
                                         ls.regulariser, ls.lambda);
      break;
    case LossSpec::Kind::L:
      loss = std::make_unique<ScoreLoss>(exact_score_model(cell.distribution, X), y, ls.mu,
                                         signs_[ci], ls.regulariser, ls.lambda);
      break;
    case LossSpec::Kind::Lhat:
      loss = std::make_unique<ScoreLoss>(llsfe_model(X, ls.bandwidth, ls.leave_one_out, status_bits),
                                         y, ls.mu, signs_[ci], ls.regulariser, ls.lambda);
      break;
  }

  MatrixXd A;
  VectorXd w;
  std::vector<double> rec;
  std::int64_t t = 0;
  std::size_t li = 0;
  if (resume) {
    if (resume->cell != ci || resume->trial != trial)
      throw std::invalid_argument("training checkpoint belongs to another cell or trial");
    if (resume->A.size() != std::size_t(k) * d || resume->w.size() != std::size_t(k) ||
        resume->record.size() != width || resume->iteration < 0 || resume->iteration > T)
      throw std::invalid_argument("training checkpoint does not match this study's cell");
    A = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        resume->A.data(), k, d);
    w = Eigen::Map<const VectorXd>(resume->w.data(), k);
    rec = resume->record;
    t = resume->iteration;
    status_bits = resume->status;
    while (li < L && sched[li] <= t) ++li;  // points up to t were logged before the checkpoint
  } else {
    Stream init_stream(seed, dkey, trial, kSubInit);
    A = initial_rows(k, d, init_stream);
    if (ls.learn_w) {
      w.resize(k);
      for (int i = 0; i < k; ++i) w(i) = init_stream.normal() / std::sqrt(double(k));
    } else {
      w = teacher.w;
    }
    rec.assign(width, std::numeric_limits<double>::quiet_NaN());
    for (std::size_t j = 0; j < L; ++j) rec[j] = double(sched[j]);
  }

  auto series = [&](int s, std::size_t j) -> double& { return rec[std::size_t(s) * L + j]; };
  auto make_checkpoint = [&]() {
    TrainingCheckpoint cp;
    cp.cell = ci;
    cp.trial = trial;
    cp.iteration = t;
    cp.status = status_bits;
    cp.A.resize(std::size_t(k) * d);
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < d; ++j) cp.A[std::size_t(i) * d + j] = A(i, j);
    cp.w.assign(w.data(), w.data() + k);
    cp.record = rec;
    return cp;
  };

  const bool full_batch = opt.kind == OptimiserSpec::Kind::gd;
  const bool learns_w = loss->learns_w();
  MatrixXd gA(k, d);
  VectorXd gw(k);
  bool failed = false;
  const std::int64_t start = t;
  while (true) {
    bool have_grad = false;
    if (li < L && sched[li] == t) {
      // Full-batch gradient descent reuses the logged evaluation for its step.
      const bool with_grad = full_batch && t < T;
      const double value = loss->evaluate(A, w, nullptr, with_grad ? &gA : nullptr,
                                          with_grad && learns_w ? &gw : nullptr);
      have_grad = with_grad;
      if (!std::isfinite(value)) {
        status_bits |= status::nonfinite | status::diverged;
        failed = true;
        break;
      }
      const ParameterError pe = parameter_error(A, pinv);
      const MatchingError me = matching_error(A, teacher.A);
      const VectorXd wfit = refit_second_layer(A, teacher.activation, X, y);
      double test = network_mse(A, wfit, teacher.activation, Xt, yt);
      if (!std::isfinite(test)) test = kInf;
      series(1, li) = value;
      series(2, li) = pe.lenient();
      series(3, li) = pe.strict();
      series(4, li) = me.max;
      series(5, li) = me.mean;
      series(6, li) = test;
      ++li;
    }
    if (t == T) break;
    if (sink && t != start) {
      const CheckpointSink::Action action = sink->at_checkpoint();
      if (action != CheckpointSink::Action::go_on) {
        sink->save(make_checkpoint().to_bytes());
        if (action == CheckpointSink::Action::save_and_stop) return std::nullopt;
      }
    }
    if (!have_grad) {
      if (full_batch) {
        loss->evaluate(A, w, nullptr, &gA, learns_w ? &gw : nullptr);
      } else {
        Stream batch_stream(seed, dkey, trial, kSubBatch + std::uint64_t(t));
        const auto batch = sample_minibatch(batch_stream, cell.n, opt.batch);
        loss->evaluate(A, w, &batch, &gA, learns_w ? &gw : nullptr);
      }
    }
    if (!gA.allFinite() || (learns_w && !gw.allFinite())) {
      status_bits |= status::nonfinite | status::diverged;
      failed = true;
      break;
    }
    const double lr = learning_rate(opt, t);
    A -= lr * gA;
    if (learns_w) w -= lr * gw;
    ++t;
    if (!A.allFinite() || !w.allFinite()) {
      status_bits |= status::nonfinite | status::diverged;
      failed = true;
      break;
    }
    if (A.rowwise().norm().maxCoeff() > opt.divergence_norm) {
      status_bits |= status::diverged;
      failed = true;
      break;
    }
  }

  // Points not reached count as failures (+inf), like every failed trial.
  for (std::size_t j = li; j < L; ++j)
    for (int s = 1; s < kNumSeries; ++s) series(s, j) = kInf;
  double* scal = rec.data() + std::size_t(kNumSeries) * L;
  for (int s = 0; s < 6; ++s) scal[s] = failed ? kInf : series(1 + s, L - 1);
  scal[6] = double(t);
  scal[7] = double(signs_[ci]);
  Record r;
  r.status = status_bits;
  r.values = std::move(rec);
  return r;
}

}  // namespace scorefarm
