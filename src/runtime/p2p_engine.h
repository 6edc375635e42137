// Point-to-point traffic of one communicator: per-peer message numbering, and two paths chosen
// by size. Messages above the inline limit go as one tagged transport message each (tag =
// message number). Messages up to it travel on the pair's packet stream (p2p_tags.h): in a
// group the sender adds them to one open packet per peer (p2p_packet.h: the smaller ones copied,
// the larger left in place and gathered when the packet is sent), which leaves when full, when it
// holds kFlushMessages, or at the end of the group; a message sent alone (a
// blocking Send, or a packet that holds one) leaves as itself, its number in the tag. The
// receiver posts one receive per peer for its packet stream, planned from the receives waiting
// (p2p_landing.h: messages of 1 KiB or more land straight in their callers' buffers, the rest in
// a landing buffer), hands each arrival's messages to the matching receives, and keeps those
// whose Recv has not been called yet. It posts that receive once the batch's receives are known:
// before the batch's first packet leaves (the peer may answer it at once), or in Finish.
//
// Operations are posted as they are added (a group's first messages are on their way while the
// caller still adds more), and Finish waits for all of them.
//
// Both sides pick the path from their own byte count, so a send and receive of different sizes
// can disagree; the receiver then fails with an error naming the peer and the sizes when it can
// tell: a tagged message where it expected a packed one, a packet holding a message whose
// receive was posted tagged, or (probed while idle: the oldest receive every 32 idle passes, every
// receive on the 0.1 s health pass) a lone message or an unread packet where it waits for a tagged
// one (the packet is read then: later messages in it are kept for their receives), or a tagged
// message where it waits for a packed one.
//
// Messages to self: a blocking Send is kept as a copy for its Recv, whatever its size: no
// transport can be relied on to move it before that Recv is posted, and only this thread can
// post it, after the Send returns. (Small ones used to leave as lone messages, counting on UCX
// to send them eagerly; with UCX's rendezvous threshold set below the inline limit such a Send
// waited for its Recv until the timeout, QA session 50.) So is a group's Send to self (GroupEnd
// keeps them before posting the rest, so the group's receives from self find them in any call
// order, and a Recv after the group finds the others; QA session 54). A Recv from self with
// nothing sent to self waiting fails at once (InvalidArgument; in a group, GroupEnd checks the
// count first) instead of waiting for a message nobody can send.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "braid/status.h"
#include "runtime/p2p_landing.h"
#include "runtime/p2p_packet.h"
#include "transport/transport.h"

namespace braid::runtime {

class FailureNotices;

struct P2pOp {
  bool is_send;
  void* buf;
  size_t bytes;
  int peer;  // communicator rank
};

// What the engine needs of its communicator; fixed for the communicator's lifetime.
struct P2pContext {
  transport::Transport* transport;
  const std::vector<int>* world_ranks;  // communicator rank -> world rank
  uint32_t comm_id;
  const std::atomic<bool>* aborted;
  double timeout_s;
  FailureNotices* notices;  // checked while waiting
};

class P2pEngine {
 public:
  // Messages of at most `inline_bytes` (<= kMaxInlineBytes) travel packed; 0 = none. Every
  // rank of the communicator must use the same value.
  P2pEngine(const P2pContext& ctx, size_t inline_bytes);
  ~P2pEngine();  // cancels what an unfinished batch left in flight

  // A batch is a group, or one blocking Send/Recv: Begin, Add each op, Finish.
  void Begin();
  // Posts `op`; messages between a pair match in the order they are added. A failure is kept
  // and returned again by Finish. Inline: it runs once per message of a group.
  Status Add(const P2pOp& op) {
    if (!failure_.ok()) return failure_;
    const uint64_t index = op.is_send ? sends_to_[size_t(op.peer)]++ : recvs_from_[size_t(op.peer)]++;
    // Returned by value without touching failure_ when OK (a Status copy is a shared_ptr copy).
    Status added = !Packed(op.bytes) ? AddTagged(op, index)
                   : op.is_send      ? AddPackedSend(op, index)
                                     : AddPackedRecv(op, index);
    if (!added.ok()) failure_ = added;
    return added;
  }
  // Posts the open packets and the packet receives, runs `between` (the group's collectives)
  // while the traffic progresses, then waits for every op of the batch. On failure nothing that
  // touches the callers' buffers is left in flight.
  Status Finish(const std::function<Status()>& between);
  // One pass over the batch's traffic without waiting (completions, packets taken apart, packet
  // receives reposted): what Finish's own loop does between waits, for the wait loops of the
  // group's collectives, which run inside Finish (`between`). Sets *progressed as Poll does.
  Status Service(bool* progressed);
  // Ends the batch without waiting: cancels everything still in flight. `after_failure`: the
  // call failed, and the communicator settles what the transport left lingering
  // (Transport::CancelAfterFailure) before returning; false on teardown.
  void Cancel(bool after_failure = true);
  // Between Begin and the end of its batch (a group, or a lone op run as a batch).
  bool open() const { return open_; }

