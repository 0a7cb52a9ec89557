// S1..S4 from the derivatives of log f (SPEC §1, paper eq. 2), written index by index: every
// "k sym(A⊗B)" term is the sum over the k distinct placements of the indices, which is what the
// permutation average times k reduces to for symmetric A and B.
#include "scorefarm/core/score_tensors.hpp"

#include <stdexcept>

namespace scorefarm {

namespace {

// sign = +1 builds S from G; sign = −1 peels the same terms off S to recover G (the lower-order G
// used in the correction terms are then the already recovered ones).
void third_order_terms(const Eigen::VectorXd& g, const Eigen::MatrixXd& G2, double sign, Tensor& T) {
  const int d = static_cast<int>(g.size());
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < d; ++k)
        T(i, j, k) += sign * (g(i) * g(j) * g(k) + G2(i, j) * g(k) + G2(i, k) * g(j) + G2(j, k) * g(i));
}

void fourth_order_terms(const Eigen::VectorXd& g, const Eigen::MatrixXd& G2, const Tensor* G3,
                        double sign, Tensor& T) {
  const int d = static_cast<int>(g.size());
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < d; ++k)
        for (int l = 0; l < d; ++l) {
          double t = g(i) * g(j) * g(k) * g(l);
          t += G2(i, j) * g(k) * g(l) + G2(i, k) * g(j) * g(l) + G2(i, l) * g(j) * g(k) +
               G2(j, k) * g(i) * g(l) + G2(j, l) * g(i) * g(k) + G2(k, l) * g(i) * g(j);
          t += G2(i, j) * G2(k, l) + G2(i, k) * G2(j, l) + G2(i, l) * G2(j, k);
          if (G3)
            t += (*G3)(i, j, k) * g(l) + (*G3)(i, j, l) * g(k) + (*G3)(i, k, l) * g(j) +
                 (*G3)(j, k, l) * g(i);
          T(i, j, k, l) += sign * t;
        }
}

void check(const LogDerivs& D) {
  const auto d = D.g.size();
  if (D.G2.rows() != d || D.G2.cols() != d) throw std::invalid_argument("LogDerivs: G2 is not d x d");
  if (!D.G3.empty() && (D.G3.d != d || D.G3.order != 3))
    throw std::invalid_argument("LogDerivs: G3 is not a d^3 tensor");
  if (!D.G4.empty() && (D.G4.d != d || D.G4.order != 4))
    throw std::invalid_argument("LogDerivs: G4 is not a d^4 tensor");
}

}  // namespace

Scores scores_from_log_derivs(const LogDerivs& D) {
  check(D);
  const int d = D.dim();
  Scores S;
  S.S1 = D.g;
  S.S2 = D.g * D.g.transpose() + D.G2;
  S.S3 = D.G3.empty() ? Tensor(d, 3) : D.G3;
  third_order_terms(D.g, D.G2, +1.0, S.S3);
  S.S4 = D.G4.empty() ? Tensor(d, 4) : D.G4;
  fourth_order_terms(D.g, D.G2, D.G3.empty() ? nullptr : &D.G3, +1.0, S.S4);
  return S;
}

LogDerivs log_derivs_from_scores(const Scores& S) {
  const int d = static_cast<int>(S.S1.size());
  if (S.S2.rows() != d || S.S2.cols() != d || S.S3.d != d || S.S3.order != 3 || S.S4.d != d ||
      S.S4.order != 4)
    throw std::invalid_argument("log_derivs_from_scores: inconsistent dimensions");
  LogDerivs D;
  D.g = S.S1;
  D.G2 = S.S2 - D.g * D.g.transpose();
  D.G3 = S.S3;
  third_order_terms(D.g, D.G2, -1.0, D.G3);
  D.G4 = S.S4;
  fourth_order_terms(D.g, D.G2, &D.G3, -1.0, D.G4);
  return D;
}

double contract3(const Tensor& T, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                 const Eigen::VectorXd& c) {
  const int d = T.d;
  double sum = 0.0;
  for (int i = 0; i < d; ++i) {
    double si = 0.0;
    for (int j = 0; j < d; ++j) {
      double sj = 0.0;
      for (int k = 0; k < d; ++k) sj += T(i, j, k) * c(k);
      si += sj * b(j);
    }
    sum += si * a(i);
  }
  return sum;
}

double contract4(const Tensor& T, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                 const Eigen::VectorXd& c, const Eigen::VectorXd& e) {
  const int d = T.d;
  double sum = 0.0;
  for (int i = 0; i < d; ++i) {
    double si = 0.0;
    for (int j = 0; j < d; ++j) {
      double sj = 0.0;
      for (int k = 0; k < d; ++k) {
        double sk = 0.0;
        for (int l = 0; l < d; ++l) sk += T(i, j, k, l) * e(l);
        sj += sk * c(k);
      }
      si += sj * b(j);
    }
    sum += si * a(i);
  }
  return sum;
}

double S4_uuvv(const LogDerivs& D, const Eigen::VectorXd& u, const Eigen::VectorXd& v) {
  const double a = D.g.dot(u), b = D.g.dot(v);
  const double Guu = u.dot(D.G2 * u), Guv = u.dot(D.G2 * v), Gvv = v.dot(D.G2 * v);
  double s = a * a * b * b + Guu * b * b + Gvv * a * a + 4.0 * Guv * a * b + Guu * Gvv + 2.0 * Guv * Guv;
  if (!D.G3.empty()) s += 2.0 * b * contract3(D.G3, u, u, v) + 2.0 * a * contract3(D.G3, u, v, v);
  if (!D.G4.empty()) s += contract4(D.G4, u, u, v, v);
  return s;
}

double S4_uuuu(const LogDerivs& D, const Eigen::VectorXd& u) {
  const double a = D.g.dot(u);
  const double Guu = u.dot(D.G2 * u);
  double s = a * a * a * a + 6.0 * Guu * a * a + 3.0 * Guu * Guu;
  if (!D.G3.empty()) s += 4.0 * a * contract3(D.G3, u, u, u);
  if (!D.G4.empty()) s += contract4(D.G4, u, u, u, u);
  return s;
}

double S4_uuuv(const LogDerivs& D, const Eigen::VectorXd& u, const Eigen::VectorXd& v) {
  const double a = D.g.dot(u), b = D.g.dot(v);
  const double Guu = u.dot(D.G2 * u), Guv = u.dot(D.G2 * v);
  double s = a * a * a * b + 3.0 * Guu * a * b + 3.0 * Guv * a * a + 3.0 * Guu * Guv;
  if (!D.G3.empty()) s += b * contract3(D.G3, u, u, u) + 3.0 * a * contract3(D.G3, u, u, v);
  if (!D.G4.empty()) s += contract4(D.G4, u, u, u, v);
  return s;
}

}  // namespace scorefarm
