#include "core/log.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace braid::log {
namespace {

struct Config {
  Level level = Level::kWarn;
  unsigned subsys_mask = ~0u;
  FILE* file = stderr;
};

std::mutex g_mutex;
std::atomic<bool> g_loaded{false};
Config g_config;

const char* Getenv2(const char* braid_name, const char* nccl_name) {
  const char* v = std::getenv(braid_name);
  return v ? v : std::getenv(nccl_name);
}

// The name of the variable Getenv2 took its value from, for messages about that value.
const char* Getenv2Name(const char* braid_name, const char* nccl_name) {
  return std::getenv(braid_name) ? braid_name : nccl_name;
}

std::string Hostname() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// BRAID_DEBUG_SUBSYS (or NCCL_DEBUG_SUBSYS, named by `variable`): a comma list, any case, blanks
// around names ignored. NCCL's own names are accepted: TUNING and BOOTSTRAP mean TUNE and BOOT,
// and those braid has no part for (GRAPH, SHM, ...) select nothing, silently, so one setting can
// serve a process that runs both libraries. Logging is set up before any communicator exists,
// so an unknown name is a warning, not an error.
unsigned ParseSubsys(const char* spec, const char* variable) {
  struct Name {
    const char* name;
    unsigned bits;
  };
  static const Name kNames[] = {
      {"INIT", unsigned(Subsys::kInit)}, {"COLL", unsigned(Subsys::kColl)}, {"P2P", unsigned(Subsys::kP2p)},
      {"NET", unsigned(Subsys::kNet)},   {"BOOT", unsigned(Subsys::kBoot)}, {"BOOTSTRAP", unsigned(Subsys::kBoot)},
      {"TUNE", unsigned(Subsys::kTune)}, {"TUNING", unsigned(Subsys::kTune)}, {"ENV", unsigned(Subsys::kEnv)},
      {"ALL", ~0u},
      // NCCL's, with no braid counterpart.
      {"GRAPH", 0}, {"SHM", 0}, {"ALLOC", 0}, {"CALL", 0}, {"PROXY", 0}, {"NVLS", 0}, {"REG", 0},
      {"PROFILE", 0}, {"RAS", 0}};
  bool exclude = spec[0] == '^';
  unsigned mask = 0;
  std::string s(spec + (exclude ? 1 : 0));
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const size_t first = item.find_first_not_of(" \t");
    item = first == std::string::npos ? "" : item.substr(first, item.find_last_not_of(" \t") - first + 1);
    bool known = item.empty();  // "INIT," names INIT
    for (const Name& n : kNames) {
      if (strcasecmp(item.c_str(), n.name) != 0) continue;
      mask |= n.bits;
      known = true;
    }
    if (!known) {
      fprintf(stderr, "braid WARN %s='%s': unknown subsystem '%s' ignored (INIT, COLL, P2P, NET, BOOT, TUNE, "
                      "ENV, ALL)\n", variable, spec, item.c_str());
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return exclude ? ~mask : mask;
}

// Expands %h (host) and %p (pid) in BRAID_DEBUG_FILE.
std::string ExpandPath(const char* pattern) {
  std::string out;
  for (const char* p = pattern; *p; ++p) {
    if (p[0] == '%' && p[1] == 'h') {
      out += Hostname();
      ++p;
    } else if (p[0] == '%' && p[1] == 'p') {
      out += std::to_string(getpid());
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

void LoadLocked() {
  Config c;
  if (const char* level = Getenv2("BRAID_DEBUG", "NCCL_DEBUG")) {
    if (strcasecmp(level, "WARN") == 0) c.level = Level::kWarn;
    else if (strcasecmp(level, "INFO") == 0) c.level = Level::kInfo;
    else if (strcasecmp(level, "TRACE") == 0) c.level = Level::kTrace;
    else if (strcasecmp(level, "NONE") == 0 || strcasecmp(level, "VERSION") == 0) c.level = Level::kNone;
    else fprintf(stderr, "braid WARN %s='%s' unknown (WARN|INFO|TRACE|NONE|VERSION); using WARN\n",
                 Getenv2Name("BRAID_DEBUG", "NCCL_DEBUG"), level);
  }
  if (const char* subsys = Getenv2("BRAID_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS"))
    c.subsys_mask = ParseSubsys(subsys, Getenv2Name("BRAID_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS"));
  if (const char* file = Getenv2("BRAID_DEBUG_FILE", "NCCL_DEBUG_FILE")) {
    std::string path = ExpandPath(file);
    if (FILE* f = fopen(path.c_str(), "a")) {
      setvbuf(f, nullptr, _IOLBF, 0);
      c.file = f;
    } else {
      fprintf(stderr, "braid WARN cannot open BRAID_DEBUG_FILE '%s': %s; logging to stderr\n",
              path.c_str(), strerror(errno));
    }
  }
  if (g_config.file != stderr && g_config.file != c.file) fclose(g_config.file);
  g_config = c;
  g_loaded.store(true, std::memory_order_release);
  if (c.level >= Level::kInfo && (c.subsys_mask & unsigned(Subsys::kEnv)) != 0) {
    fprintf(c.file, "braid INFO [ENV] BRAID_DEBUG=%s BRAID_DEBUG_SUBSYS=%s BRAID_DEBUG_FILE=%s\n",
            c.level == Level::kTrace ? "TRACE" : "INFO",
            Getenv2("BRAID_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS") ? Getenv2("BRAID_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS") : "(all)",
            Getenv2("BRAID_DEBUG_FILE", "NCCL_DEBUG_FILE") ? Getenv2("BRAID_DEBUG_FILE", "NCCL_DEBUG_FILE") : "(stderr)");
  }
}

void EnsureLoaded() {
  if (g_loaded.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_loaded.load(std::memory_order_relaxed)) LoadLocked();
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kWarn: return "WARN";
    case Level::kInfo: return "INFO";
    case Level::kTrace: return "TRACE";
    default: return "";
  }
}

const char* SubsysName(Subsys s) {
  switch (s) {
    case Subsys::kInit: return "INIT";
    case Subsys::kColl: return "COLL";
    case Subsys::kP2p: return "P2P";
    case Subsys::kNet: return "NET";
    case Subsys::kBoot: return "BOOT";
    case Subsys::kTune: return "TUNE";
    case Subsys::kEnv: return "ENV";
  }
  return "?";
}

}  // namespace

bool Enabled(Level level, Subsys subsys) {
  EnsureLoaded();
  // Warnings ignore the subsystem filter, as NCCL's do: a filter set for INFO lines (or for
  // NCCL's own subsystems) must not hide a problem.
  return level <= g_config.level && (level == Level::kWarn || (g_config.subsys_mask & unsigned(subsys)) != 0);
}

void Write(Level level, Subsys subsys, std::string_view message) {
  static const std::string host = Hostname();
  std::lock_guard<std::mutex> lock(g_mutex);
  fprintf(g_config.file, "%s:%d:%ld braid %s [%s] %.*s\n", host.c_str(), getpid(),
          long(syscall(SYS_gettid)), LevelName(level), SubsysName(subsys), int(message.size()),
          message.data());
}

void ReloadConfig() {
  std::lock_guard<std::mutex> lock(g_mutex);
  LoadLocked();
}

}  // namespace braid::log
