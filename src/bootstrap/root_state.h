// Connection and protocol state of one rendezvous root (private to src/bootstrap). Driven by the
// root's service thread only: it polls the fds from AppendPollFds, then calls HandleEvents,
// AcceptAll and CheckDeadlines, until done().
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/socket.h"

namespace braid::bootstrap {

class RootState {
 public:
  // `on_end` runs on the service thread when gathering ends, with outcome(), before any rank's
  // answer (the rendezvous reply) is sent: a rank that has it can count on the end being known.
  using EndHook = std::function<void(const std::string& outcome)>;
  RootState(std::string where, uint64_t nonce, double timeout_s, EndHook on_end = {});

  const std::string& where() const { return where_; }
  // Still waiting for ranks (the listener stays open).
  bool gathering() const { return phase_ == Phase::kGathering; }
  // Accepting is paused for a moment after the process ran out of file descriptors.
  bool accept_paused() const { return Clock::now() < accept_paused_until_; }
  // Gathering ended and every reply was delivered or abandoned.
  bool done() const { return phase_ != Phase::kGathering && conns_.empty(); }
  int joined_count() const { return joined_count_; }
  // The earliest time CheckDeadlines has something to do.
  Clock::time_point NextDeadline() const;

  // One pollfd per connection, in connection order; HandleEvents reads them back from `first`.
  void AppendPollFds(std::vector<pollfd>* fds) const;
  void HandleEvents(const std::vector<pollfd>& fds, size_t first);
  void AcceptAll(int listener_fd);
  // Drops connections past their deadline, completes or times out the rendezvous.
  void CheckDeadlines();
  void CloseAll();
  // How gathering ended ("served a communicator of 4 ranks", "rendezvous timed out after 3 s:
  // ..."); empty while gathering, or when the service was stopped first.
  const std::string& outcome() const { return outcome_; }

 private:
  enum class Phase { kGathering, kDraining };
  enum class ConnState { kHello, kJoined, kReplying, kClosed };
  struct Conn {
    Fd fd;
    std::string peer;  // "10.0.0.2:51234"
    ConnState state = ConnState::kHello;
    Clock::time_point deadline;
    std::string in;                         // hello bytes received so far
    size_t need = 0;                        // hello bytes expected (grows once the header is in)
    // A braid hello for another communicator (its nonce differs): its blob is read and dropped
    // (`dropped` bytes so far), not kept, and then it is answered that it is not ours.
    bool foreign = false;
    size_t dropped = 0;
    int rank = -1;                          // set once joined
    std::shared_ptr<const std::string> out; // reply being written
    size_t out_offset = 0;
  };

  void ReadHello(Conn& c);
  void OnHeader(Conn& c);
  void OnHello(Conn& c);
  void RefuseForeign(Conn& c);
  void OnJoinedReadable(Conn& c);
  void WriteReply(Conn& c);
  void Reply(Conn& c, std::shared_ptr<const std::string> reply);
  void Reject(Conn& c, WireCode code, const std::string& message);
  void Close(Conn& c) {
    c.fd.Reset();
    c.state = ConnState::kClosed;
  }
  void Complete();
  void TimeOut();
  // Gathering is over: draining starts, `outcome` is kept and on_end_ told.
  void EndGathering(std::string outcome);
  // Who is missing: never arrived, joined and left, and the hellos refused meanwhile.
  std::string MissingRanks() const;
  // Whether a rate-limited warning may be printed now (else it is counted as suppressed); if so,
  // *suppressed_note says how many were suppressed since the last one ("" when none).
  bool WarningDue(std::string* suppressed_note);
  // A warning about one connection (dropped, refused), rate-limited: a stranger can open
  // thousands a second (one line each flooded the log with 19,000 lines in 3 s, QA).
  void WarnAboutConnection(const std::string& text);
  // Closes the oldest connection still owing its hello once kMaxPendingConnections are open.
  void DropOldestPending();

  const std::string where_;
  const std::string auth_;  // the hello's first 16 bytes: magic + nonce
  const double timeout_s_;
  const double hello_timeout_s_;  // per connection: a stalled client is dropped after this
  // When gathering gives up: the root's own timeout while no rank has arrived, then just before
  // the earliest waiting rank's wait ends (each hello says how long its rank waits).
  Clock::time_point deadline_;
  bool deadline_from_ranks_ = false;
  Clock::time_point first_arrival_;
  Phase phase_ = Phase::kGathering;
  Clock::time_point accept_paused_until_;
  std::vector<std::unique_ptr<Conn>> conns_;
  int nranks_ = -1;      // learned from the first valid hello
  int first_rank_ = -1;  // the rank that told us nranks_ (for mismatch messages)
  int joined_count_ = 0;
  std::vector<std::string> blobs_;
  std::vector<char> joined_;
  std::vector<char> left_;  // joined, then disconnected, and not back
  // Why hellos were refused while gathering (the first few), for the timeout's message.
  static constexpr size_t kMaxRememberedRefusals = 4;
  std::vector<std::string> refused_;
  Clock::time_point next_warning_;
  int warnings_suppressed_ = 0;
  std::string outcome_;
  EndHook on_end_;
};

}  // namespace braid::bootstrap
