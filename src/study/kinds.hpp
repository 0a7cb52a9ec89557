#pragma once
// One parser per trial kind (private to scorefarm::study). Each validates the whole config tree
// against its schema, builds the canonical tree (every default filled in) and the runner.
#include <memory>

#include <yaml-cpp/yaml.h>

#include "scorefarm/core/trial.hpp"
#include "yaml_reader.hpp"

namespace scorefarm::study_detail {

struct ParsedStudy {
  YAML::Node canonical;
  std::unique_ptr<TrialRunner> runner;
};

ParsedStudy parse_estimator_study(const Item& root);
#ifdef SCOREFARM_HAVE_TRAINING
ParsedStudy parse_training_study(const Item& root);
#endif

}  // namespace scorefarm::study_detail
