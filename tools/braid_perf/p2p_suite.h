// The point-to-point suites, shaped like the OSU micro-benchmarks (osu_latency, osu_bw,
// osu_bibw, osu_mbw_mr) so their output reads the same.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace braid::perf {

enum class P2pSuite {
  kLatency,  // ping-pong; half the round trip, microseconds
  kBw,       // rank 0 streams windows of messages to rank 1; MB/s (1e6 B/s)
  kBibw,     // both ranks stream to each other at once; MB/s of both directions together
  kMsgRate,  // n/2 sender-receiver pairs stream windows; aggregate MB/s and messages/s
};

const char* P2pSuiteName(P2pSuite suite);
std::optional<P2pSuite> ParseP2pSuite(std::string_view name);
std::string P2pSuiteNameList();  // "latency, bw, bibw, msgrate"

// Why `nranks` ranks cannot run the suite ("" if they can): latency, bw and bibw need exactly
// 2, msgrate an even number.
std::string P2pRankCountError(P2pSuite suite, int nranks);

// Default timed iterations per size (OSU's: 10000 for latency, 100 for the bandwidth suites; we
// take 1000 for latency so a default run stays short on small machines).
int P2pDefaultIterations(P2pSuite suite);

// The largest message the suites measure (OSU's range ends at 1 GiB too): their buffers,
// windows and iteration counts are sized for it, and -b/-e beyond it are refused.
inline constexpr size_t kMaxP2pBytes = size_t(1) << 30;

// The most bytes one window of a bandwidth suite holds: windows of large messages shrink to it,
// so that a 1 GiB row takes seconds, not minutes.
inline constexpr size_t kMaxWindowBytes = size_t(64) << 20;

// Messages in flight per iteration at `bytes`: 1 for latency, else `window` (--window) capped
// so that the window holds at most kMaxWindowBytes (and at least one message).
int P2pWindow(P2pSuite suite, int window, size_t bytes);

}  // namespace braid::perf
