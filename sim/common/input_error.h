// Bad user input to plan-sim (unknown preset, malformed file, a layout that cannot work). The
// message names the file or option, the field, the value and the constraint; the command-line
// tool turns it into exit code 2. Internal invariants use other exception types.
#pragma once

#include <stdexcept>
#include <string>

namespace braid::sim {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace braid::sim