  // A Send to self, kept as a copy for its Recv (numbered as any message to self), whether that
  // Recv is in the same group or comes later: a group's send to self that waited for a later
  // Recv through the transport waited for ever once UCX sent it by rendezvous (QA, session 54).
  Status KeepForSelf(const P2pOp& op);
  // Messages sent to self and kept, not yet received.
  uint64_t KeptForSelf() const { return sends_to_[size_t(self_)] - recvs_from_[size_t(self_)]; }

  // One blocking Send or Recv outside a group: what Begin, Add and Finish do for a batch of one
  // op, with the same messages on the wire, on a shorter path. A small send leaves as a lone
  // message straight from the caller's buffer; a small receive posts for exactly its lone
  // message, straight into the caller's buffer, and turns to the batch path if the message
  // comes in a packet instead (LoneWait). This path is what a ping-pong's latency measures: the
  // transport's SendNow/RecvNow wait on the one message in their tightest loop. (Measured through
  // self before session 50, when a small Send to self still took this path: a 1-byte Send + Recv
  // took 2609 instructions through Begin/Add/Finish and 1321 this way with a packet of one
  // message; raw UCX 565; callgrind, bench/p2p_call_cost, docs/PERFORMANCE.md.)
  Status RunOne(const P2pOp& op) {  // inline: the first layer under Comm::Send / Recv
    if (op.is_send && op.peer == self_) return KeepForSelf(op);
    if (Packed(op.bytes)) return op.is_send ? SendOne(op) : RecvOne(op);
    return RunOneAsBatch(op);
  }

 private:
  struct Outbox {  // one packet on its way to a peer
    PacketWriter writer;
    transport::Request request;
    int peer = -1;
    bool posted = false;
  };
  struct Waiting {  // a packed receive of the current batch
    uint64_t index;
    size_t op;  // position in ops_
  };
  struct Inbox {  // packets from one peer
    std::unique_ptr<PacketLanding> landing;  // where a packet lands; made on the first receive
    transport::Request request;
    bool posted = false;
    std::map<uint64_t, std::vector<std::byte>> early;  // arrived before their Recv
    std::vector<Waiting> waiting;                      // ascending index
    size_t next = 0;                                   // first of `waiting` not yet delivered
    size_t landable = 0;  // of those not yet delivered, how many would land in place
  };
  struct Outstanding {  // something the wait loop waits for, named in a timeout
    int peer = -1;
    bool is_send = false;
    size_t bytes = 0;
    bool packet = false;
    int64_t recv_index = -1;  // a receive: its message number
    bool tagged = false;      // a receive posted tagged (above the inline limit), not packed
  };

