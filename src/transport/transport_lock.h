// TransportLock: serialises the calls into a transport once several threads may make them.
//
// Communicators split from one another share their process's transport (one UCX worker), and
// each may be driven by its own thread (a framework's data-parallel all-reduce on a background
// thread while the main thread runs pipeline sends, as Gloo's process groups do). UCX's worker
// is SERIALIZED: one thread in it at a time. Until Enable() (the first Split) the lock costs one
// relaxed load per call, so a process with one communicator pays nothing measurable.
//
// Fair (tickets, first come first served). A thread waiting for a message unlocks between its
// progress passes and relocks at once; with an ordinary mutex it usually wins that race against
// a thread already blocked on the lock, which then starves until its peers time out.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace braid::transport {

class TransportLock {
 public:
  // From now on Guards lock. Call while no other thread uses the transport (Split does it
  // before the first child exists, so only the parent's thread is in the transport).
  void Enable() { enabled_.store(true, std::memory_order_release); }
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  // Holds the lock for its scope if it was enabled when the Guard was made. Unlock() and
  // Relock() let a wait loop give other threads their turn between passes.
  class Guard {
   public:
    // Disengaged (no Enable() yet), every member is one test of engaged_: a blocking Send or
    // Recv of a process with one communicator runs this on its critical path.
    explicit Guard(TransportLock& lock) : lock_(lock), engaged_(lock.enabled()) {
      if (engaged_) lock_.Acquire();
    }
    ~Guard() {
      if (engaged_ && held_) lock_.Release();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    void Unlock() {
      if (!engaged_) return;
      lock_.Release();
      held_ = false;
    }
    void Relock() {
      if (!engaged_) return;
      lock_.Acquire();
      held_ = true;
    }

   private:
    TransportLock& lock_;
    const bool engaged_;
    bool held_ = true;  // while engaged
  };

 private:
  // Spins briefly (the holder is usually inside one short UCX call on another core), then
  // yields: with more threads than cores the holder may need this core to finish.
  void Acquire() {
    const uint32_t ticket = next_.fetch_add(1, std::memory_order_relaxed);
    for (unsigned spins = 0; serving_.load(std::memory_order_acquire) != ticket; ++spins) {
      if (spins >= kSpinsBeforeYield) sched_yield();
    }
  }
  void Release() { serving_.store(serving_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  static constexpr unsigned kSpinsBeforeYield = 128;
  std::atomic<bool> enabled_{false};
  std::atomic<uint32_t> next_{0};     // the ticket the next Acquire draws
  std::atomic<uint32_t> serving_{0};  // the ticket that holds the lock
};

}  // namespace braid::transport
