// A shared-memory lane the user configured (BRAID_UCX_LOCAL_TLS, BRAID_UCX_LOCAL_RNDV_THRESH)
// that UCX cannot make fails the transport's creation, naming the knob; it is not swapped for
// the network lane behind the user's back (as it is when braid's own default fails, e.g. in a
// container without shared memory). Its own executable: the transport reads the knobs once per
// process, at its first creation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "transport/ucx/ucx_transport.h"

namespace braid::transport {
namespace {

TEST(UcxLocalLaneKnob, AnUnusableTransportListIsNamed) {
  ASSERT_EQ(setenv("BRAID_UCX_LOCAL_TLS", "no_such_transport", 1), 0);
  std::unique_ptr<UcxTransport> t;
  Status s = UcxTransport::Create(&t);
  unsetenv("BRAID_UCX_LOCAL_TLS");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("BRAID_UCX_LOCAL_TLS='no_such_transport': UCX could not make the shared-memory lane"),
            std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace braid::transport
