// In-process transport for tests: every rank is a thread of this process, and a LoopbackFabric
// connects them. Messages are matched per (receiver, source, tag) in posting order (a receive's
// Request::tag_ignore bits need not match) and copied straight from the sender's buffer into the
// receiver's. A send completes only when it is matched (rendezvous semantics), so a schedule that
// relies on eager buffering deadlocks here instead of passing by luck. KillRank() simulates a
// peer dying.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "transport/transport.h"

namespace braid::transport {

class LoopbackFabric : public std::enable_shared_from_this<LoopbackFabric> {
 public:
  static std::shared_ptr<LoopbackFabric> Create(int nranks);

  // The transport of `rank` (one per rank, used by that rank's thread). It keeps the fabric alive.
  std::unique_ptr<Transport> Endpoint(int rank);
  // From now on, operations involving `rank` fail with RemoteError("rank R (loopback) died"),
  // PeerHealth(rank) reports it, and pending operations to/from it fail (waiters are woken).
  void KillRank(int rank);
  // A death only a liveness probe sees: PeerHealth(rank) and new operations fail as after
  // KillRank, but operations already pending to or from `rank` stay pending. Models the UCX
  // shared-memory lane, where a rank that dies in the middle of writing into a peer's receive
  // FIFO leaves that peer's requests waiting until its pid probe notices the death. Unless the
  // rank's transport was destroyed first (it left), HostPeersHealth reports the death to every
  // other rank, as UCX's does for a shared-memory peer gone without its farewell.
  void KillRankUnnoticed(int rank);

  int size() const { return int(ranks_.size()); }

 private:
  friend class LoopbackTransport;

  // An unmatched send or receive.
  struct Pending {
    Request* req;
    uint64_t tag;
    int owner;  // the rank that posted it
    int other;  // its peer: the receiver of a send, the source of a receive
    void* buf;  // the send's data (read-only) or the receive's landing buffer
    std::span<const SendSegment> segments;  // a gathered send's data instead of buf (PostSendGather)
    std::span<const RecvSegment> scatter;   // a scattered receive's pieces instead of buf (PostRecvScatter)
  };
  struct RankState {
    std::condition_variable cv;
    bool woken = false;  // activity since the last WaitForActivity (under mu_)
    bool dead = false;
    bool died_unnoticed = false;  // by KillRankUnnoticed
    bool left = false;            // its transport was destroyed (a clean exit)
    std::deque<Pending> sends_to_me;    // unmatched sends addressed to this rank, in post order
    std::deque<Pending> my_recvs;       // unmatched receives posted by this rank, in post order
    std::atomic<uint64_t> finished{0};  // this rank's requests that finished (for Progress)
  };

  explicit LoopbackFabric(int nranks);

  // `segments`, for a gathered send, and `scatter`, for a scattered receive, replace `buf`.
  Status Post(int me, int peer, uint64_t tag, void* buf, size_t bytes, bool is_send, Request* req,
              std::span<const SendSegment> segments = {}, std::span<const RecvSegment> scatter = {});
  // Copies a matched send's bytes (buf or segments) into its receive (buf or scatter).
  static void CopyPieces(const Pending& send, const Pending& recv);
  // Copies a matched send into its receive and finishes both. Called with mu_ held.
  void Match(const Pending& send, const Pending& recv);
  // Finishes `req` (owned by `owner`) and wakes the owner. Called with mu_ held.
  void Finish(int owner, Request* req, Status error);
  void Cancel(int me, Request* req);
  // Whether a send from `peer` to `me` tagged exactly `tag` waits unmatched.
  bool HasSend(int me, int peer, uint64_t tag);
  // Forgets `me`'s unmatched operations without touching their (possibly freed) requests.
  void Forget(int me);
  Status Health(int peer);
  // The first rank other than `me` that died unnoticed without leaving, or -1.
  int DiedWithoutLeaving(int me);
  void Wait(int me, int timeout_us);
  void Wake(int rank);
  static Status DeadStatus(int rank);

  std::mutex mu_;  // guards everything in ranks_ except `finished`
  std::vector<std::unique_ptr<RankState>> ranks_;
};

// One rank's view of a LoopbackFabric.
class LoopbackTransport : public Transport {
 public:
  LoopbackTransport(std::shared_ptr<LoopbackFabric> fabric, int rank);
  ~LoopbackTransport() override;

  int rank() const override { return rank_; }
  int size() const override { return fabric_->size(); }
  std::string name() const override { return "loopback"; }

  Status PostSend(int peer, uint64_t tag, const void* buf, size_t bytes, MemoryType mem,
                  Request* req) override;
  Status PostSendGather(int peer, uint64_t tag, std::span<const SendSegment> segments, size_t bytes,
                        Request* req) override;
  Status PostRecv(int peer, uint64_t tag, void* buf, size_t bytes, MemoryType mem,
                  Request* req) override;
  Status PostRecvScatter(int peer, uint64_t tag, std::span<const RecvSegment> segments, size_t bytes,
                         Request* req) override;
  bool Progress() override;
  void WaitForActivity(int timeout_us) override;
  void Interrupt() override;
  void Cancel(Request* req) override;
  Status PeerHealth(int peer) override;
  Status HostPeersHealth(int* failed_peer) override;
  bool Probe(int peer, uint64_t tag) override;
  // Nothing to do: the fabric's mutex already serialises what ranks share, and a rank's own
  // threads share only seen_finished_ (atomic).
  void AllowConcurrentUse() override {}

 private:
  std::shared_ptr<LoopbackFabric> fabric_;
  int rank_;
  // The rank's finished counter at the last Progress() (of any of the rank's threads).
  std::atomic<uint64_t> seen_finished_{0};
};

}  // namespace braid::transport
