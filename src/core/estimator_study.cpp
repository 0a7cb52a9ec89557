// The `estimator` trial kind (issue 2): samples → bandwidth → estimate → errors vs exact scores.
#include "scorefarm/core/estimator_study.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "scorefarm/core/kde.hpp"
#include "scorefarm/core/llsfe.hpp"
#include "scorefarm/core/local_likelihood.hpp"
#include "scorefarm/core/norms.hpp"
#include "scorefarm/core/score_tensors.hpp"

namespace scorefarm {

std::string QueryRule::describe() const {
  if (kind == Kind::sample) return "sample";
  std::ostringstream os;
  os.precision(17);
  os << "fixed:";
  for (std::size_t i = 0; i < point.size(); ++i) os << (i ? "," : "") << point[i];
  return os.str();
}

std::vector<std::string> estimator_error_names() {
  return {"S1", "S2_sp", "S2_F", "S3_F", "S4_F", "S4_sp"};
}

namespace {

enum class ErrorKind { S1, S2_sp, S2_F, S3_F, S4_F, S4_sp };

ErrorKind error_kind(const std::string& name) {
  const auto names = estimator_error_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("errors: unknown error '" + name + "' (known: " + known + ")");
  }
  return static_cast<ErrorKind>(it - names.begin());
}

double tensor_diff_frobenius(const Tensor& A, const Tensor& B) {
  double s = 0.0;
  for (std::size_t i = 0; i < A.size(); ++i) {
    const double e = A.data[i] - B.data[i];
    s += e * e;
  }
  return std::sqrt(s);
}

Tensor tensor_diff(const Tensor& A, const Tensor& B) {
  Tensor D = A;
  for (std::size_t i = 0; i < D.size(); ++i) D.data[i] -= B.data[i];
  return D;
}

// llsfe dispatch (issue 7): the closed form for degree 2 with the Gaussian kernel, the numeric
// degree-p solver otherwise.
bool uses_closed_form(const EstimatorSpec& est) { return est.degree == 2 && est.kernel == "gaussian"; }

LocalLikelihoodOptions local_likelihood_options(const EstimatorSpec& est) {
  LocalLikelihoodOptions o;
  o.degree = est.degree;
  o.kernel = parse_local_kernel(est.kernel);
  return o;
}

}  // namespace

EstimatorRunner::EstimatorRunner(EstimatorStudy study) : study_(std::move(study)) {
  if (study_.trials < 1) throw std::invalid_argument("trials: must be at least 1");
  if (study_.cells.empty()) throw std::invalid_argument("cells: the study has no cells");
  if (study_.errors.empty()) throw std::invalid_argument("errors: no error to record");
  for (std::size_t i = 0; i < study_.errors.size(); ++i) {
    error_kind(study_.errors[i]);
    for (std::size_t j = 0; j < i; ++j)
      if (study_.errors[j] == study_.errors[i])
        throw std::invalid_argument("errors: '" + study_.errors[i] + "' listed twice");
  }
  for (std::size_t c = 0; c < study_.cells.size(); ++c) {
    const EstimatorCell& cell = study_.cells[c];
    const std::string at = "cells[" + std::to_string(c) + "].";
    try {
      distributions_.push_back(make_distribution(cell.distribution));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(at + "distribution." + e.what());
    }
    const int d = cell.distribution.d;
    if (cell.n < 1) throw std::invalid_argument(at + "n: must be at least 1, got " + std::to_string(cell.n));
    const EstimatorSpec& est = cell.estimator;
    if (est.name == "llsfe") {
      // degree 2 + gaussian: the paper's closed form (llsfe.hpp); anything else: the degree-p
      // local likelihood solver (local_likelihood.hpp), built here once to validate d and options.
      if (est.degree < 2 || est.degree > 4)
        throw std::invalid_argument(at + "estimator.degree: must be 2, 3 or 4, got " +
                                    std::to_string(est.degree));
      try {
        parse_local_kernel(est.kernel);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(at + "estimator.kernel: " + e.what());
      }
      if (!uses_closed_form(est)) {
        try {
          cached_local_likelihood(d, local_likelihood_options(est));
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument(at + "estimator: " + e.what());
        }
      }
    } else if (est.name == "kde") {
      if (est.kernel != "gaussian")
        throw std::invalid_argument(at + "estimator.kernel: only 'gaussian' is implemented, got '" +
                                    est.kernel + "'");
    } else {
      throw std::invalid_argument(at + "estimator.name: unknown estimator '" + est.name +
                                  "' (known: llsfe, kde)");
    }
    if (!(cell.bandwidth.value > 0.0) || !std::isfinite(cell.bandwidth.value))
      throw std::invalid_argument(at + "bandwidth.value: must be a positive finite number");
    if (cell.bandwidth.kind == BandwidthRule::Kind::theory && cell.bandwidth.degree < 0)
      throw std::invalid_argument(at + "bandwidth.degree: must be non-negative");
    if (cell.query.kind == QueryRule::Kind::fixed) {
      const auto& p = cell.query.point;
      if (p.size() != 1 && p.size() != static_cast<std::size_t>(d))
        throw std::invalid_argument(at + "query.point: expected 1 or " + std::to_string(d) +
                                    " values, got " + std::to_string(p.size()));
      for (double v : p)
        if (!std::isfinite(v)) throw std::invalid_argument(at + "query.point: non-finite value");
    }
  }
}

