// Root TCP rendezvous: every rank connects to the root listener named in the UniqueId, presents
// {magic, nonce, rank, nranks, blob}, and receives every rank's blob once all have arrived. The
// communicator uses it once, to all-gather UCX worker addresses and host info.
//
// Robustness: the root multiplexes connections with poll(); a connection with a wrong magic or
// nonce, garbage, an out-of-range or duplicate rank, a mismatched nranks or an oversized blob is
// rejected (logged at WARN, sent an error message when possible, closed) and can neither join nor
// stall nor crash the rendezvous. Every wait is bounded by the timeout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bootstrap/unique_id.h"
#include "braid/status.h"

namespace braid::bootstrap {

inline constexpr size_t kMaxBlobBytes = 1 << 20;  // per rank

// A listening root in a background thread. It serves exactly one rendezvous of `nranks` ranks
// (learned from the first valid hello) and then exits; or exits with a logged error after
// `timeout_s`. Destroying it stops and joins the thread.
class RootService {
 public:
  // Listens on `bind_host:port` (port 0 picks a free port; bind_host "" = all interfaces) and
  // reports the address peers should use in *id.
  static Status Start(const std::string& bind_host, uint16_t port, double timeout_s,
                      std::unique_ptr<RootService>* out, UniqueId* id);
  ~RootService();
  // Blocks until the service thread has finished (served, failed or timed out).
  void Join();
  // How many ranks are joined now (hellos read and accepted, less those that disconnected
  // since); for tests and diagnostics.
  int ranks_joined() const;

  class Impl;
 private:
  explicit RootService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// In the root's answer to a rank whose id names another communicator (its nonce differs): what
// CreateFromEnv looks for to add which job the rank took itself for.
inline constexpr const char kOtherCommunicatorHint[] = "BRAID_JOB_ID or the launcher's job name";

// Starts a root service owned by the process (kept in a registry, joined at exit or by
// JoinProcessRoots) and returns its id. This is what GetUniqueId() does.
Status StartProcessRoot(double timeout_s, UniqueId* id);
// Starts the process-owned root on `addr`'s fixed port, expecting its nonce (for BRAID_ROOT on
// rank 0: EnvRootAddress).
Status StartProcessRootAt(const RootAddress& addr, double timeout_s, UniqueId* id);
// Joins finished process-owned roots (called after a communicator is created).
void ReapProcessRoots();
// When a root this process started for `nonce` has ended and none serves it now: how it ended
// ("the root this process started for it 4.1 s ago served a communicator of 2 ranks"); else "".
std::string EndedProcessRoot(uint64_t nonce);

// Connects to the root in `id` and exchanges blobs. Retries the connection until the timeout
// (the root may start later than its peers). On success all_blobs->size() == nranks and
// (*all_blobs)[rank] == my_blob.
Status Rendezvous(const UniqueId& id, int rank, int nranks, const std::string& my_blob,
                  double timeout_s, std::vector<std::string>* all_blobs);

}  // namespace braid::bootstrap
