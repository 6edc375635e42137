// Environment knobs. Each is read once per process, and its effective value (and where it came
// from, or that it is unset and its default applies) is logged at INFO the first time it is read.
// BRAID_X takes precedence over NCCL_X.
//
// A value that is set but unusable is an error, never a silent fallback to the default: the
// numeric readers return InvalidArgument naming the variable the user set, its value and the
// allowed range, and communicator creation fails with it.
#pragma once

#include <optional>
#include <string>

#include "braid/status.h"

namespace braid::env {

// The string value of BRAID_<name> or else NCCL_<name>; nullopt if neither is set.
std::optional<std::string> Get(const std::string& name);
// The knob parsed as an integer / a finite number in [lo, hi] into *out; `fallback` when unset.
Status GetInt(const std::string& name, long fallback, long lo, long hi, long* out);
Status GetDouble(const std::string& name, double fallback, double lo, double hi, double* out);
// The variable that gave knob `name` its value (BRAID_<name> or NCCL_<name>), or BRAID_<name>
// when neither is set: for error messages that must name what the user set.
std::string VariableName(const std::string& name);

// BRAID_TIMEOUT in seconds: 300 by default, allowed in [0.001, 1e9] (1e9 s: in effect never).
inline constexpr double kDefaultTimeoutS = 300.0;
inline constexpr double kMinTimeoutS = 0.001;
inline constexpr double kMaxTimeoutS = 1e9;
Status TimeoutSeconds(double* out);

}  // namespace braid::env
