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

std::string Hostname() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

unsigned ParseSubsys(const char* spec) {
  struct Name {
    const char* name;
    Subsys bit;
  };
  static const Name kNames[] = {{"INIT", Subsys::kInit}, {"COLL", Subsys::kColl},
                                {"P2P", Subsys::kP2p},   {"NET", Subsys::kNet},
                                {"BOOT", Subsys::kBoot}, {"TUNE", Subsys::kTune},
                                {"ENV", Subsys::kEnv}};
  bool exclude = spec[0] == '^';
  unsigned mask = 0;
  std::string s(spec + (exclude ? 1 : 0));
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    bool known = strcasecmp(item.c_str(), "ALL") == 0;
    if (known) mask = ~0u;
    for (const Name& n : kNames) {
      if (strcasecmp(item.c_str(), n.name) != 0) continue;
      mask |= unsigned(n.bit);
      known = true;
    }
    // Logging is set up before any communicator exists, so a bad name is a warning, not an error.
    if (!known) {
      fprintf(stderr, "braid WARN BRAID_DEBUG_SUBSYS='%s': unknown subsystem '%s' ignored (INIT, COLL, P2P, NET, "
                      "BOOT, TUNE, ENV, ALL)\n", spec, item.c_str());
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
    else fprintf(stderr, "braid WARN BRAID_DEBUG='%s' unknown (WARN|INFO|TRACE|NONE); using WARN\n", level);
  }
  if (const char* subsys = Getenv2("BRAID_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS")) c.subsys_mask = ParseSubsys(subsys);
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
  return level <= g_config.level && (g_config.subsys_mask & unsigned(subsys)) != 0;
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
