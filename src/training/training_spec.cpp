#include "scorefarm/training/training_spec.hpp"

#include <stdexcept>

namespace scorefarm {

namespace {

template <class E, std::size_t N>
E parse_name(const std::string& what, const std::string& name,
             const std::pair<const char*, E> (&table)[N]) {
  std::string valid;
  for (const auto& [text, value] : table) {
    if (name == text) return value;
    valid += (valid.empty() ? "" : ", ") + std::string(text);
  }
  throw std::invalid_argument("unknown " + what + " '" + name + "' (expected one of: " + valid + ")");
}

template <class E, std::size_t N>
std::string name_of(E value, const std::pair<const char*, E> (&table)[N]) {
  for (const auto& [text, v] : table)
    if (v == value) return text;
  return "?";
}

const std::pair<const char*, Activation> kActivations[] = {{"relu", Activation::relu},
                                                            {"tanh", Activation::tanh},
                                                            {"softplus", Activation::softplus},
                                                            {"sigmoid", Activation::sigmoid}};
const std::pair<const char*, TeacherSpec::Matrix> kMatrices[] = {
    {"identity", TeacherSpec::Matrix::identity},
    {"orthogonal", TeacherSpec::Matrix::orthogonal},
    {"conditioned", TeacherSpec::Matrix::conditioned}, {"given", TeacherSpec::Matrix::given}};
const std::pair<const char*, TeacherSpec::Weights> kWeights[] = {
    {"ones", TeacherSpec::Weights::ones}, {"random_signs", TeacherSpec::Weights::random_signs},
    {"given", TeacherSpec::Weights::given}};
const std::pair<const char*, TeacherSpec::Per> kPer[] = {{"trial", TeacherSpec::Per::trial},
                                                         {"cell", TeacherSpec::Per::cell}};
const std::pair<const char*, LossSpec::Kind> kLosses[] = {{"l2", LossSpec::Kind::l2},
                                                          {"G", LossSpec::Kind::G},
                                                          {"L", LossSpec::Kind::L},
                                                          {"Lhat", LossSpec::Kind::Lhat}};
const std::pair<const char*, LossSpec::Regulariser> kRegs[] = {
    {"norm", LossSpec::Regulariser::norm}, {"norm_squared", LossSpec::Regulariser::norm_squared}};
// The first name of each sign is the canonical one (to_string); the others are accepted aliases.
const std::pair<const char*, LossSpec::Sign> kSigns[] = {
    {"+1", LossSpec::Sign::plus},   {"-1", LossSpec::Sign::minus},
    {"auto", LossSpec::Sign::automatic}, {"1", LossSpec::Sign::plus},
    {"plus", LossSpec::Sign::plus}, {"minus", LossSpec::Sign::minus}};
const std::pair<const char*, OptimiserSpec::Kind> kOpts[] = {{"gd", OptimiserSpec::Kind::gd},
                                                             {"sgd", OptimiserSpec::Kind::sgd}};
const std::pair<const char*, OptimiserSpec::Schedule> kSchedules[] = {
    {"constant", OptimiserSpec::Schedule::constant},
    {"inverse_time", OptimiserSpec::Schedule::inverse_time},
    {"step", OptimiserSpec::Schedule::step}};

}  // namespace

Activation parse_activation(const std::string& n) { return parse_name("activation", n, kActivations); }
std::string to_string(Activation a) { return name_of(a, kActivations); }
TeacherSpec::Matrix parse_teacher_matrix(const std::string& n) {
  return parse_name("teacher matrix", n, kMatrices);
}
std::string to_string(TeacherSpec::Matrix m) { return name_of(m, kMatrices); }
TeacherSpec::Weights parse_teacher_weights(const std::string& n) {
  return parse_name("teacher weights", n, kWeights);
}
std::string to_string(TeacherSpec::Weights w) { return name_of(w, kWeights); }
TeacherSpec::Per parse_teacher_per(const std::string& n) { return parse_name("teacher per", n, kPer); }
std::string to_string(TeacherSpec::Per p) { return name_of(p, kPer); }
LossSpec::Kind parse_loss_kind(const std::string& n) { return parse_name("loss", n, kLosses); }
std::string to_string(LossSpec::Kind k) { return name_of(k, kLosses); }
LossSpec::Regulariser parse_regulariser(const std::string& n) {
  return parse_name("regulariser", n, kRegs);
}
std::string to_string(LossSpec::Regulariser r) { return name_of(r, kRegs); }
LossSpec::Sign parse_sign(const std::string& n) { return parse_name("sign", n, kSigns); }
std::string to_string(LossSpec::Sign s) { return name_of(s, kSigns); }
OptimiserSpec::Kind parse_optimiser(const std::string& n) { return parse_name("optimiser", n, kOpts); }
std::string to_string(OptimiserSpec::Kind k) { return name_of(k, kOpts); }
OptimiserSpec::Schedule parse_schedule(const std::string& n) {
  return parse_name("schedule", n, kSchedules);
}
std::string to_string(OptimiserSpec::Schedule s) { return name_of(s, kSchedules); }

}  // namespace scorefarm
