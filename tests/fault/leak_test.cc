// Leak check: two fault_worker ranks create a communicator over UCX, run all-reduces and destroy
// it, each under `valgrind --leak-check=full --error-exitcode=1`. Any memory error or definite /
// possible leak that tests/valgrind.supp does not suppress fails the test and prints valgrind's
// report. Skipped when valgrind is not installed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "process_harness.h"

namespace braid::testing {
namespace {

// Valgrind slows the ranks down ~20-50x, so the ranks' own timeout is long (seconds); the ctest
// TIMEOUT of the fault tier (120 s) bounds the whole test.
constexpr int kValgrindRankTimeoutS = 60;
constexpr double kWaitS = 100;

// tests/valgrind.supp, found from this source file's path (absolute in CMake builds).
std::string SuppressionsPath() {
#ifdef BRAID_VALGRIND_SUPP
  return BRAID_VALGRIND_SUPP;
#else
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "valgrind.supp").string();
#endif
}

std::string FindValgrind() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin"}) {
    std::string path = std::string(dir) + "/valgrind";
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

TEST(LeakTest, CreateAllReduceDestroyUnderValgrind) {
  const std::string valgrind = FindValgrind();
  if (valgrind.empty()) GTEST_SKIP() << "valgrind is not installed";
  const PortReservation reserved;
  const int port = reserved.port();
  ASSERT_GT(port, 0);
  const std::string log_dir = std::filesystem::temp_directory_path() /
                              ("braid-valgrind-" + std::to_string(getpid()));
  std::filesystem::create_directories(log_dir);

  ProcessHarness harness;
  const int kRanks = 2;
  for (int r = 0; r < kRanks; ++r) {
    harness.Start("rank " + std::to_string(r),
                  {valgrind, "--leak-check=full", "--error-exitcode=1", "--num-callers=30",
                   "--suppressions=" + SuppressionsPath(),
                   "--log-file=" + log_dir + "/rank" + std::to_string(r) + ".log",
                   FaultWorkerPath(), "allreduce-loop", "3", "65536"},
                  {{"BRAID_RANK", std::to_string(r)},
                   {"BRAID_WORLD_SIZE", std::to_string(kRanks)},
                   {"BRAID_ROOT", "127.0.0.1:" + std::to_string(port)},
                   {"BRAID_TIMEOUT", std::to_string(kValgrindRankTimeoutS)}});
  }
  const bool finished = harness.WaitAll(kWaitS);
  std::string logs;
  for (int r = 0; r < kRanks; ++r) {
    logs += "==== valgrind log of rank " + std::to_string(r) + "\n" +
            ProcessHarness::ReadFile(log_dir + "/rank" + std::to_string(r) + ".log");
  }
  ASSERT_TRUE(finished) << "ranks under valgrind did not finish in " << kWaitS << " s\n"
                        << harness.Report() << logs;
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(harness.child(r).ExitCode(), 0)
        << "rank " << r << ": valgrind found errors or leaks (exit 1) or the rank failed\n"
        << harness.Report() << logs;
    EXPECT_NE(harness.Stdout(r).find("DONE"), std::string::npos) << harness.Report();
  }
  std::error_code ec;
  std::filesystem::remove_all(log_dir, ec);
}

}  // namespace
}  // namespace braid::testing
