// Failure notices: how a communicator's failure on one rank reaches every other member.
//
// A rank notices a failure only where it waits: on the dead or stalled peer it receives from, or
// on the message whose size it finds wrong. Its other partners, whose own waits are on this rank
// (alive, but stopped at the failure), would learn of it only if it exited, or else after
// BRAID_TIMEOUT as a Timeout naming this live rank, not the cause. So a rank whose communicator
// fails sends every other member one short message with the failure's text; each member keeps a
// receive posted for it from every other member, and a waiting rank that finds one has arrived
// fails with RemoteError("rank R reported a failure: ...") within a health-check period.
//
// The notices travel on the transport's control tags (comm id kControlCommId, op bits = the
// communicator's id), which no collective or point-to-point message uses.
//
// A rank that fails because of a notice passes it on (marked as relayed; a member that has both
// shows the original). Its notice is also its word that it has stopped: it is sent after the
// failed call stopped its own receives, so every ready-to-receive it sent for this communicator
// arrived before it, and it will post no more. A rank whose failed call had to leave a send with
// the transport (UCX may still read its buffer, Transport::CancelAfterFailure) waits for that
// word, or the peer's death, before its call returns (Comm::Impl::SettleCancelledSends).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "braid/status.h"
#include "transport/transport.h"

namespace braid::runtime {

// The tag comm id reserved for control messages (communicator ids start at 1).
inline constexpr uint32_t kControlCommId = 0;

// The tag of the failure notice that world rank `source` sends for communicator `comm_id`.
inline uint64_t NoticeTag(uint32_t comm_id, uint32_t source) {
  return transport::MakeTag(kControlCommId, source, 0, false, comm_id);
}

class FailureNotices {
 public:
  // Longest notice (bytes): a kind byte (kOriginal / kRelayed), then the failure's text, cut.
  static constexpr size_t kMaxNoticeBytes = 1024;
  static constexpr char kOriginal = 'O';
  static constexpr char kRelayed = 'R';
  static constexpr char kLeft = 'L';  // not a failure: the member destroyed its communicator

  // Posts a receive for the notice of every other member (comm rank -> world rank in
  // `world_ranks`, which must outlive this). A member that cannot be listened to (already
  // failed) is skipped: its failure reaches us through the transport.
  FailureNotices(transport::Transport* transport, const std::vector<int>* world_ranks, int rank,
                 uint32_t comm_id);
  // Cancels the receives still posted and the notices still leaving.
  ~FailureNotices();
  FailureNotices(const FailureNotices&) = delete;
  FailureNotices& operator=(const FailureNotices&) = delete;

  // OK, or a RemoteError carrying the first failure notice that has arrived (the same one every
  // call). O(members): for a wait's periodic check, not for every spin.
  Status Heard();
  // OK, or a RemoteError naming world rank `world_peer` if it said it destroyed its communicator
  // (AnnounceLeaving): for a wait on that peer, which it will never answer.
  Status Left(int world_peer) const;
  // Whether world rank `world_peer`'s notice (original or relayed) has arrived.
  bool Stopped(int world_peer) const;
  // Sends `failure` to every other member whose process the transport still believes alive,
  // once per communicator, and gives the notices up to kSendGraceMs of progress to leave.
  // Marked as relayed when this rank failed because of a notice.
  void Announce(const Status& failure);
  // Tells every other member that this rank destroys its communicator (not failed): a member
  // whose wait depends on this rank then fails at once, naming it, instead of after BRAID_TIMEOUT
  // (300 s by default); waits on other members go on. The transport's farewell says as much when
  // the process's last communicator goes, but a Split child, or a parent whose children live on,
  // shares the transport with communicators that remain (QA, session 55). Not after a failure or
  // Announce (the members were told).
  void AnnounceLeaving();

 private:
  transport::Transport* transport_;
  const std::vector<int>* world_ranks_;
  int rank_;
  uint32_t comm_id_;
  // Per comm rank: the receive for that member's notice (own rank: never posted) and its text.
  std::unique_ptr<transport::Request[]> inbox_;
  std::vector<char> inbox_text_;
  // The notices this rank sent (one per member), sharing one text.
  std::unique_ptr<transport::Request[]> outbox_;
  std::vector<char> outbox_text_;
  bool announced_ = false;
  // The member (comm rank) that world rank `world_peer` is, if its notice arrived; else -1.
  int ArrivedFrom(int world_peer) const;
  // Sends `kind` + `text` to every other member the transport believes alive, once, and gives the
  // notices up to kSendGraceMs of progress to leave.
  void Send(char kind, const std::string& text);
  Status heard_;  // the first notice found
};

}  // namespace braid::runtime
