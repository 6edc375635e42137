// braid-perf's pinned-host staging for --memory cuda (tools/braid_perf/p2p_staging.cc), with
// plain host memory standing in for the device and an in-process layer under it that reads a
// posted send only when its window completes (as a real layer may), so a staging slot reused
// too early corrupts the message.
#include "p2p_staging.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <set>
#include <stdexcept>
#include <vector>

#include "backend.h"

namespace braid::perf {

// braid-perf's FatalError aborts the MPI job; here it throws, so that a test can expect it.
[[noreturn]] void FatalError(const std::string& what, const std::string& message, int) {
  throw std::runtime_error(what + ": " + message);
}

namespace {

// Counts of the copies the stand-in device made.
struct CopyLog {
  int to_host = 0, to_device = 0;
};
CopyLog copy_log;

void* HostAllocate(size_t bytes) { return std::calloc(bytes ? bytes : 1, 1); }
void HostRelease(void* p) { std::free(p); }
void ToHost(void* staging, const void* device, size_t bytes) {
  ++copy_log.to_host;
  std::memcpy(staging, device, bytes);
}
void ToDevice(void* device, const void* staging, size_t bytes) {
  ++copy_log.to_device;
  std::memcpy(device, staging, bytes);
}
const StagingCopies kHostCopies{&HostAllocate, &HostRelease, &ToHost, &ToDevice, "memcpy (test)"};

// Messages to self, matched in order. Blocking calls act at once; a window's sends are read and
// its receives filled only in Complete(). Records every address it is given.
class LoopbackP2p final : public P2pBackend {
 public:
  explicit LoopbackP2p(std::set<const void*>* seen) : seen_(seen) {}
  std::string Describe() const override { return "loopback"; }
  std::string PeerTransports() const override { return "none"; }
  void Send(const void* buf, size_t bytes, int) override {
    seen_->insert(buf);
    const auto* p = static_cast<const std::byte*>(buf);
    wire_.emplace_back(p, p + bytes);
  }
  void Recv(void* buf, size_t bytes, int) override {
    seen_->insert(buf);
    ASSERT_FALSE(wire_.empty());
    ASSERT_EQ(wire_.front().size(), bytes);
    std::memcpy(buf, wire_.front().data(), bytes);
    wire_.pop_front();
  }
  void Begin() override {
    sends_.clear();
    recvs_.clear();
  }
  void PostSend(const void* buf, size_t bytes, int) override {
    seen_->insert(buf);
    sends_.push_back({const_cast<void*>(buf), bytes});
  }
  void PostRecv(void* buf, size_t bytes, int) override {
    seen_->insert(buf);
    recvs_.push_back({buf, bytes});
  }
  void Complete() override {
    for (const Posted& s : sends_) Send(s.buf, s.bytes, 0);
    for (const Posted& r : recvs_) Recv(r.buf, r.bytes, 0);
  }