  bool Packed(size_t bytes) const { return inline_bytes_ > 0 && bytes <= inline_bytes_; }
  Status AddTagged(const P2pOp& op, uint64_t index);
  Status AddPackedSend(const P2pOp& op, uint64_t index);
  Status AddPackedRecv(const P2pOp& op, uint64_t index);
  // Makes `op` (message `index` from op.peer) a packed receive of the batch, waiting for a packet.
  void WaitForPacked(const P2pOp& op, uint64_t index, Inbox& box);
  Inbox& InboxOf(int peer) {
    std::unique_ptr<Inbox>& box = inboxes_[size_t(peer)];
    if (!box) box = std::make_unique<Inbox>();
    return *box;
  }
  Status PostPacket(Outbox& box);
  // Posts box's packet-stream receive, planned for the receives waiting (p2p_landing.h).
  // `packet_next`: a packet is known to come first (a blocking Recv found one), so one receive
  // waiting plans nothing: its lone plan would only read the packet back through a copy.
  Status PostPacketRecv(int peer, Inbox& box, bool packet_next = false);
  // PostPacketRecv for each peer with receives waiting and no packet receive posted.
  Status PostWaitingPacketRecvs();
  // Hands what box's packet-stream receive got (a lone message or a packet, told apart by its
  // tag) to the waiting receives, or keeps its messages for later ones. A receive of box's must
  // be waiting.
  Status Accept(int peer, Inbox& box);
  // Hands message `index` to its waiting receive or keeps it; an error when the sizes differ.
  Status Take(int peer, Inbox& box, uint64_t index, std::span<const std::byte> payload);
  // Copies a received message into op's buffer (unless it landed there); an error naming both
  // sizes if they differ. Inline: a blocking Recv of a small message ends here.
  Status Deliver(int peer, const P2pOp& op, std::span<const std::byte> payload) {
    if (payload.size() != op.bytes) return SizeMismatch(peer, op, payload.size());
    if (op.bytes && payload.data() != op.buf) std::memcpy(op.buf, payload.data(), op.bytes);
    return Status::Ok();
  }
  static Status SizeMismatch(int peer, const P2pOp& op, size_t got);
  // The error of a packed receive whose message was sent above the inline limit.
  Status LargerThanExpected(int peer, const P2pOp& op) const;
  // Looks for the message `receive` waits for sent in the other form, which it would never
  // match, and returns the error naming both sizes (not a Timeout). A tagged receive: a lone
  // message with its number (sent within the inline limit), or a packet from its peer that no
  // packed receive of the batch is reading, which is then read (ReadStrayPacket). A packed
  // receive: a tagged message with its number (sent above the limit).
  Status SentInAnotherForm(const Outstanding& receive);
  // Posts the packet-stream receive for `peer` outside any packed receive; Poll hands the packet
  // to Take, which keeps later messages for their receives and names one whose receive was
  // posted tagged.
  Status ReadStrayPacket(int peer, Inbox& box);
  // A blocking Recv from self when every message sent to self was received: it would wait for ever.
  bool NothingSentToSelf(const P2pOp& op) const {
    return op.peer == self_ && recvs_from_[size_t(self_)] == sends_to_[size_t(self_)];
  }
  Status NothingSentToSelfError(const P2pOp& op) const;
  // Polls the outstanding requests; *all_done when nothing of the batch is outstanding. Tagged
  // requests are checked up to the first pending one, or all of them when `full_scan` (to see a
  // failure behind a pending request: the caller asks for that now and then while idle).
  Status Poll(bool full_scan, bool* progressed, bool* all_done, Outstanding* oldest);
  // What the wait loop names for tagged message k, a packet going out, and the first packed
  // receive still waiting for `peer`'s packets.
  Outstanding TaggedOutstanding(size_t k) const {
    const P2pOp& op = ops_[tagged_[k]];
    return {op.peer, op.is_send, op.bytes, false, op.is_send ? -1 : int64_t(tagged_index_[k]), !op.is_send};
  }
  static Outstanding PacketOutstanding(const Outbox& box) { return {box.peer, true, box.writer.size(), true}; }
  Outstanding PackedOutstanding(int peer, const Inbox& box) const {
    const Waiting& w = box.waiting[box.next];
    return {peer, false, ops_[w.op].bytes, false, int64_t(w.index), false};
  }
  // A stray read still waiting for its packet (its size is not known: the buffer's is given).
  static Outstanding StrayOutstanding(int peer) { return {peer, false, kMaxPacketBytes, true}; }
  // Everything of the batch not finished yet: tagged messages, packets going out and packed
  // receives still waiting or stray reads, in that order (the health pass of an idle wait; not on a
  // hot path).
  std::vector<Outstanding> StillOutstanding() const;
  void EndBatch();
  // After Cancel: an outbox whose packet send the transport abandoned (Request::abandoned) may
  // still be read by it (Transport::KeepUntilDestroyed), which takes it; the engine makes new ones.
  void HandOverCancelledPackets() noexcept;
  // Gives `owned` to the transport to keep until it is destroyed (leaked if even that fails).
  template <typename T>
  void HandOver(std::unique_ptr<T>& owned) noexcept;
  Status RunOneAsBatch(const P2pOp& op);
  Status SendOne(const P2pOp& op);
  Status RecvOne(const P2pOp& op);
  struct LoneWait;
  // `failure` of a wait, prefixed with what was outstanding.
  Status WaitFailure(const Status& failure, const Outstanding& what) const;

  const P2pContext ctx_;
  const size_t inline_bytes_;
  const uint32_t own_rank_;        // this process's world rank
  const int self_;                 // this process's communicator rank
  const uint64_t own_packet_tag_;  // the tag of the packets this rank sends (computed once)
  std::vector<uint64_t> sends_to_;                // messages sent to each peer (their numbers)
  std::vector<uint64_t> recvs_from_;              // messages received from each peer
  std::vector<std::unique_ptr<Inbox>> inboxes_;   // per peer, created on first use

  // The current batch (containers keep their capacity between batches).
  bool open_ = false;
  Status failure_;
  std::vector<P2pOp> ops_;                   // the ops still to wait for (tagged, waiting)
  transport::RequestPool requests_;          // tagged messages (they stay in place)
  std::vector<size_t> tagged_;               // op position of requests_[k]
  std::vector<uint64_t> tagged_index_;       // message number of requests_[k]
  size_t first_tagged_ = 0;                  // tagged_[..first_tagged_) finished
  std::vector<std::unique_ptr<Outbox>> outboxes_;
  size_t outboxes_used_ = 0;
  size_t first_outbox_ = 0;                  // outboxes_[..first_outbox_) finished
  std::vector<int> open_outbox_;             // per peer: its open packet in outboxes_, or -1
  std::vector<int> receiving_from_;          // peers with packed receives in this batch
  size_t packed_outstanding_ = 0;            // packed receives of this batch not yet delivered
  size_t stray_reads_ = 0;                   // ReadStrayPacket receives of this batch not yet done
};

}  // namespace braid::runtime
