// Environment knobs. Each is read once per process, and its effective value (and where it came
// from, or that it is unset and its default applies) is logged at INFO the first time it is read.
// BRAID_X takes precedence over NCCL_X.
#pragma once

#include <optional>
#include <string>

namespace braid::env {

// The string value of BRAID_<name> or else NCCL_<name>; nullopt if neither is set.
std::optional<std::string> Get(const std::string& name);
// Parsed as a double/int with a default; an unparsable value is logged at WARN naming the
// variable and the value, and the default is used.
double GetDouble(const std::string& name, double fallback);
long GetInt(const std::string& name, long fallback);
// The variable that gave knob `name` its value (BRAID_<name> or NCCL_<name>), or BRAID_<name>
// when neither is set: for error messages that must name what the user set.
std::string VariableName(const std::string& name);

// BRAID_TIMEOUT in seconds (default 300).
double TimeoutSeconds();

}  // namespace braid::env
