// Inputs named by options (--model, --cluster, --calibration, --tuner-file): their errors say which option.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "collectives/tuner_file.h"
#include "sim/cluster/cluster.h"
#include "sim/common/input_error.h"

namespace braid::sim {

// `load()`, with an InputError that does not name its option prefixed "option: " (a file's error
// names only its path, which for a pipe is /dev/fd/63; QA, session 54).
template <typename Load>
auto ForOption(const char* option, Load load) {
  try {
    return load();
  } catch (const InputError& e) {
    const std::string what = e.what();
    if (what.rfind("--", 0) == 0) throw;
    throw InputError(fmt::format("{}: {}", option, what));
  }
}

// --tuner-file, on every command that replays collectives.
inline void AddTunerFileOption(CLI::App* cmd, std::string* path) {
  cmd->add_option("--tuner-file", *path,
                  "Predict braid run with BRAID_TUNER_FILE=FILE: its tuner then chooses algorithms and slices "
                  "with FILE's calibration (a cluster file from braid-perf calibrate; --cluster must have a "
                  "\"calibration\" block too); default: the tuner's built-in model");
}

// Reads --tuner-file `path` (when given) as braid reads BRAID_TUNER_FILE, into the cluster's
// host runtime. InputError naming the option when the file is refused or the cluster models no
// host runtime (the file sets braid's tuner only; GPU clusters are costed by their links).
inline void ApplyTunerFile(const std::string& path, ClusterSpec* cluster) {
  if (path.empty()) return;
  if (!cluster->host) {
    throw InputError(fmt::format("--tuner-file {}: the cluster has no \"calibration\" block, so it does not model "
                                 "braid's host runtime, whose tuner the file sets", path));
  }
  auto tuner = std::make_shared<coll::TunerCalibration>();
  if (Status s = coll::ReadTunerFile(path, tuner.get()); !s.ok()) {
    throw InputError(fmt::format("--tuner-file: {}", s.message()));
  }
  cluster->host->runtime_tuner = std::move(tuner);
}

}  // namespace braid::sim
