#include <string>

#include "bootstrap/unique_id.h"

namespace braid::bootstrap {

RootAddress EnvRootAddress(const std::string& host, uint16_t port) {
  std::string text = host + ":" + std::to_string(port);
  uint64_t hash = 1469598103934665603ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV-1a 64-bit prime
  }
  return RootAddress{host, port, hash};
}

}  // namespace braid::bootstrap
