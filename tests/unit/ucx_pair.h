// Two UCX transports in this process, connected to each other as world ranks 0 and 1 (same
// host: the shared-memory lane). For the transport's unit tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "transport/ucx/ucx_transport.h"

namespace braid::transport {

struct UcxPair {
  std::unique_ptr<UcxTransport> ranks[2];
  UcxPair() {
    std::vector<std::string> addresses;
    for (auto& t : ranks) {
      Status st = UcxTransport::Create(&t);
      EXPECT_TRUE(st.ok()) << st.ToString();
      addresses.push_back(t->LocalAddress());
    }
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    std::vector<PeerProcess> peers(2, PeerProcess{host, int(getpid())});
    for (int r = 0; r < 2; ++r) {
      Status st = ranks[r]->Connect(r, addresses, peers);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  }
  UcxTransport* operator[](int r) { return ranks[r].get(); }
};

}  // namespace braid::transport
