// The 128-byte unique id that names a communicator's rendezvous: the root's listening TCP address,
// a magic value and a random nonce, as NCCL's ncclUniqueId does. Treated by users as opaque bytes.
#pragma once

#include <cstdint>
#include <string>

#include "braid/comm.h"  // braid::UniqueId
#include "braid/status.h"

namespace braid::bootstrap {

inline constexpr uint64_t kUniqueIdMagic = 0x42524149445f4944ull;  // "BRAID_ID"

// The decoded contents of a UniqueId.
struct RootAddress {
  std::string host;   // numeric IPv4/IPv6 address of the root listener ("fe80::1%eth0" when link-local)
  uint16_t port = 0;  // TCP port
  uint64_t nonce = 0; // random; every joiner must present it
};

// Encodes / decodes; Decode fails with InvalidArgument when the magic does not match (e.g. an
// all-zero or corrupted id).
UniqueId EncodeUniqueId(const RootAddress& addr);
Status DecodeUniqueId(const UniqueId& id, RootAddress* out);

// The job this process belongs to, as its launcher names it: BRAID_JOB_ID, else
// TORCHELASTIC_RUN_ID (torchrun; not its default "none") or PMIX_NAMESPACE (Open MPI's mpirun,
// srun --mpi=pmix); `variable` empty when none is set (MPICH's hydra names no job).
struct LaunchJob {
  std::string variable;  // where the name came from, for messages
  std::string value;
};
LaunchJob LaunchJobFromEnv();

// The root address used by the environment bootstrap (BRAID_ROOT): ranks other than 0 have no
// unique id to copy, so the nonce is derived from the port and the job's name (an FNV-1a hash;
// not the host, which ranks may spell differently for one root). Strays that do not speak the protocol are rejected, and so are ranks of another job
// given the same BRAID_ROOT when the launcher names jobs; without a name two such jobs can meet.
RootAddress EnvRootAddress(const std::string& host, uint16_t port, const LaunchJob& job);

// Parses "host:port" or "[v6addr]:port" (as in BRAID_ROOT / NCCL_COMM_ID); host names are resolved.
Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port);

}  // namespace braid::bootstrap
