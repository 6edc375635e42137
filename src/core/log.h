// Logging controlled by BRAID_DEBUG=WARN|INFO|TRACE (NCCL_DEBUG too), BRAID_DEBUG_SUBSYS (comma
// list of INIT,COLL,P2P,NET,BOOT,TUNE,ALL; a leading ^ excludes) and BRAID_DEBUG_FILE (%h = host,
// %p = pid). Lines look like "host:pid:tid braid INFO [COLL] message". Thread-safe.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace braid::log {

enum class Level : int { kNone = 0, kWarn = 1, kInfo = 2, kTrace = 3 };
enum class Subsys : unsigned {
  kInit = 1u << 0,
  kColl = 1u << 1,
  kP2p = 1u << 2,
  kNet = 1u << 3,
  kBoot = 1u << 4,
  kTune = 1u << 5,
  kEnv = 1u << 6,
};

// True if a message at `level` for `subsys` would be printed (cheap; use before formatting).
bool Enabled(Level level, Subsys subsys);
void Write(Level level, Subsys subsys, std::string_view message);

// Re-reads the BRAID_DEBUG* variables (tests use it after setenv).
void ReloadConfig();

}  // namespace braid::log

#define BRAID_LOG(level, subsys, ...)                                                        \
  do {                                                                                     \
    if (::braid::log::Enabled(::braid::log::Level::level, ::braid::log::Subsys::subsys))  \
      ::braid::log::Write(::braid::log::Level::level, ::braid::log::Subsys::subsys,        \
                          ::fmt::format(__VA_ARGS__));                                     \
  } while (0)
#define BRAID_WARN(subsys, ...) BRAID_LOG(kWarn, subsys, __VA_ARGS__)
#define BRAID_INFO(subsys, ...) BRAID_LOG(kInfo, subsys, __VA_ARGS__)
#define BRAID_TRACE(subsys, ...) BRAID_LOG(kTrace, subsys, __VA_ARGS__)

// Propagates a non-OK Status, leaving an INFO breadcrumb with the call site.
#define BRAID_RETURN_IF_ERROR(expr)                                                          \
  do {                                                                                     \
    ::braid::Status _braid_status = (expr);                                                \
    if (!_braid_status.ok()) {                                                             \
      BRAID_INFO(kInit, "{}:{} {} -> {}", __FILE__, __LINE__, #expr, _braid_status.ToString()); \
      return _braid_status;                                                                \
    }                                                                                      \
  } while (0)
