// Creating communicators: unique ids, the UCX transport world, and the environment bootstrap.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "bootstrap/host_identity.h"
#include "bootstrap/rendezvous.h"
#include "bootstrap/unique_id.h"
#include "braid/comm.h"
#include "core/env.h"
#include "core/log.h"
#include "runtime/comm_impl.h"
#include "transport/ucx/ucx_transport.h"

namespace braid {
namespace {

// Rendezvous blob: [u32 n][hostname][u32 m][host identity][i32 pid][transport address bytes].
// The identity (bootstrap/host_identity.h) decides which peers share a host; the hostname is for
// messages.
void AppendSized(std::string* blob, const std::string& text) {
  uint32_t len = uint32_t(text.size());
  blob->append(reinterpret_cast<const char*>(&len), sizeof(len));
  *blob += text;
}

std::string EncodeProcessBlob(const transport::PeerProcess& self, const std::string& address) {
  std::string blob;
  AppendSized(&blob, self.host);
  AppendSized(&blob, self.host_id);
  int32_t pid = self.pid;
  blob.append(reinterpret_cast<const char*>(&pid), sizeof(pid));
  blob += address;
  return blob;
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

Status DecodeProcessBlob(const std::string& blob, int rank, transport::PeerProcess* peer,
                         std::string* address) {
  size_t at = 0;
  int32_t pid = 0;
  if (!TakeSized(blob, &at, &peer->host) || !TakeSized(blob, &at, &peer->host_id) ||
      blob.size() - at < sizeof(pid))
    return Status::RemoteError(fmt::format("rank {} sent a truncated bootstrap blob", rank));
  std::memcpy(&pid, blob.data() + at, sizeof(pid));
  peer->pid = pid;
  *address = blob.substr(at + sizeof(pid));
  return Status::Ok();
}

// First of the variables that is set, parsed as a non-negative int; -1 if none is set.
Status ReadRankVar(std::initializer_list<const char*> names, int* value, std::string* from) {
  *value = -1;
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (!v) continue;
    char* end = nullptr;
    long parsed = std::strtol(v, &end, 10);
    if (end == v || *end != '\0' || parsed < 0 || parsed > transport::kMaxWorldRanks)
      return Status::InvalidArgument(fmt::format("{}='{}' is not an integer in [0, {}]", name, v,
                                                 transport::kMaxWorldRanks));
    *value = int(parsed);
    *from = name;
    return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace

Status Comm::GetUniqueId(UniqueId* id) {
  if (!id) return Status::InvalidArgument("GetUniqueId: id is null");
  double timeout_s = 0;
  BRAID_RETURN_IF_ERROR(env::TimeoutSeconds(&timeout_s));
  return bootstrap::StartProcessRoot(timeout_s, id);
}

Status Comm::Create(const UniqueId& id, int nranks, int rank, std::unique_ptr<Comm>* out,
                    const CommOptions& options) {
  if (!out) return Status::InvalidArgument("Create: out is null");
  out->reset();
  if (nranks < 1 || nranks > transport::kMaxWorldRanks)
    return Status::InvalidArgument(fmt::format("nranks {} out of range [1, {}]", nranks, transport::kMaxWorldRanks));
  if (rank < 0 || rank >= nranks)
    return Status::InvalidArgument(fmt::format("rank {} out of range [0, {})", rank, nranks));
  CommOptions resolved;
  BRAID_RETURN_IF_ERROR(Impl::ResolveOptions(options, &resolved));
  bootstrap::RootAddress root;
  BRAID_RETURN_IF_ERROR(bootstrap::DecodeUniqueId(id, &root));

  std::unique_ptr<transport::UcxTransport> ucx;
  BRAID_RETURN_IF_ERROR(transport::UcxTransport::Create(&ucx));
  transport::PeerProcess self{bootstrap::Hostname(), int(getpid()), bootstrap::LocalHostIdentity()};
  std::string blob = EncodeProcessBlob(self, ucx->LocalAddress());
  std::vector<std::string> blobs;
  BRAID_RETURN_IF_ERROR(
      bootstrap::Rendezvous(id, rank, nranks, blob, resolved.timeout_s, &blobs).WithContext(
          fmt::format("rank {} of {}", rank, nranks)));  // its messages start with "bootstrap:"

  std::vector<std::string> addresses(nranks);
  std::vector<transport::PeerProcess> peers(nranks);
  for (int r = 0; r < nranks; ++r) BRAID_RETURN_IF_ERROR(DecodeProcessBlob(blobs[r], r, &peers[r], &addresses[r]));
  BRAID_RETURN_IF_ERROR(ucx->Connect(rank, addresses, peers));
  BRAID_INFO(kInit, "rank {} of {} connected: {}", rank, nranks, ucx->Describe());

  auto world = std::make_shared<runtime::World>();
  world->transport = std::move(ucx);
  std::vector<int> identity(nranks);
  for (int r = 0; r < nranks; ++r) identity[r] = r;
  *out = Impl::MakeComm(std::move(world), std::move(identity), rank, runtime::CommIds::kWorldId, resolved);
  bootstrap::ReapProcessRoots();
  return Status::Ok();
}

Status Comm::CreateFromEnv(std::unique_ptr<Comm>* out, const CommOptions& options) {
  if (!out) return Status::InvalidArgument("CreateFromEnv: out is null");
  int rank = -1, size = -1;
  std::string rank_from, size_from;
  BRAID_RETURN_IF_ERROR(ReadRankVar({"BRAID_RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"}, &rank, &rank_from));
  BRAID_RETURN_IF_ERROR(ReadRankVar({"BRAID_WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"}, &size, &size_from));
  if (rank < 0) return Status::InvalidArgument("BRAID_RANK is not set (nor PMI_RANK / OMPI_COMM_WORLD_RANK)");
  if (size < 1) return Status::InvalidArgument("BRAID_WORLD_SIZE is not set or 0 (nor PMI_SIZE / OMPI_COMM_WORLD_SIZE)");
  if (rank >= size)
    return Status::InvalidArgument(fmt::format("{}={} out of range [0, {}={})", rank_from, rank, size_from, size));
  std::optional<std::string> root = env::Get("ROOT");
  if (!root)
    return Status::InvalidArgument("BRAID_ROOT is not set: expected host:port where rank 0 listens for the rendezvous");
  std::string host;
  uint16_t port = 0;
  BRAID_RETURN_IF_ERROR(bootstrap::ParseHostPort(*root, &host, &port).WithContext("BRAID_ROOT"));
  CommOptions resolved;
  BRAID_RETURN_IF_ERROR(Impl::ResolveOptions(options, &resolved));
  UniqueId id;
  if (rank == 0) {
    BRAID_RETURN_IF_ERROR(bootstrap::StartProcessRootAt(host, port, resolved.timeout_s, &id)
                              .WithContext("BRAID_ROOT=" + *root));
  } else {
    id = bootstrap::EncodeUniqueId(bootstrap::EnvRootAddress(host, port));
  }
  return Create(id, size, rank, out, resolved);
}

}  // namespace braid
