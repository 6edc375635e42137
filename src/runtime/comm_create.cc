// Creating communicators: unique ids, the UCX transport world, and the environment bootstrap.
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "bootstrap/host_identity.h"
#include "bootstrap/rendezvous.h"
#include "bootstrap/unique_id.h"
#include "braid/comm.h"
#include "core/build_identity.h"
#include "core/env.h"
#include "core/log.h"
#include "runtime/algorithm_setting.h"
#include "runtime/comm_impl.h"
#include "runtime/process_blob.h"
#include "runtime/tuner_file_cache.h"
#include "transport/ucx/ucx_transport.h"

namespace braid {
namespace {

// First of the variables that is set, parsed as a non-negative int; -1 if none is set.
Status ReadRankVar(std::initializer_list<const char*> names, long max, int* value, std::string* from) {
  *value = -1;
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (!v) continue;
    char* end = nullptr;
    // Digits only: strtol alone also takes leading blanks and a sign.
    long parsed = std::isdigit(static_cast<unsigned char>(v[0])) ? std::strtol(v, &end, 10) : -1;
    if (end == v || !end || *end != '\0' || parsed < 0 || parsed > max)
      return Status::InvalidArgument(fmt::format("{}='{}' is not an integer in [0, {}]", name, v, max));
    *value = int(parsed);
    *from = name;
    return Status::Ok();
  }
  return Status::Ok();
}

// The resolved options every rank must share (process_blob.h), one "name=value" line each.
std::string AgreedSettings(const CommOptions& resolved, const coll::TunerCalibration* tuner) {
  // The algorithm by what it allows, not how it is spelt (ResolveOptions checked that it parses).
  runtime::AllowedAlgorithms allowed;
  (void)runtime::ParseAlgorithmSetting(resolved.algorithm, "CommOptions.algorithm", &allowed);
  // The tuner by its numbers, not its file's name: ranks on different hosts may hold copies.
  return fmt::format("algorithm={}\nslice_bytes={}\np2p_inline_bytes={}\ncheck_calls={}\ntuner={}",
                     runtime::CanonicalAlgorithmSetting(allowed), resolved.slice_bytes, resolved.p2p_inline_bytes,
                     resolved.check_calls, tuner ? coll::DescribeTunerCalibration(*tuner) : "built-in");
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
  std::shared_ptr<const coll::TunerCalibration> tuner;  // ResolveOptions read it: this finds it
  if (!resolved.tuner_file.empty()) BRAID_RETURN_IF_ERROR(runtime::LoadTunerFile(resolved.tuner_file, "tuner file", &tuner));
  bootstrap::RootAddress root;
  BRAID_RETURN_IF_ERROR(bootstrap::DecodeUniqueId(id, &root));

  std::unique_ptr<transport::UcxTransport> ucx;
  BRAID_RETURN_IF_ERROR(transport::UcxTransport::Create(&ucx));
  transport::PeerProcess self{bootstrap::Hostname(), int(getpid()), bootstrap::LocalHostIdentity()};
  const std::string settings = AgreedSettings(resolved, tuner.get());
  std::string blob = runtime::EncodeProcessBlob(BuildIdentity(), settings, self, ucx->LocalAddress());
  std::vector<std::string> blobs;
  BRAID_RETURN_IF_ERROR(
      bootstrap::Rendezvous(id, rank, nranks, blob, resolved.timeout_s, &blobs).WithContext(
          fmt::format("rank {} of {}", rank, nranks)));  // its messages start with "bootstrap:"

  std::vector<std::string> addresses(nranks);
  std::vector<transport::PeerProcess> peers(nranks);
  for (int r = 0; r < nranks; ++r) {
    BRAID_RETURN_IF_ERROR(runtime::DecodeProcessBlob(blobs[r], r, BuildIdentity(), settings, &peers[r], &addresses[r])
                              .WithContext(fmt::format("rank {} of {}", rank, nranks)));
  }
  BRAID_RETURN_IF_ERROR(ucx->Connect(rank, addresses, peers));
  BRAID_INFO(kInit, "rank {} of {} connected: {}", rank, nranks, ucx->Describe());

  auto world = std::make_shared<runtime::World>();
  world->transport = std::move(ucx);
  world->tuner = std::move(tuner);
  std::map<std::string, int> host_numbers;
  for (const transport::PeerProcess& peer : peers) {
    world->host_of_rank.push_back(host_numbers.emplace(peer.Locality(), int(host_numbers.size())).first->second);
  }
  std::vector<int> identity(nranks);
  for (int r = 0; r < nranks; ++r) identity[r] = r;
  std::unique_ptr<Comm> comm = Impl::MakeComm(std::move(world), std::move(identity), rank, runtime::CommIds::kWorldId,
                                              resolved);
  bootstrap::ReapProcessRoots();
  BRAID_RETURN_IF_ERROR(comm->impl()->ConfirmEveryRankConnected().WithContext(
      fmt::format("rank {} of {}: waiting for every rank to connect", rank, nranks)));
  *out = std::move(comm);
  return Status::Ok();
}

Status Comm::CreateFromEnv(std::unique_ptr<Comm>* out, const CommOptions& options) {
  if (!out) return Status::InvalidArgument("CreateFromEnv: out is null");
  int rank = -1, size = -1;
  std::string rank_from, size_from;
  BRAID_RETURN_IF_ERROR(ReadRankVar({"BRAID_RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"}, transport::kMaxWorldRanks - 1,
                                    &rank, &rank_from));
  BRAID_RETURN_IF_ERROR(ReadRankVar({"BRAID_WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"}, transport::kMaxWorldRanks,
                                    &size, &size_from));
  if (rank < 0) return Status::InvalidArgument("BRAID_RANK is not set (nor PMI_RANK / OMPI_COMM_WORLD_RANK)");
  if (size < 1) return Status::InvalidArgument("BRAID_WORLD_SIZE is not set or 0 (nor PMI_SIZE / OMPI_COMM_WORLD_SIZE)");
  if (rank >= size)
    return Status::InvalidArgument(fmt::format("{}={} out of range [0, {}={})", rank_from, rank, size_from, size));
  // Read at every call, as BRAID_RANK and BRAID_WORLD_SIZE are (the launch's variables, not
  // knobs cached per process: a second CreateFromEnv with a new BRAID_ROOT used the first one's).
  const char* root_text = std::getenv("BRAID_ROOT");
  const std::optional<std::string> root = root_text ? std::optional<std::string>(root_text) : std::nullopt;
  if (!root)
    return Status::InvalidArgument("BRAID_ROOT is not set: expected host:port where rank 0 listens for the rendezvous");
  std::string host;
  uint16_t port = 0;
  BRAID_RETURN_IF_ERROR(bootstrap::ParseHostPort(*root, &host, &port).WithContext("BRAID_ROOT"));
  CommOptions resolved;
  BRAID_RETURN_IF_ERROR(Impl::ResolveOptions(options, &resolved));
  // The job's name (when its launcher gives one) goes into the rendezvous nonce, so ranks of
  // another job started on the same BRAID_ROOT are refused instead of joining this one.
  const bootstrap::LaunchJob job = bootstrap::LaunchJobFromEnv();
  const std::string job_text = job.variable.empty() ? std::string("no job name (set BRAID_JOB_ID to give one)")
                                                    : job.variable + "=" + job.value;
  BRAID_INFO(kBoot, "BRAID_ROOT={} rank {} of {}; job: {}", *root, rank, size, job_text);
  const bootstrap::RootAddress addr = bootstrap::EnvRootAddress(host, port, job);
  UniqueId id;
  if (rank == 0) {
    BRAID_RETURN_IF_ERROR(bootstrap::StartProcessRootAt(addr, resolved.timeout_s, &id)
                              .WithContext("BRAID_ROOT=" + *root));
  } else {
    id = bootstrap::EncodeUniqueId(addr);
  }
  Status created = Create(id, size, rank, out, resolved);
  // A rank the root refused as another communicator's (another job's, or one whose job name
  // differs): say which job this rank took itself for.
  if (created.code() == StatusCode::kInvalidUsage &&
      created.message().find(bootstrap::kOtherCommunicatorHint) != std::string::npos)
    return created.WithContext(fmt::format("this rank's job: {}; every rank must have the same", job_text));
  return created;
}

}  // namespace braid
