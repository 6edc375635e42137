#include "core/env.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "core/log.h"

namespace braid::env {
namespace {

struct Entry {
  std::optional<std::string> value;
  std::string variable;  // the one that gave it: BRAID_<name>, NCCL_<name>, or BRAID_<name> if unset
};
struct Cache {
  std::mutex mutex;
  std::map<std::string, Entry> entries;
};
Cache& TheCache() {
  static Cache cache;
  return cache;
}

// The knob's entry, read from the environment the first time; `*first` says whether this was
// that time, so that the caller logs the knob once, with the value it will use.
Entry Lookup(const std::string& name, bool* first) {
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  auto it = cache.entries.find(name);
  *first = it == cache.entries.end();
  if (!*first) return it->second;
  Entry entry{std::nullopt, "BRAID_" + name};
  for (const char* prefix : {"BRAID_", "NCCL_"}) {
    std::string var = prefix + name;
    if (const char* v = std::getenv(var.c_str())) {
      entry = {v, var};
      break;
    }
  }
  return cache.entries.emplace(name, entry).first->second;
}

// Parses a knob with `parse` (strtod or strtol) and checks it lies in [lo, hi], logging its
// effective value the first time. NaN fails the range check, so no knob can be NaN.
template <typename T, typename Parse>
Status GetNumber(const std::string& name, T fallback, T lo, T hi, const char* kind, Parse parse, T* out) {
  bool first = false;
  const Entry e = Lookup(name, &first);
  if (!e.value) {
    if (first) BRAID_INFO(kEnv, "{} unset; using {} (default)", e.variable, fallback);
    *out = fallback;
    return Status::Ok();
  }
  char* end = nullptr;
  errno = 0;
  const T n = parse(e.value->c_str(), &end);
  // strtod/strtol skip leading blanks; the value must be the number alone.
  const bool blank_first = std::isspace(static_cast<unsigned char>(e.value->c_str()[0]));
  if (errno != 0 || end == e.value->c_str() || *end != '\0' || blank_first || !(n >= lo && n <= hi)) {
    return Status::InvalidArgument(
        fmt::format("{}='{}' is not {} in [{}, {}]", e.variable, *e.value, kind, lo, hi));
  }
  if (first) BRAID_INFO(kEnv, "{}={} (from the environment)", e.variable, *e.value);
  *out = n;
  return Status::Ok();
}

}  // namespace

std::optional<std::string> Get(const std::string& name) {
  bool first = false;
  const Entry e = Lookup(name, &first);
  if (first && e.value) BRAID_INFO(kEnv, "{}={} (from the environment)", e.variable, *e.value);
  if (first && !e.value) BRAID_INFO(kEnv, "{} unset (the default applies)", e.variable);
  return e.value;
}

std::string VariableName(const std::string& name) {
  bool first = false;
  return Lookup(name, &first).variable;
}

Status GetDouble(const std::string& name, double fallback, double lo, double hi, double* out) {
  return GetNumber<double>(name, fallback, lo, hi, "a number", [](const char* s, char** end) { return std::strtod(s, end); },
                           out);
}

Status GetInt(const std::string& name, long fallback, long lo, long hi, long* out) {
  return GetNumber<long>(name, fallback, lo, hi, "an integer",
                         [](const char* s, char** end) { return std::strtol(s, end, 10); }, out);
}

Status TimeoutSeconds(double* out) {
  return GetDouble("TIMEOUT", kDefaultTimeoutS, kMinTimeoutS, kMaxTimeoutS, out);
}

}  // namespace braid::env
