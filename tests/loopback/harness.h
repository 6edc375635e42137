// Threads-as-ranks harness: N communicators over one LoopbackFabric, one thread per rank.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "braid/comm.h"
#include "runtime/comm_impl.h"
#include "transport/loopback/loopback_transport.h"

namespace braid::testing {

// Creates `nranks` communicators (rank i over fabric endpoint i).
inline std::vector<std::unique_ptr<Comm>> MakeLoopbackComms(
    int nranks, const CommOptions& options = {},
    std::shared_ptr<transport::LoopbackFabric>* fabric_out = nullptr) {
  auto fabric = transport::LoopbackFabric::Create(nranks);
  std::vector<int> identity(nranks);
  for (int r = 0; r < nranks; ++r) identity[r] = r;
  CommOptions resolved;
  Status s = Comm::Impl::ResolveOptions(options, &resolved);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::unique_ptr<Comm>> comms;
  for (int r = 0; r < nranks; ++r) {
    auto world = std::make_shared<runtime::World>();
    world->transport = fabric->Endpoint(r);
    comms.push_back(Comm::Impl::MakeComm(world, identity, r, runtime::CommIds::kWorldId, resolved));
  }
  if (fabric_out) *fabric_out = fabric;
  return comms;
}

// Runs body(rank) on one thread per rank and joins them. Failures inside threads are recorded
// by gtest normally (EXPECT_* is thread-safe).
inline void RunRanks(int nranks, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) threads.emplace_back(body, r);
  for (std::thread& t : threads) t.join();
}

}  // namespace braid::testing