std::vector<FieldSpec> EstimatorRunner::fields() const {
  std::vector<FieldSpec> f{{"h", 1, "bandwidth used"},
                           {"ess", 1, "effective sample size (sum w)^2 / sum w^2 of the kernel weights"}};
  for (const auto& e : study_.errors) {
    std::string desc;
    switch (error_kind(e)) {
      case ErrorKind::S1: desc = "||S1_hat - S1||_2"; break;
      case ErrorKind::S2_sp: desc = "spectral norm of S2_hat - S2"; break;
      case ErrorKind::S2_F: desc = "Frobenius norm of S2_hat - S2"; break;
      case ErrorKind::S3_F: desc = "Frobenius norm of S3_hat - S3"; break;
      case ErrorKind::S4_F: desc = "Frobenius norm of S4_hat - S4"; break;
      case ErrorKind::S4_sp:
        desc = "spectral norm max_|u|=1 |(S4_hat - S4)(u,u,u,u)|: exact for d <= 2, a lower bound "
               "(status spectral_approx) for d > 2";
        break;
    }
    f.push_back({"err_" + e, 1, desc + "; +inf when the trial failed"});
  }
  return f;
}

std::vector<CellColumn> EstimatorRunner::cell_table() const {
  CellColumn dist{"distribution", true, {}, {}}, d{"d", false, {}, {}}, n{"n", false, {}, {}},
      est{"estimator", true, {}, {}}, deg{"degree", false, {}, {}}, ker{"kernel", true, {}, {}},
      rule{"bandwidth_rule", true, {}, {}}, c{"bandwidth_c", false, {}, {}}, q{"query", true, {}, {}};
  for (const auto& cell : study_.cells) {
    dist.texts.push_back(cell.distribution.name);
    d.numbers.push_back(cell.distribution.d);
    n.numbers.push_back(static_cast<double>(cell.n));
    est.texts.push_back(cell.estimator.name);
    deg.numbers.push_back(cell.estimator.degree);
    ker.texts.push_back(cell.estimator.kernel);
    rule.texts.push_back(bandwidth_kind_name(cell.bandwidth.kind));
    c.numbers.push_back(cell.bandwidth.value);
    q.texts.push_back(cell.query.describe());
  }
  return {dist, d, n, est, deg, ker, rule, c, q};
}

double EstimatorRunner::cost(std::size_t cell) const {
  return static_cast<double>(study_.cells.at(cell).n);
}

