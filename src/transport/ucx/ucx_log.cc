// UCX's own warnings and errors, routed through braid's log (stderr, "braid WARN [NET] UCX ...").
// UCX prints them on stdout by default, where they land inside the tables and the --json - /
// --csv - documents of the programs using braid (a peer's abandoned request, an unmatched message
// after a failure, a shared-memory segment that is gone). Installed once per process, by the
// first transport; a user who set UCX_LOG_FILE gets UCX's own handling, untouched, and UCX's
// more verbose levels (UCX_LOG_LEVEL=info, debug, ...) keep their usual output too.
#include <ucs/debug/log_def.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/log.h"
#include "transport/ucx/ucx_internal.h"

namespace braid::transport {
namespace {

ucs_log_func_rc_t RouteToBraidLog(const char* file, unsigned line, const char*, ucs_log_level_t level,
                                  const ucs_log_component_config_t*, const char* message, va_list ap) {
  if (level > UCS_LOG_LEVEL_WARN) return UCS_LOG_FUNC_RC_CONTINUE;
  char text[1024];
  std::vsnprintf(text, sizeof text, message, ap);
  const char* slash = std::strrchr(file, '/');
  const char* name = level == UCS_LOG_LEVEL_WARN ? "WARN" : level == UCS_LOG_LEVEL_ERROR ? "ERROR" : "FATAL";
  BRAID_WARN(kNet, "UCX {} {}:{} {}", name, slash ? slash + 1 : file, line, text);
  return UCS_LOG_FUNC_RC_STOP;
}

}  // namespace

void RouteUcxWarningsToBraidLog() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("UCX_LOG_FILE") == nullptr) ucs_log_push_handler(&RouteToBraidLog);
  });
}

}  // namespace braid::transport
