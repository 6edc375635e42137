#include "core/build_identity.h"

#include "braid_revision.h"  // generated at build time (cmake/git_revision.cmake)

namespace braid {

const std::string& BuildIdentity() {
  static const std::string identity = "braid " BRAID_VERSION " (git " BRAID_GIT_REVISION ")";
  return identity;
}

}  // namespace braid
