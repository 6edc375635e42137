// The rendezvous blob: what a rank learns of every other rank when a communicator is created.
#include "runtime/process_blob.h"

#include <gtest/gtest.h>

#include "core/build_identity.h"

namespace braid::runtime {
namespace {

const transport::PeerProcess kSelf{"node7", 4242, "node7/boot-1/net-2/pid-3"};
const std::string kSettings = "algorithm=(tuner)\nslice_bytes=0\np2p_inline_bytes=4096\ncheck_calls=0";

TEST(ProcessBlob, RoundTripsHostPidAndAddress) {
  const std::string address("\x01\x00\xffucx-worker-address", 22);
  const std::string blob = EncodeProcessBlob(BuildIdentity(), kSettings, kSelf, address);
  transport::PeerProcess peer;
  std::string decoded;
  ASSERT_TRUE(DecodeProcessBlob(blob, 3, BuildIdentity(), kSettings, &peer, &decoded).ok());
  EXPECT_EQ(peer.host, "node7");
  EXPECT_EQ(peer.pid, 4242);
  EXPECT_EQ(peer.host_id, kSelf.host_id);
  EXPECT_EQ(decoded, address);
}

TEST(ProcessBlob, BuildIdentityNamesVersionAndRevision) {
  EXPECT_EQ(BuildIdentity().rfind("braid ", 0), 0u) << BuildIdentity();
  EXPECT_NE(BuildIdentity().find(" (git "), std::string::npos) << BuildIdentity();
}

// A rank of another build is refused on every rank, naming the rank, its host and both builds,
// before its address is handed to UCX.
TEST(ProcessBlob, AnotherBuildIsInvalidUsageNamingBoth) {
  const std::string blob = EncodeProcessBlob("braid 0.1.0 (git 000000000000)", kSettings, kSelf, "addr");
  transport::PeerProcess peer;
  std::string address;
  const Status s = DecodeProcessBlob(blob, 5, "braid 0.1.0 (git 111111111111)", kSettings, &peer, &address);
  EXPECT_EQ(s.code(), StatusCode::kInvalidUsage);
  for (const char* part : {"rank 5 on node7 runs braid 0.1.0 (git 000000000000)",
                           "this rank runs braid 0.1.0 (git 111111111111)", "same braid build"}) {
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  }
  EXPECT_TRUE(address.empty());
}

// A rank whose settings decide other messages (another forced algorithm, slice or packing limit)
// is refused on every rank, naming each setting that differs with both values, before its
// address is handed to UCX.
TEST(ProcessBlob, DifferentSettingsAreInvalidUsageNamingEach) {
  const std::string theirs = "algorithm=ring\nslice_bytes=0\np2p_inline_bytes=0\ncheck_calls=0";
  const std::string blob = EncodeProcessBlob(BuildIdentity(), theirs, kSelf, "addr");
  transport::PeerProcess peer;
  std::string address;
  const Status s = DecodeProcessBlob(blob, 1, BuildIdentity(), kSettings, &peer, &address);
  EXPECT_EQ(s.code(), StatusCode::kInvalidUsage);
  for (const char* part : {"algorithm is (tuner) here but ring on rank 1", "p2p_inline_bytes is 4096 here but 0 on rank 1",
                           "(rank 1 runs on node7)", "BRAID_ALGO"}) {
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  }
  EXPECT_EQ(s.message().find("slice_bytes is"), std::string::npos) << s.message();  // the same on both
  EXPECT_TRUE(address.empty());
}

// Bytes that are not a blob (an older braid's, or garbage): an error, never an address.
TEST(ProcessBlob, ForeignOrTruncatedBytesAreRemoteErrors) {
  transport::PeerProcess peer;
  std::string address;
  for (const std::string& bytes : {std::string(), std::string("garbage that is not a blob"), std::string(7, 'B')}) {
    const Status s = DecodeProcessBlob(bytes, 2, BuildIdentity(), kSettings, &peer, &address);
    EXPECT_EQ(s.code(), StatusCode::kRemoteError);
    EXPECT_NE(s.message().find("rank 2 sent a bootstrap blob"), std::string::npos) << s.message();
  }
  const std::string blob = EncodeProcessBlob(BuildIdentity(), kSettings, kSelf, "addr");
  for (size_t cut : {size_t(8), size_t(12), blob.size() - 4 - 4, blob.size() - 4}) {
    SCOPED_TRACE(cut);
    const Status s = DecodeProcessBlob(blob.substr(0, cut), 2, BuildIdentity(), kSettings, &peer, &address);
    EXPECT_EQ(s.code(), StatusCode::kRemoteError);
    EXPECT_TRUE(s.message().find("truncated") != std::string::npos ||
                s.message().find("no UCX worker address") != std::string::npos)
        << s.message();
  }
  EXPECT_TRUE(address.empty());
}

}  // namespace
}  // namespace braid::runtime