Record EstimatorRunner::run(std::size_t cell_index, std::uint64_t trial) const {
  const EstimatorCell& cell = study_.cells.at(cell_index);
  const Distribution& dist = *distributions_[cell_index];
  const int d = cell.distribution.d;

  Eigen::MatrixXd X(d, cell.n);
  Stream data(study_.seed, cell_index, trial, substream_data);
  dist.sample(data, X);

  Eigen::VectorXd x(d);
  if (cell.query.kind == QueryRule::Kind::fixed) {
    for (int j = 0; j < d; ++j) x(j) = cell.query.point.size() == 1 ? cell.query.point[0] : cell.query.point[j];
  } else {
    Stream query(study_.seed, cell_index, trial, substream_query);
    dist.sample_one(query, x);
  }

  // The theory rule c·n^(−1/(2p+2+d)) uses the degree of the cell's llsfe estimator (issue 7).
  BandwidthRule rule = cell.bandwidth;
  if (cell.estimator.name == "llsfe" && rule.kind == BandwidthRule::Kind::theory)
    rule.degree = cell.estimator.degree;
  const double h = rule.bandwidth(X);
  Record rec;
  LogDerivs est;
  Scores est_scores;
  bool have_scores = false;
  double ess = 0.0;
  if (cell.estimator.name == "kde") {
    KdeEstimate k = kde_scores(X, x, h);
    rec.status = k.status;
    ess = k.ess;
    est = std::move(k.log_derivs);
    est_scores = std::move(k.scores);
    have_scores = true;
  } else if (!uses_closed_form(cell.estimator) && !(h > 0.0 && std::isfinite(h))) {
    // A data-driven rule can give h = 0 (Silverman on n = 1) or overflow; the degree-p solver
    // throws on such an h, and a trial must end with a status, not abort the run: a failed trial.
    rec.status = status::failed;
  } else {
    Estimate e = uses_closed_form(cell.estimator)
                     ? llsfe2(X, x, h)
                     : cached_local_likelihood(d, local_likelihood_options(cell.estimator))
                           .estimate(X, x, h)
                           .estimate;
    rec.status = e.status;
    ess = e.ess;
    est = std::move(e.log_derivs);
  }
  rec.values.reserve(2 + study_.errors.size());
  rec.values.push_back(h);
  rec.values.push_back(ess);

  const bool failed = (rec.status & status::failure_mask) != 0;
  if (failed) {
    rec.values.insert(rec.values.end(), study_.errors.size(), std::numeric_limits<double>::infinity());
    return rec;
  }
  const LogDerivs truth = dist.log_derivs(x);
  bool need3 = false, need4 = false;
  for (const auto& e : study_.errors) {
    const ErrorKind k = error_kind(e);
    need3 = need3 || k == ErrorKind::S3_F;
    need4 = need4 || k == ErrorKind::S4_F || k == ErrorKind::S4_sp;
  }
  Scores S_true, S_est;
  if (need3 || need4) {
    S_true = scores_from_log_derivs(truth);
    S_est = have_scores ? est_scores : scores_from_log_derivs(est);
  } else {
    S_true.S1 = truth.g;
    S_true.S2 = truth.g * truth.g.transpose() + truth.G2;
    S_est.S1 = have_scores ? est_scores.S1 : est.g;
    S_est.S2 = have_scores ? est_scores.S2 : Eigen::MatrixXd(est.g * est.g.transpose() + est.G2);
  }
  for (const auto& e : study_.errors) {
    double err = 0.0;
    switch (error_kind(e)) {
      case ErrorKind::S1: err = (S_est.S1 - S_true.S1).norm(); break;
      case ErrorKind::S2_sp: err = spectral_norm_sym(S_est.S2 - S_true.S2); break;
      case ErrorKind::S2_F: err = (S_est.S2 - S_true.S2).norm(); break;
      case ErrorKind::S3_F: err = tensor_diff_frobenius(S_est.S3, S_true.S3); break;
      case ErrorKind::S4_F: err = tensor_diff_frobenius(S_est.S4, S_true.S4); break;
      case ErrorKind::S4_sp: {
        const SpectralResult r = spectral_norm_sym4(tensor_diff(S_est.S4, S_true.S4));
        err = r.value;
        if (!r.exact) rec.status |= status::spectral_approx;
        break;
      }
    }
    if (!std::isfinite(err)) {
      // An estimate that passed the estimator's own checks but gave a non-finite error (e.g. an
      // overflowing S4 at a huge query point): record it as a failure, never as a silent NaN.
      rec.status |= status::nonfinite;
      err = std::numeric_limits<double>::infinity();
    }
    rec.values.push_back(err);
  }
  if (rec.status & status::failure_mask)  // keep the rule: failed trials carry +inf everywhere
    std::fill(rec.values.begin() + 2, rec.values.end(), std::numeric_limits<double>::infinity());
  return rec;
}

}  // namespace scorefarm
