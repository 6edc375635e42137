// kernels/common/host_workers.h: how the CPU references split work over threads. Every range is
// run exactly once, in order of its worker, whether or not the helper threads could be started.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <vector>

#include "kernels/common/host_workers.h"

namespace braid::kernels {
namespace {

// Records which worker covered each element, and fails on an element covered twice.
struct Coverage {
  explicit Coverage(int64_t count) : owner(size_t(count)) {
    for (auto& o : owner) o = -1;
  }
  std::vector<std::atomic<int>> owner;
  std::atomic<int> twice{0};
  void Cover(int worker, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      int expected = -1;
      if (!owner[size_t(i)].compare_exchange_strong(expected, worker)) ++twice;
    }
  }
};

void ExpectContiguousInWorkerOrder(const Coverage& c, int64_t align) {
  EXPECT_EQ(c.twice.load(), 0);
  int last = 0;
  for (size_t i = 0; i < c.owner.size(); ++i) {
    const int w = c.owner[i].load();
    ASSERT_GE(w, last) << "element " << i << " not covered or out of worker order";
    if (w != last) {
      EXPECT_EQ(i % size_t(align), 0u) << "worker " << w << " starts off alignment";
    }
    last = w;
  }
}

TEST(HostWorkers, RangesCoverEverythingOnceInWorkerOrder) {
  for (int64_t count : {1, 7, 64, 1000, 4099}) {
    for (int workers : {1, 2, 3, 8, 300}) {
      for (int64_t align : {1, 64}) {
        Coverage c(count);
        ForEachWorkerRange(count, workers, align, [&](int w, int64_t b, int64_t e) { c.Cover(w, b, e); });
        ExpectContiguousInWorkerOrder(c, align);
      }
    }
  }
}

// Virtual memory in use now (bytes), from /proc/self/statm.
size_t VirtualBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  statm >> pages;
  return pages * size_t(sysconf(_SC_PAGESIZE));
}

TEST(HostWorkers, HelpersThatCannotStartLeaveTheirRangesToTheCaller) {
  // Room for about two thread stacks (8 MiB each by default) beyond what is mapped now: most of
  // the 32 helpers cannot start.
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &before), 0);
  rlimit tight = before;
  tight.rlim_cur = VirtualBytes() + (20u << 20);
  ASSERT_EQ(setrlimit(RLIMIT_AS, &tight), 0);
  const int64_t count = 100000;
  Coverage c(count);
  std::atomic<int> on_caller{0};
  const auto caller = std::this_thread::get_id();
  ForEachWorkerRange(count, 32, 1, [&](int w, int64_t b, int64_t e) {
    if (std::this_thread::get_id() == caller) ++on_caller;
    c.Cover(w, b, e);
  });
  ASSERT_EQ(setrlimit(RLIMIT_AS, &before), 0);
  ExpectContiguousInWorkerOrder(c, 1);
  EXPECT_GT(on_caller.load(), 1) << "every helper started: the limit did not bite, so this checks nothing";
}

TEST(HostWorkers, NegativeThreadsAreRefusedByName) {
  Status s = CheckHostThreads("NormForwardHost", -2);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("NormForwardHost: threads = -2 is negative"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckHostThreads("GemmHost", 0).ok());
}

}  // namespace
}  // namespace braid::kernels
