#include "runtime/process_blob.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>

namespace braid::runtime {
namespace {

constexpr uint64_t kBlobMagic = 0x424c424449415242ull;  // the bytes "BRAIDBLB" (little-endian)

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

}  // namespace

std::string EncodeProcessBlob(const std::string& build, const transport::PeerProcess& self,
                              const std::string& address) {
  std::string blob(reinterpret_cast<const char*>(&kBlobMagic), sizeof(kBlobMagic));
  AppendSized(&blob, build);
  AppendSized(&blob, self.host);
  AppendSized(&blob, self.host_id);
  const int32_t pid = self.pid;
  blob.append(reinterpret_cast<const char*>(&pid), sizeof(pid));
  blob += address;
  return blob;
}

Status DecodeProcessBlob(const std::string& blob, int rank, const std::string& my_build,
                         transport::PeerProcess* peer, std::string* address) {
  uint64_t magic = 0;
  if (blob.size() >= sizeof(magic)) std::memcpy(&magic, blob.data(), sizeof(magic));
  if (magic != kBlobMagic) {
    return Status::RemoteError(fmt::format(
        "rank {} sent a bootstrap blob of {} bytes that is not braid's (a braid build from before "
        "blobs named their build, or not braid at all); this rank runs {}",
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
  if (!have_build || !TakeSized(blob, &at, &peer->host) || !TakeSized(blob, &at, &peer->host_id) ||
      blob.size() - at < sizeof(pid)) {
    return Status::RemoteError(fmt::format("rank {} sent a truncated bootstrap blob ({} bytes)", rank, blob.size()));
  }
  std::memcpy(&pid, blob.data() + at, sizeof(pid));
  peer->pid = pid;
  *address = blob.substr(at + sizeof(pid));
  if (address->empty()) return Status::RemoteError(fmt::format("rank {} sent no UCX worker address", rank));
  return Status::Ok();
}

}  // namespace braid::runtime
