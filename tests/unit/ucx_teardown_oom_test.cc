// A UCX transport destroyed while memory is exhausted still tears down: its destructor is
// noexcept, so a std::bad_alloc from a message, a log line or a list inside it would end the
// process in std::terminate. What it still had in flight fails (Aborted), and the process goes on.
// This executable replaces the global operator new with one that throws while `g_refuse` is set
// (libbraid is linked statically, so its allocations come here too; UCX's own use malloc).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>

#include "transport/ucx/ucx_transport.h"
#include "ucx_pair.h"

namespace {
std::atomic<bool> g_refuse{false};
}  // namespace

void* operator new(size_t bytes) {
  if (g_refuse.load(std::memory_order_relaxed)) throw std::bad_alloc();
  if (void* p = std::malloc(bytes ? bytes : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace braid::transport {
namespace {

// Destroys `t` with every allocation refused.
void DestroyOutOfMemory(std::unique_ptr<UcxTransport>& t) {
  g_refuse = true;
  t.reset();
  g_refuse = false;
}

TEST(UcxTeardownOutOfMemory, AReceiveInFlightFailsAndTheProcessGoesOn) {
  UcxPair ranks;
  char buf[64];
  Request recv;
  ASSERT_TRUE(ranks[0]->PostRecv(1, /*tag=*/42, buf, sizeof buf, MemoryType::kHost, &recv).ok());
  DestroyOutOfMemory(ranks.ranks[0]);
  EXPECT_EQ(recv.state.load(), Request::State::kFailed);
  EXPECT_EQ(recv.error.code(), StatusCode::kAborted) << recv.error.ToString();
}

// Rank 1 leaves first: its farewell waits unreceived at rank 0, so UCX warns of it when rank 0's
// worker goes. That warning reaches braid's log handler (ucx_log.cc), still out of memory: it
// must not throw through UCX into the destructor.
TEST(UcxTeardownOutOfMemory, UcxsWarningsWhileOutOfMemoryDoNotEscape) {
  UcxPair ranks;
  ranks.ranks[1].reset();
  for (int i = 0; i < 100; ++i) ranks[0]->Progress();  // the farewell moves to UCX's unexpected queue
  char buf[64];
  Request recv;
  ASSERT_TRUE(ranks[0]->PostRecv(1, /*tag=*/42, buf, sizeof buf, MemoryType::kHost, &recv).ok());
  DestroyOutOfMemory(ranks.ranks[0]);
  EXPECT_EQ(recv.state.load(), Request::State::kFailed);
}

}  // namespace
}  // namespace braid::transport
