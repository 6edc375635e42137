// The transfers a collective has in flight, kept per peer and kind (send, receive, receive-reduce)
// in the order they were posted, so that a poll pass tests the front of each queue instead of
// every transfer.
//
// Why: a schedule whose transfers do not wait for each other (a broadcast root's sends, a
// non-root's receives, an all-to-all) posts every slice at once. Testing all of them on every
// pass made a call of n slices cost ~n^2 tests (QA, session 51: a 3-rank all-to-all of 2 x 262144
// one-byte slices spent 77% of its 15 s testing requests).
//
// A pass tests the first kWaitingPerQueue still-running transfers of each queue (the window).
// Most completions are there, but not all. A ring all-reduce posts its all-gather receives from
// the previous rank early (they wait on nothing of this rank) and its reduce-scatter receives
// late (they wait for scratch slots): in one queue, the reduce-scatter step every rank waits for
// would finish behind a window of all-gather receives that cannot finish before it (review,
// session 51: a 32-rank ring stalled at every step until a test of everything came round), so
// the two kinds of receive have queues of their own. For what remains, a pass in which
// the transport reported progress but the windows found nothing tests everything, as do the
// caller's requests (the executor's, after its 0.1 s idle health pass) and, as a last resort, a
// pass count that starts at kFirstFullPoll and doubles while such tests find nothing new. Tests of
// everything are paid from credits that every pass earns at the windows' rate, so a call of n
// transfers still costs O(n) tests, and where they are cheap (few in flight) they run at once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace braid::runtime {

class InFlight {
 public:
  // What a poll's test says of one transfer.
  enum class Test { kRunning, kDone, kFailed };

  // Empties the queues for a collective over `nranks` peers.
  void Reset(int nranks) {
    Clear();
    if (queues_.size() < kKinds * size_t(nranks)) queues_.resize(kKinds * size_t(nranks));
  }
  void Clear() {
    for (uint32_t q : active_) queues_[q].Clear();
    active_.clear();
    count_ = 0;
    passes_ = 0;
    full_interval_ = kFirstFullPoll;
    credit_ = 0;
  }

  // What a queue holds besides its peer: receives that are reduced on arrival and plain ones
  // have queues of their own, since a schedule may post one kind long before the other can
  // finish (the ring all-reduce's all-gather receives before its reduce-scatter ones).
  enum class Kind : uint32_t { kSend, kRecv, kRecvReduce };

  // Records a transfer about to be posted (before posting: this may throw std::bad_alloc).
  void Add(uint32_t op, int peer, Kind kind) {
    const uint32_t q = QueueOf(peer, kind);
    Queue& queue = queues_[q];
    if (queue.empty()) active_.reserve(active_.size() + 1);  // nothing throws after the push below
    queue.ops.push_back(op);
    if (queue.ops.size() - queue.head == 1) active_.push_back(q);
    ++count_;
  }
  // Forgets the transfer Add recorded last for (peer, kind): its posting failed.
  void RemoveLast(int peer, Kind kind) {
    const uint32_t q = QueueOf(peer, kind);
    Queue& queue = queues_[q];
    queue.ops.pop_back();
    --count_;
    if (queue.empty()) {
      queue.Clear();
      active_.erase(std::find(active_.begin(), active_.end(), q));
    }
  }

  size_t size() const { return count_; }

  // Tests transfers with `test(op)`: each queue's window, then everything when a test of
  // everything is due (see above): `transport_progressed` (this pass's progress call or posting
  // moved something) and the windows found nothing, or `test_all`. A done transfer leaves its
  // queue; a failed one stays, the pass stops and *failed is set to it (the caller then cancels
  // everything listed).
  template <typename TestOp>
  bool Poll(const TestOp& test, bool transport_progressed, bool test_all, uint32_t* failed) {
    credit_ = std::min(credit_ + kCreditPerPass + kWaitingPerQueue * active_.size(), kMaxCredit);
    const size_t before = count_;
    if (!PollQueues(test, kWaitingPerQueue, failed)) return false;
    const bool missed = transport_progressed && count_ == before;
    const bool due = ++passes_ >= full_interval_;
    if (!(test_all || ((missed || due) && credit_ >= count_))) return true;
    credit_ -= std::min(credit_, count_);
    const size_t windowed = count_;
    if (!PollQueues(test, SIZE_MAX, failed)) return false;
    passes_ = 0;
    full_interval_ = count_ < windowed ? kFirstFullPoll : std::min(2 * full_interval_, kLastFullPoll);
    return true;
  }

  // Calls f(op) for every transfer in flight.
  template <typename F>
  void ForEach(const F& f) const {
    for (uint32_t q : active_) {
      const Queue& queue = queues_[q];
      for (size_t k = queue.head; k < queue.ops.size(); ++k) f(queue.ops[k]);
    }
  }

 private:
  static constexpr size_t kWaitingPerQueue = 16;
  // Tests a pass may spend beyond its windows, and the most saved up (one test of everything
  // when up to this many are in flight; more take several passes' savings).
  static constexpr size_t kCreditPerPass = 64;
  static constexpr size_t kMaxCredit = size_t(1) << 30;
  static constexpr unsigned kFirstFullPoll = 32;
  static constexpr unsigned kLastFullPoll = 4096;
  static constexpr uint32_t kKinds = 3;
  static uint32_t QueueOf(int peer, Kind kind) { return uint32_t(peer) * kKinds + uint32_t(kind); }

  struct Queue {
    std::vector<uint32_t> ops;  // in posting order from `head` on
    size_t head = 0;

    bool empty() const { return head == ops.size(); }
    void Clear() {
      ops.clear();
      head = 0;
    }
    // Tests from the front until `limit` transfers are still running; compacts what it tested
    // against the untested rest, so a pass costs what it tested. False on a failed transfer.
    template <typename TestOp>
    bool Poll(const TestOp& test, size_t limit, size_t* count, uint32_t* failed) {
      const size_t begin = head;
      size_t keep = begin, waiting = 0, k = begin;
      for (; k < ops.size() && waiting < limit; ++k) {
        switch (test(ops[k])) {
          case Test::kDone:
            --*count;
            break;
          case Test::kFailed:
            *failed = ops[k];
            ops.erase(ops.begin() + ptrdiff_t(keep), ops.begin() + ptrdiff_t(k));  // keep the rest listed
            return false;
          case Test::kRunning:
            ops[keep++] = ops[k];
            ++waiting;
            break;
        }
      }
      if (keep != k) std::copy_backward(ops.begin() + ptrdiff_t(begin), ops.begin() + ptrdiff_t(keep), ops.begin() + ptrdiff_t(k));
      head = k - (keep - begin);
      return true;
    }
  };

  // One pass over the active queues, testing up to `limit` running transfers of each.
  template <typename TestOp>
  bool PollQueues(const TestOp& test, size_t limit, uint32_t* failed) {
    for (size_t a = 0; a < active_.size();) {
      Queue& queue = queues_[active_[a]];
      if (!queue.Poll(test, limit, &count_, failed)) return false;
      if (queue.empty()) {
        queue.Clear();
        active_[a] = active_.back();
        active_.pop_back();
      } else {
        ++a;
      }
    }
    return true;
  }

  std::vector<Queue> queues_;     // [peer * kKinds + kind]
  std::vector<uint32_t> active_;  // queues with transfers in flight
  size_t count_ = 0;
  unsigned passes_ = 0, full_interval_ = kFirstFullPoll;
  size_t credit_ = 0;  // tests saved up for tests of everything
};

}  // namespace braid::runtime
