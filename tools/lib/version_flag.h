// `--version` for the tools that link libbraid's internals (plan-sim, braid-topo): prints
// "<program>: braid 0.1.0 (git ...)", the build that ranks compare when they meet
// (src/core/build_identity.h), on stdout and exits 0 (ParseCommandLine in cli_parse.h; plan-sim
// through CLI11's own exit). braid-perf answers --version before MPI starts, in its main.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "src/core/build_identity.h"

namespace braid::tools {

inline void AddVersionFlag(CLI::App& app, const char* program) {
  app.set_version_flag("--version", [program] { return std::string(program) + ": " + braid::BuildIdentity(); });
}

}  // namespace braid::tools
