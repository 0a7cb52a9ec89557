#include "scorefarm/training/teacher.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "scorefarm/training/activation.hpp"

namespace scorefarm::training {

Eigen::MatrixXd random_orthogonal(int d, Stream& stream) {
  Eigen::MatrixXd G(d, d);
  for (int j = 0; j < d; ++j)
    for (int i = 0; i < d; ++i) G(i, j) = stream.normal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
  Eigen::MatrixXd Q = qr.householderQ() * Eigen::MatrixXd::Identity(d, d);
  const Eigen::MatrixXd& R = qr.matrixQR();
  for (int j = 0; j < d; ++j)
    if (R(j, j) < 0) Q.col(j) = -Q.col(j);
  return Q;
}

Teacher make_teacher(const TeacherSpec& spec, int d, int k, Stream& stream) {
  if (d < 1 || k < 1 || k > d)
    throw std::invalid_argument("teacher: need 1 <= k <= d, got k = " + std::to_string(k) +
                                ", d = " + std::to_string(d));
  Teacher t;
  t.activation = spec.activation;
  t.noise = spec.noise;
  switch (spec.matrix) {
    case TeacherSpec::Matrix::identity:
      t.A = Eigen::MatrixXd::Identity(k, d);
      break;
    case TeacherSpec::Matrix::orthogonal:
      t.A = random_orthogonal(d, stream).topRows(k);
      break;
    case TeacherSpec::Matrix::conditioned: {
      if (!(spec.condition >= 1.0) || !std::isfinite(spec.condition))
        throw std::invalid_argument("teacher.condition must be a finite number >= 1");
      const Eigen::MatrixXd U = random_orthogonal(k, stream);
      const Eigen::MatrixXd V = random_orthogonal(d, stream);
      Eigen::VectorXd s(k);
      // log-spaced from 1 down to 1/condition: σ_max/σ_min = condition exactly.
      for (int i = 0; i < k; ++i)
        s(i) = k == 1 ? 1.0 : std::pow(spec.condition, -double(i) / double(k - 1));
      t.A = U * s.asDiagonal() * V.leftCols(k).transpose();
      break;
    }
    case TeacherSpec::Matrix::given: {
      if (spec.rows.rows() != k || spec.rows.cols() != d)
        throw std::invalid_argument("teacher.matrix: given rows are " +
                                    std::to_string(spec.rows.rows()) + " x " +
                                    std::to_string(spec.rows.cols()) + ", the cell needs k x d = " +
                                    std::to_string(k) + " x " + std::to_string(d));
      if (!spec.rows.allFinite())
        throw std::invalid_argument("teacher.matrix: given rows must be finite");
      Eigen::JacobiSVD<Eigen::MatrixXd> svd(spec.rows);
      const Eigen::VectorXd sv = svd.singularValues();
      if (!(sv(k - 1) > 1e-10 * sv(0)))
        throw std::invalid_argument("teacher.matrix: given rows must have full row rank");
      t.A = spec.rows;
      break;
    }
  }
  t.w = Eigen::VectorXd::Ones(k);
  if (spec.weights == TeacherSpec::Weights::random_signs)
    for (int i = 0; i < k; ++i) t.w(i) = (stream.bits() >> 63) ? 1.0 : -1.0;
  if (spec.weights == TeacherSpec::Weights::given) {
    if (spec.values.size() != std::size_t(k))
      throw std::invalid_argument("teacher.weights: " + std::to_string(spec.values.size()) +
                                  " values given, the cell has k = " + std::to_string(k));
    for (int i = 0; i < k; ++i) t.w(i) = spec.values[std::size_t(i)];
    if (!t.w.allFinite()) throw std::invalid_argument("teacher.weights: values must be finite");
  }
  return t;
}

Eigen::VectorXd teacher_outputs(const Teacher& t, const Eigen::MatrixXd& X) {
  const Eigen::MatrixXd P = t.A * X;
  Eigen::MatrixXd S;
  activate(t.activation, P, S, nullptr);
  return S.transpose() * t.w;
}

Eigen::VectorXd teacher_labels(const Teacher& t, const Eigen::MatrixXd& X, Stream& stream) {
  Eigen::VectorXd y = teacher_outputs(t, X);
  if (t.noise > 0)
    for (Eigen::Index n = 0; n < y.size(); ++n) y(n) += t.noise * stream.normal();
  return y;
}

}  // namespace scorefarm::training
