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
  // What braid's log would not print (BRAID_DEBUG=NONE, NCCL_DEBUG=VERSION, a subsystem list
  // without NET) is left to UCX: its warnings and errors are never dropped.
  if (level > UCS_LOG_LEVEL_WARN || !log::Enabled(log::Level::kWarn, log::Subsys::kNet)) return UCS_LOG_FUNC_RC_CONTINUE;
  char text[1024];
  std::vsnprintf(text, sizeof text, message, ap);
  const char* slash = std::strrchr(file, '/');
  const char* name = level == UCS_LOG_LEVEL_WARN ? "WARN" : level == UCS_LOG_LEVEL_ERROR ? "ERROR" : "FATAL";
  // Called from UCX's C code, also while a transport is torn down out of memory: nothing may
  // unwind from here. Without memory for braid's line, the text goes to stderr as it is.
  try {
    BRAID_WARN(kNet, "UCX {} {}:{} {}", name, slash ? slash + 1 : file, line, text);
  } catch (...) {
    std::fputs("braid: UCX ", stderr);
    std::fputs(name, stderr);
    std::fputs(" ", stderr);
    std::fputs(text, stderr);
    std::fputs("\n", stderr);
  }
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
