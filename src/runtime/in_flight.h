// The transfers a collective has in flight, kept per peer and direction in the order they were
// posted, so that a poll pass tests the front of each queue instead of every transfer.
//
// Why: a schedule whose transfers do not wait for each other (a broadcast root's sends, a
// non-root's receives, an all-to-all) posts every slice at once. Testing all of them on every
// pass made a call of n slices cost ~n^2 tests (QA, session 51: a 3-rank all-to-all of 2 x 262144
// one-byte slices spent 77% of its 15 s testing requests). Transfers between two ranks complete
// mostly in the order they were posted (UCX delivers one peer's messages in order), so the front
// of each queue is where completions are. One that completes further back is found by a test of
// everything: kFirstFullPoll passes after the last one, then at doubling intervals (up to
// kLastFullPoll) while such tests find nothing the windows missed, but never more often than
// every size() / kWaitingPerQueue passes, so that they cost no more per pass than the windows;
// and whenever the caller asks (the executor does on its 0.1 s health pass while idle). So a
// transfer others wait for is found within a few thousand passes (more only with many thousands
// in flight), and a call of n transfers costs O(n) tests.
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
    if (queues_.size() < 2 * size_t(nranks)) queues_.resize(2 * size_t(nranks));
  }
  void Clear() {
    for (uint32_t q : active_) queues_[q].Clear();
    active_.clear();
    count_ = 0;
    passes_ = 0;
    full_interval_ = kFirstFullPoll;
  }

  // Records a transfer about to be posted (before posting: this may throw std::bad_alloc).
  void Add(uint32_t op, int peer, bool send) {
    const uint32_t q = QueueOf(peer, send);
    Queue& queue = queues_[q];
    if (queue.empty()) active_.reserve(active_.size() + 1);  // nothing throws after the push below
    queue.ops.push_back(op);
    if (queue.ops.size() - queue.head == 1) active_.push_back(q);
    ++count_;
  }
  // Forgets the transfer Add recorded last for (peer, send): its posting failed.
  void RemoveLast(int peer, bool send) {
    const uint32_t q = QueueOf(peer, send);
    Queue& queue = queues_[q];
    queue.ops.pop_back();
    --count_;
    if (queue.empty()) {
      queue.Clear();
      active_.erase(std::find(active_.begin(), active_.end(), q));
    }
  }

  size_t size() const { return count_; }

  // Tests transfers with `test(op)`: the first kWaitingPerQueue still running of each queue, or
  // every one when a full test is due or `test_all`. A done transfer leaves its queue; a failed one
  // stays, the pass stops and *failed is set to it (the caller then cancels everything listed).
  template <typename TestOp>
  bool Poll(const TestOp& test, bool test_all, uint32_t* failed) {
    const bool all = test_all || ++passes_ >= std::max<size_t>(full_interval_, count_ / kWaitingPerQueue);
    size_t done_behind = 0;  // done transfers beyond the windows (found only by a full test)
    for (size_t a = 0; a < active_.size();) {
      Queue& queue = queues_[active_[a]];
      if (!queue.Poll(test, all ? SIZE_MAX : kWaitingPerQueue, &count_, &done_behind, failed)) return false;
      if (queue.empty()) {
        queue.Clear();
        active_[a] = active_.back();
        active_.pop_back();
      } else {
        ++a;
      }
    }
    if (all) {
      passes_ = 0;
      full_interval_ = done_behind > 0 ? kFirstFullPoll : std::min(2 * full_interval_, kLastFullPoll);
    }
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
  static uint32_t QueueOf(int peer, bool send) { return uint32_t(peer) * 2 + (send ? 1 : 0); }
  static constexpr unsigned kFirstFullPoll = 32;
  static constexpr unsigned kLastFullPoll = 4096;

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
    bool Poll(const TestOp& test, size_t limit, size_t* count, size_t* done_behind, uint32_t* failed) {
      const size_t begin = head;
      size_t keep = begin, waiting = 0, k = begin;
      for (; k < ops.size() && waiting < limit; ++k) {
        switch (test(ops[k])) {
          case Test::kDone:
            --*count;
            if (waiting >= kWaitingPerQueue) ++*done_behind;
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
      std::copy_backward(ops.begin() + ptrdiff_t(begin), ops.begin() + ptrdiff_t(keep), ops.begin() + ptrdiff_t(k));
      head = k - (keep - begin);
      return true;
    }
  };

  std::vector<Queue> queues_;    // [peer * 2 + send]
  std::vector<uint32_t> active_;  // queues with transfers in flight
  size_t count_ = 0;
  unsigned passes_ = 0, full_interval_ = kFirstFullPoll;
};

}  // namespace braid::runtime
