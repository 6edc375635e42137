// The shared-memory lane's UCP settings (transport/ucx/ucx_lane_settings.h): braid's segment and
// receive-pool growth by default, the user's UCX_* variables winning, segments UCX would truncate
// messages with refused, and no MM_ setting where the lane has no shared-memory transport. Only
// UCX_* variables are set here: the BRAID_UCX_LOCAL_* knobs are read once per process.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "transport/ucx/ucx_lane_settings.h"

namespace braid::transport::ucx_internal {
namespace {

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// The value braid sets for UCP key `key`, "" when it sets none.
std::string Setting(const LocalLaneSettings& lane, const std::string& key) {
  for (const LaneSetting& s : lane.settings)
    if (key == s.key) return s.value;
  return "";
}

TEST(UcxLaneSettings, TransportListsWithAndWithoutSharedMemory) {
  for (const char* tls : {"posix,sysv,self", "sm", "shm,tcp", "mm", "all", "", " POSIX , self", "^tcp", "^posix,sysv"})
    EXPECT_TRUE(UsesSharedMemory(tls)) << "'" << tls << "'";
  for (const char* tls : {"tcp,self", "tcp", "self", "^sm", "^shm,tcp", "^posix,sysv,xpmem", "rc,ud"})
    EXPECT_FALSE(UsesSharedMemory(tls)) << "'" << tls << "'";
}

TEST(UcxLaneSettings, DefaultSegmentAndAPoolThatStartsInOneAddition) {
  LocalLaneSettings lane;
  ASSERT_TRUE(ResolveLocalLane(&lane).ok());
  EXPECT_EQ(Setting(lane, "MM_SEG_SIZE"), std::to_string(kDefaultLocalSegBytes));
  EXPECT_EQ(Setting(lane, "MM_RX_BUFS_GROW"), std::to_string(kUcxDefaultFifoSize + 1));  // UCX takes 65 at start
  EXPECT_TRUE(lane.segment_applied);
  EXPECT_EQ(lane.segment, "65472");
  {
    ScopedEnv fifo("UCX_SYSV_FIFO_SIZE", "128");
    ASSERT_TRUE(ResolveLocalLane(&lane).ok());
    EXPECT_EQ(Setting(lane, "MM_RX_BUFS_GROW"), "129");
    EXPECT_EQ(Setting(lane, "MM_FIFO_SIZE"), "");  // the user's own wins
  }
  ScopedEnv grow("UCX_MM_RX_BUFS_GROW", "8");
  ASSERT_TRUE(ResolveLocalLane(&lane).ok());
  EXPECT_EQ(Setting(lane, "MM_RX_BUFS_GROW"), "");
}

TEST(UcxLaneSettings, TheUsersSegmentWinsWhenUcxCanHonourIt) {
  ScopedEnv segment("UCX_POSIX_SEG_SIZE", "16k");
  LocalLaneSettings lane;
  ASSERT_TRUE(ResolveLocalLane(&lane).ok());
  EXPECT_EQ(Setting(lane, "MM_SEG_SIZE"), "");
  EXPECT_EQ(Setting(lane, "MM_RX_BUFS_GROW"), "");  // sized for a segment that is not braid's
  EXPECT_FALSE(lane.segment_applied);
  EXPECT_EQ(lane.segment, "UCX_POSIX_SEG_SIZE");
}

// UCX reads UCX_MM_SEG_SIZE, then each transport's own over it: every one is checked, and what
// braid cannot read as a byte count is refused ("auto" is no limit at all to UCX).
TEST(UcxLaneSettings, SegmentsUcxWouldTruncateWithAreRefused) {
  ScopedEnv fine("UCX_MM_SEG_SIZE", "8k");
  for (const char* value : {"128k", "65536", "inf", "auto", " 128k", "+131072"}) {
    ScopedEnv large("UCX_POSIX_SEG_SIZE", value);
    LocalLaneSettings lane;
    const Status s = ResolveLocalLane(&lane);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << value;
    EXPECT_NE(s.message().find(std::string("UCX_POSIX_SEG_SIZE='") + value + "'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("65535 bytes: UCX keeps a shared-memory fragment's length in 16 bits"), std::string::npos)
        << s.message();
  }
  ScopedEnv largest("UCX_POSIX_SEG_SIZE", "65535");
  LocalLaneSettings lane;
  EXPECT_TRUE(ResolveLocalLane(&lane).ok());
}

TEST(UcxLaneSettings, NoSharedMemorySettingsWithoutASharedMemoryTransport) {
  ScopedEnv tls("UCX_TLS", "tcp,self");
  LocalLaneSettings lane;
  ASSERT_TRUE(ResolveLocalLane(&lane).ok());
  for (const LaneSetting& s : lane.settings) EXPECT_NE(std::string(s.key).rfind("MM_", 0), 0u) << s.key;
  EXPECT_FALSE(lane.segment_applied);
  EXPECT_EQ(lane.segment, "unused (no shared-memory transport)");
  EXPECT_EQ(lane.tls, "UCX_TLS");
}

}  // namespace
}  // namespace braid::transport::ucx_internal
