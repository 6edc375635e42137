#include "core/env.h"

#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>

#include "core/log.h"

namespace braid::env {
namespace {

struct Cache {
  std::mutex mutex;
  std::map<std::string, std::optional<std::string>> values;
};
Cache& TheCache() {
  static Cache cache;
  return cache;
}

}  // namespace

std::optional<std::string> Get(const std::string& name) {
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  auto it = cache.values.find(name);
  if (it != cache.values.end()) return it->second;
  std::optional<std::string> value;
  std::string source;
  for (const char* prefix : {"BRAID_", "NCCL_"}) {
    std::string var = prefix + name;
    if (const char* v = std::getenv(var.c_str())) {
      value = v;
      source = var;
      break;
    }
  }
  cache.values.emplace(name, value);
  if (value) {
    BRAID_INFO(kEnv, "{}={} (from the environment)", source, *value);
  } else {
    BRAID_TRACE(kEnv, "BRAID_{} unset", name);
  }
  return value;
}

double GetDouble(const std::string& name, double fallback) {
  std::optional<std::string> v = Get(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(v->c_str(), &end);
  if (errno != 0 || end == v->c_str() || *end != '\0') {
    BRAID_WARN(kEnv, "BRAID_{}='{}' is not a number; using {}", name, *v, fallback);
    return fallback;
  }
  return d;
}

long GetInt(const std::string& name, long fallback) {
  std::optional<std::string> v = Get(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v->c_str(), &end, 10);
  if (errno != 0 || end == v->c_str() || *end != '\0') {
    BRAID_WARN(kEnv, "BRAID_{}='{}' is not an integer; using {}", name, *v, fallback);
    return fallback;
  }
  return n;
}

double TimeoutSeconds() {
  static const double timeout = [] {
    double t = GetDouble("TIMEOUT", 300.0);
    if (t <= 0) {
      BRAID_WARN(kEnv, "BRAID_TIMEOUT={} must be > 0 seconds; using 300", t);
      t = 300.0;
    }
    BRAID_INFO(kEnv, "operation timeout {} s (BRAID_TIMEOUT)", t);
    return t;
  }();
  return timeout;
}

}  // namespace braid::env
