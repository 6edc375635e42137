// ProgressWaiter::Busy: a wait that keeps making progress (a collective of many slices) still
// returns Aborted at once and sees a dead peer within about a health period. Before Busy, only
// idle passes looked (QA, session 51: a rank learnt of a death 13-17 s into a broadcast of a
// million slices, and an Abort took 2.7 s).
#include "runtime/progress.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

#include "transport/loopback/loopback_transport.h"

namespace braid::runtime {
namespace {

using transport::LoopbackFabric;

TEST(ProgressWaiterBusy, AnAbortEndsABusyWaitAtOnce) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  std::atomic<bool> aborted{false};
  ProgressWaiter waiter(t0.get(), &aborted, 300, nullptr);
  auto peers = [](std::vector<int>* list) { list->push_back(1); };
  for (int pass = 0; pass < 10000; ++pass) ASSERT_TRUE(waiter.Busy(peers).ok());
  aborted = true;
  EXPECT_EQ(waiter.Busy(peers).code(), StatusCode::kAborted);
}

TEST(ProgressWaiterBusy, ADeadPeerEndsABusyWaitWithinAHealthPeriod) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  ProgressWaiter waiter(t0.get(), nullptr, 300, nullptr);
  auto peers = [](std::vector<int>* list) { list->push_back(1); };
  fabric->KillRank(1);
  const auto start = std::chrono::steady_clock::now();
  Status status;
  while (status.ok() && std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
    status = waiter.Busy(peers);
  }
  EXPECT_EQ(status.code(), StatusCode::kRemoteError) << status.ToString();
  EXPECT_EQ(waiter.failed_peer(), 1);
}

}  // namespace
}  // namespace braid::runtime
