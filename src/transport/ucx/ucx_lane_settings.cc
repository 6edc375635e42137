#include "transport/ucx/ucx_lane_settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "core/env.h"
#include "core/log.h"

namespace braid::transport::ucx_internal {
namespace {

// The byte count of a UCX memory-units setting ("131072", "128k", "1M"), SIZE_MAX for "inf",
// nullopt for "auto" and for anything else (at most 12 digits, so << 30 fits).
std::optional<size_t> UcxBytes(const std::string& setting) {
  std::string lower;
  for (char c : setting) lower += char(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "inf") return SIZE_MAX;
  size_t digits = 0;
  while (digits < lower.size() && std::isdigit(static_cast<unsigned char>(lower[digits]))) ++digits;
  std::string unit = lower.substr(digits);
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  const int shift = unit.empty() ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30 : -1;
  if (digits == 0 || digits > 12 || shift < 0) return std::nullopt;
  return size_t(std::stoull(lower.substr(0, digits))) << shift;
}

// Where UCX reads a shared-memory setting: the table every shared-memory transport shares (MM_),
// then each one's own, which overrides it.
constexpr const char* kSharedMemoryTables[] = {"MM", "POSIX", "SYSV", "XPMEM"};

// The first of UCX's variables for a shared-memory setting that the user set, "" if none.
std::string UserSharedMemoryVariable(const char* setting) {
  for (const char* transport : kSharedMemoryTables) {
    std::string name = fmt::format("UCX_{}_{}", transport, setting);
    if (std::getenv(name.c_str())) return name;
  }
  return "";
}

// BRAID_UCX_LOCAL_RNDV_THRESH: a byte count with an optional k/m/g unit, "inf" or "auto". UCX
// reads "-5" as a huge count and would silently make every same-host send eager.
Status CheckRndvKnob() {
  std::optional<std::string> value = env::Get("UCX_LOCAL_RNDV_THRESH");
  if (!value || UcxBytes(*value) || *value == "auto") return Status::Ok();
  return Status::InvalidArgument(fmt::format("{}='{}' is not a byte count (digits with an optional k, m or g), inf or auto",
                                             env::VariableName("UCX_LOCAL_RNDV_THRESH"), *value));
}

// BRAID_UCX_LOCAL_FIFO_SIZE (read once), 0 when unset: UCX takes only a power of two above 1.
Status FifoKnob(long* out) {
  static const std::pair<Status, long> read = [] {
    const char* knob = "UCX_LOCAL_FIFO_SIZE";
    long elements = 0;
    // Unset: UCX's own size (64), logged as "the default applies", not as a 0 outside the range.
    if (!env::Get(knob)) return std::pair{Status::Ok(), elements};
    Status st = env::GetInt(knob, 0, 2, kMaxLocalFifoSize, &elements);
    if (st.ok() && (elements & (elements - 1)) != 0) {
      st = Status::InvalidArgument(fmt::format("{}='{}' is not a power of two in [2, {}]", env::VariableName(knob),
                                               env::Get(knob).value_or(""), kMaxLocalFifoSize));
    }
    return std::pair{st, elements};
  }();
  *out = read.second;
  return read.first;
}

// BRAID_UCX_LOCAL_SEG_SIZE (read once): bytes, kDefaultLocalSegBytes when unset.
Status SegmentKnob(long* out) {
  static const std::pair<Status, long> read = [] {
    long bytes = 0;
    Status st = env::GetInt("UCX_LOCAL_SEG_SIZE", long(kDefaultLocalSegBytes), long(kMinLocalSegBytes),
                            long(kMaxLocalSegBytes), &bytes);
    return std::pair{st, bytes};
  }();
  *out = read.second;
  return read.first;
}

// A segment the user gave UCX itself must also fit the FIFO element's 16-bit length. Every one of
// UCX's variables for it is checked (kSharedMemoryTables), and a value braid cannot read as a byte
// count is refused too: UCX takes "auto" as no limit at all, and reads " 128k" or "+131072" where
// braid does not.
Status CheckUserSegments() {
  for (const char* transport : kSharedMemoryTables) {
    const std::string variable = fmt::format("UCX_{}_SEG_SIZE", transport);
    const char* value = std::getenv(variable.c_str());
    if (!value) continue;
    const std::optional<size_t> bytes = UcxBytes(value);
    if (bytes && *bytes <= kMaxLocalSegBytes) continue;
    return Status::InvalidArgument(fmt::format(
        "{}='{}' {} {} bytes: UCX keeps a shared-memory fragment's length in 16 bits, so a message "
        "that fills a larger segment would arrive truncated",
        variable, value, bytes ? "is above" : "is not a byte count (digits with an optional k) of at most",
        kMaxLocalSegBytes));
  }
  return Status::Ok();
}

// The FIFO's elements as UCX will size it: the knob's, else a UCX variable's when braid can read
// it, else UCX's default.
size_t FifoElements(long knob, const std::string& user_variable) {
  if (!user_variable.empty()) {
    if (std::optional<size_t> n = UcxBytes(std::getenv(user_variable.c_str())); n && *n > 0 && *n <= size_t(kMaxLocalFifoSize))
      return *n;
    return kUcxDefaultFifoSize;
  }
  return knob > 0 ? size_t(knob) : kUcxDefaultFifoSize;
}

}  // namespace

Status ResolveLocalLane(LocalLaneSettings* out) {
  *out = LocalLaneSettings{};
  BRAID_RETURN_IF_ERROR(CheckRndvKnob());
  long fifo = 0, segment = 0;
  BRAID_RETURN_IF_ERROR(FifoKnob(&fifo));
  BRAID_RETURN_IF_ERROR(SegmentKnob(&segment));
  const std::string user_fifo = UserSharedMemoryVariable("FIFO_SIZE");
  const std::string user_segment = UserSharedMemoryVariable("SEG_SIZE");
  const std::string user_grow = UserSharedMemoryVariable("RX_BUFS_GROW");
  BRAID_RETURN_IF_ERROR(CheckUserSegments());

  // The knobs as read once per process; the user's UCX_* variables, read each time, win.
  static const std::string knob_tls = env::Get("UCX_LOCAL_TLS").value_or(std::string(kDefaultLocalTls));
  static const std::string knob_rndv =
      env::Get("UCX_LOCAL_RNDV_THRESH").value_or(std::to_string(kDefaultLocalRndvThreshBytes));
  const char* user_rndv = std::getenv("UCX_RNDV_THRESH");
  const char* user_tls = std::getenv("UCX_TLS");
  out->user_tls = user_tls != nullptr;
  out->user_rndv = user_rndv != nullptr;
  out->tls = out->user_tls ? "UCX_TLS" : knob_tls;
  out->rndv = user_rndv ? "UCX_RNDV_THRESH" : knob_rndv;
  // "auto" or a setting braid cannot read: braid's default, which is above UCX's automatic
  // threshold on this lane (8-16 KiB), so no eager send is missed; a rendezvous send below it is
  // only waited for needlessly (bounded).
  out->eager_below = UcxBytes(user_rndv ? user_rndv : knob_rndv).value_or(kDefaultLocalRndvThreshBytes);
  out->fifo = !user_fifo.empty() ? user_fifo : fifo ? std::to_string(fifo) : "UCX default";
  out->segment = !user_segment.empty() ? user_segment : std::to_string(segment);

  std::vector<LaneSetting>& s = out->settings;
  if (!out->user_tls) s.push_back({"TLS", knob_tls, "BRAID_UCX_LOCAL_TLS or the default"});
  if (!out->user_rndv) s.push_back({"RNDV_THRESH", knob_rndv, "BRAID_UCX_LOCAL_RNDV_THRESH or the default"});
  if (!UsesSharedMemory(user_tls ? user_tls : knob_tls)) {
    out->fifo = out->segment = "unused (no shared-memory transport)";
    return Status::Ok();
  }
  // MM_ is the table every shared-memory transport (posix, sysv, xpmem) shares in UCX 1.13;
  // "POSIX_FIFO_SIZE" would be reported by UCX as an unused setting and have no effect.
  if (user_fifo.empty() && fifo) s.push_back({"MM_FIFO_SIZE", out->fifo, "BRAID_UCX_LOCAL_FIFO_SIZE"});
  if (user_segment.empty()) {
    s.push_back({"MM_SEG_SIZE", out->segment, "BRAID_UCX_LOCAL_SEG_SIZE or the default"});
    out->segment_applied = true;
    if (user_grow.empty()) {
      const size_t grow = FifoElements(fifo, user_fifo) + 1;
      s.push_back({"MM_RX_BUFS_GROW", std::to_string(grow), "the FIFO's size"});
    }
  }
  return Status::Ok();
}

bool UsesSharedMemory(const std::string& tls) {
  std::vector<std::string> names;
  std::string name;
  for (char c : tls + ",") {
    if (c != ',') {
      if (!std::isspace(static_cast<unsigned char>(c))) name += char(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    if (!name.empty()) names.push_back(name);
    name.clear();
  }
  const bool excluding = !names.empty() && names[0][0] == '^';
  if (excluding) names[0].erase(0, 1);
  auto named = [&](const char* n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  if (!excluding) return names.empty() || named("all") || named("sm") || named("shm") || named("mm") ||
                         named("posix") || named("sysv") || named("xpmem");
  return !(named("sm") || named("shm") || named("mm") || (named("posix") && named("sysv") && named("xpmem")));
}

}  // namespace braid::transport::ucx_internal