 private:
  struct Posted {
    void* buf;
    size_t bytes;
  };
  std::set<const void*>* seen_;
  std::deque<std::vector<std::byte>> wire_;
  std::vector<Posted> sends_, recvs_;
};

std::vector<std::byte> Pattern(size_t bytes, int seed) {
  std::vector<std::byte> v(bytes);
  for (size_t i = 0; i < bytes; ++i) v[i] = std::byte(uint8_t(i * 7 + size_t(seed) * 31 + 1));
  return v;
}

class StagingTest : public ::testing::Test {
 protected:
  void SetUp() override { copy_log = {}; }
  std::unique_ptr<P2pBackend> Staged(size_t staging_bytes) {
    return MakeStagedP2p(std::make_unique<LoopbackP2p>(&seen_), staging_bytes, kHostCopies);
  }
  std::set<const void*> seen_;  // addresses the layer under the staging got
};

TEST_F(StagingTest, BlockingMessagesTravelThroughStagingMemoryOnly) {
  auto staged = Staged(4096);
  std::vector<std::byte> device_src = Pattern(1000, 1), device_dst(1000);
  staged->Send(device_src.data(), 1000, 0);
  staged->Recv(device_dst.data(), 1000, 0);
  EXPECT_EQ(device_dst, device_src);
  EXPECT_EQ(copy_log.to_host, 1);
  EXPECT_EQ(copy_log.to_device, 1);
  EXPECT_EQ(seen_.count(device_src.data()), 0u) << "the layer was given a device pointer";
  EXPECT_EQ(seen_.count(device_dst.data()), 0u) << "the layer was given a device pointer";
  EXPECT_NE(staged->Describe().find("staged through pinned host memory (memcpy (test))"), std::string::npos)
      << staged->Describe();
}

TEST_F(StagingTest, WindowGivesEachMessageItsOwnSlotAndDeliversOnCompletion) {
  constexpr int kWindow = 5;
  constexpr size_t kBytes = 100;  // not a multiple of the slot alignment
  auto staged = Staged(kWindow * 128);
  std::vector<std::vector<std::byte>> src, dst;
  for (int w = 0; w < kWindow; ++w) {
    src.push_back(Pattern(kBytes, w));
    dst.emplace_back(kBytes);
  }
  staged->Begin();
  for (int w = 0; w < kWindow; ++w) staged->PostRecv(dst[size_t(w)].data(), kBytes, 0);
  for (int w = 0; w < kWindow; ++w) staged->PostSend(src[size_t(w)].data(), kBytes, 0);
  for (int w = 0; w < kWindow; ++w) EXPECT_EQ(dst[size_t(w)], std::vector<std::byte>(kBytes)) << "before Complete";
  staged->Complete();
  for (int w = 0; w < kWindow; ++w) EXPECT_EQ(dst[size_t(w)], src[size_t(w)]) << "message " << w;
  EXPECT_EQ(copy_log.to_host, kWindow);
  EXPECT_EQ(copy_log.to_device, kWindow);
  EXPECT_EQ(seen_.size(), size_t(2 * kWindow)) << "every message needs a slot of its own";

  // The next window starts at the beginning of the staging memory again.
  staged->Begin();
  staged->PostRecv(dst[0].data(), kBytes, 0);
  staged->PostSend(src[4].data(), kBytes, 0);
  staged->Complete();
  EXPECT_EQ(dst[0], src[4]);
  EXPECT_EQ(seen_.size(), size_t(2 * kWindow));
}

TEST_F(StagingTest, AWindowLargerThanTheStagingMemoryIsAnError) {
  auto staged = Staged(256);
  std::vector<std::byte> src(200);
  staged->Begin();
  staged->PostSend(src.data(), 200, 0);
  EXPECT_THROW(staged->PostSend(src.data(), 200, 0), std::runtime_error);
  EXPECT_THROW(staged->Send(src.data(), 300, 0), std::runtime_error);
}

// StagingBytes against the windows the bench runs at every size of a run (p2p_bench.cc).
TEST(StagingBytes, HoldsTheLargestWindowOfEverySize) {
  struct Case {
    P2pSuite suite;
    int window;
    size_t max_bytes;
  };
  for (const Case& c : {Case{P2pSuite::kBw, 64, 4 << 20}, Case{P2pSuite::kBibw, 1000, 1 << 20},
                        Case{P2pSuite::kMsgRate, 64, 100}, Case{P2pSuite::kBw, 3, size_t(1) << 30},
                        Case{P2pSuite::kLatency, 64, 4 << 20}, Case{P2pSuite::kBw, 64, 1}}) {
    Options o;
    o.suite = c.suite;
    o.window = c.window;
    o.max_bytes = c.max_bytes;
    const size_t capacity = StagingBytes(o);
    std::vector<size_t> sizes = {c.max_bytes};  // powers of two, 1.5x between them, the largest
    for (size_t b = 1; b < c.max_bytes; b *= 2) {
      sizes.push_back(b);
      if (b + b / 2 < c.max_bytes) sizes.push_back(b + b / 2);
    }
    // Every size around the one where windows start to shrink, unaligned ones included: there a
    // full window of padded slots holds the most.
    const size_t shrink = kMaxWindowBytes / size_t(c.window);
    for (size_t b = shrink > 200 ? shrink - 200 : 1; b <= shrink + 200 && b <= c.max_bytes; ++b) sizes.push_back(b);
    for (size_t bytes : sizes) {
      const size_t window = size_t(P2pWindow(c.suite, c.window, bytes));
      const size_t slot = (bytes + kStagingSlotAlignment - 1) / kStagingSlotAlignment * kStagingSlotAlignment;
      EXPECT_LE(window * slot, capacity) << P2pSuiteName(c.suite) << " window " << c.window << " at " << bytes << " B";
    }
  }
}

TEST(StagingBytes, LatencyStagesOneMessageNotAWindow) {
  Options o;
  o.suite = P2pSuite::kLatency;
  o.window = 64;
  o.max_bytes = 4 << 20;
  EXPECT_LT(StagingBytes(o), 2 * o.max_bytes);
}

}  // namespace
}  // namespace braid::perf
