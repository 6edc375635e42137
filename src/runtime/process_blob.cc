#include "runtime/process_blob.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>

namespace braid::runtime {
namespace {

// The bytes "BRAIDBL2" (little-endian): the second layout, with the settings field ("BRAIDBLB",
// the first, had none; a rank of a build with the same identity but that layout is named, not
// misread).
constexpr uint64_t kBlobMagic = 0x324c424449415242ull;

void AppendSized(std::string* blob, const std::string& text) {
  const uint32_t len = uint32_t(text.size());
  blob->append(reinterpret_cast<const char*>(&len), sizeof(len));
  *blob += text;
}

// Reads a [u32 n][n bytes] field at *at, advancing it; false if the blob is too short.
bool TakeSized(const std::string& blob, size_t* at, std::string* out) {
  uint32_t len = 0;
  if (blob.size() - *at < sizeof(len)) return false;
  std::memcpy(&len, blob.data() + *at, sizeof(len));
  *at += sizeof(len);
  if (blob.size() - *at < len) return false;
  *out = blob.substr(*at, len);
  *at += len;
  return true;
}

// "name is A here but B on rank R" for each "name=value" line whose value differs between this
// rank's settings and rank R's (a name missing on one side reads "(not set)"); empty when equal.
std::string SettingDifferences(const std::string& mine, const std::string& theirs, int rank) {
  const auto lines = [](const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      const size_t eq = line.find('=');
      out[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
    }
    return out;
  };
  std::map<std::string, std::string> here = lines(mine), there = lines(theirs);
  for (const auto& [name, unused] : here) there.try_emplace(name, "(not set)");
  for (const auto& [name, unused] : there) here.try_emplace(name, "(not set)");
  std::string differences;
  for (const auto& [name, value] : here) {
    if (value == there[name]) continue;
    differences += fmt::format("{}{} is {} here but {} on rank {}", differences.empty() ? "" : "; ", name, value,
                               there[name], rank);
  }
  return differences;
}

}  // namespace

std::string EncodeProcessBlob(const std::string& build, const std::string& settings,
                              const transport::PeerProcess& self, const std::string& address) {
  std::string blob(reinterpret_cast<const char*>(&kBlobMagic), sizeof(kBlobMagic));
  AppendSized(&blob, build);
  AppendSized(&blob, self.host);
  AppendSized(&blob, self.host_id);
  AppendSized(&blob, settings);
  const int32_t pid = self.pid;
  blob.append(reinterpret_cast<const char*>(&pid), sizeof(pid));
  blob += address;
  return blob;
}

Status DecodeProcessBlob(const std::string& blob, int rank, const std::string& my_build,
                         const std::string& my_settings, transport::PeerProcess* peer, std::string* address) {
  uint64_t magic = 0;
  if (blob.size() >= sizeof(magic)) std::memcpy(&magic, blob.data(), sizeof(magic));
  if (magic != kBlobMagic) {
    return Status::RemoteError(fmt::format(
        "rank {} sent a bootstrap blob of {} bytes that is not this layout's (a braid build from before "
        "it, or not braid at all); this rank runs {}",
        rank, blob.size(), my_build));
  }
  size_t at = sizeof(magic);
  std::string build;
  const bool have_build = TakeSized(blob, &at, &build);
  if (have_build && build != my_build) {
    std::string host;
    const std::string where = TakeSized(blob, &at, &host) ? fmt::format(" on {}", host) : "";
    return Status::InvalidUsage(fmt::format(
        "rank {}{} runs {} but this rank runs {}: every rank of a communicator must run the same braid build",
        rank, where, build, my_build));
  }
  int32_t pid = 0;
  std::string settings;
  if (!have_build || !TakeSized(blob, &at, &peer->host) || !TakeSized(blob, &at, &peer->host_id) ||
      !TakeSized(blob, &at, &settings) || blob.size() - at < sizeof(pid)) {
    return Status::RemoteError(fmt::format("rank {} sent a truncated bootstrap blob ({} bytes)", rank, blob.size()));
  }
  if (const std::string differences = SettingDifferences(my_settings, settings, rank); !differences.empty()) {
    return Status::InvalidUsage(fmt::format(
        "{} (rank {} runs on {}): every rank of a communicator must use the same algorithm, slice, "
        "packing and tuner settings (CommOptions, or BRAID_ALGO / NCCL_ALGO, BRAID_SLICE_BYTES, "
        "BRAID_P2P_INLINE_BYTES, BRAID_CHECK_CALLS, BRAID_TUNER_FILE)", differences, rank, peer->host));
  }
  std::memcpy(&pid, blob.data() + at, sizeof(pid));
  peer->pid = pid;
  *address = blob.substr(at + sizeof(pid));
  if (address->empty()) return Status::RemoteError(fmt::format("rank {} sent no UCX worker address", rank));
  return Status::Ok();
}

}  // namespace braid::runtime
