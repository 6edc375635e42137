#include "p2p_bench.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "bench.h"
#include "buffer.h"
#include "watchdog.h"

namespace braid::perf {
namespace {

constexpr size_t kSmallMessageBytes = 8 << 10;    // OSU's large-message threshold
constexpr double kBytesPerSize = 256.0 * (1 << 20);  // per direction, above the threshold
constexpr int kMinIterations = 5;
constexpr size_t kAckBytes = 4;

using Clock = std::chrono::steady_clock;

// Byte `i` of a message of `bytes` from `sender`: varies with all three so that a message
// delivered to the wrong place, from the wrong rank or truncated is caught.
uint8_t PatternByte(int sender, size_t bytes, size_t i) {
  return uint8_t(i * 131 + size_t(sender) * 29 + bytes * 7 + (i >> 8));
}

class P2pBench {
 public:
  // Every buffer of the run is allocated here, before any measurement (AllocatedOnEveryRank).
  explicit P2pBench(const Options& options)
      : o_(options),
        send_(options.memory, options.max_bytes),
        recv_(options.memory, options.max_bytes),
        checked_(options.check ? options.max_bytes : 0) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
    const int half = nranks_ / 2;
    sender_ = rank_ < half;
    peer_ = sender_ ? rank_ + half : rank_ - half;
  }

  // One row of `backend` at `bytes` (every backend shares this bench's buffers).
  P2pRow Measure(size_t bytes, P2pBackend& backend) {
    backend_ = &backend;
    P2pRow row;
    row.bytes = bytes;
    row.window = P2pWindow(*o_.suite, o_.window, bytes);
    row.iterations = Iterations(bytes, row.window);
    // Both directions at most (bibw); the acknowledgements are negligible.
    SetIterationBytes(uint64_t(bytes) * uint64_t(row.window) * 2);
    if (o_.check) row.wrong = CheckedExchange(bytes);
    NoteProgress();
    // Untimed warm-up: connection setup, registration caches, page faults of the receiver; a
    // backend's first size pays its own first-use costs on top (kFirstSizeWarmup). -w as given,
    // never cut to the timed count (it was, silently: -n 1 -w 20000000 ran one).
    row.warmup = o_.warmup;
    if (o_.warmup > 0 && warmed_.insert(&backend).second)
      row.warmup = std::max(o_.warmup, std::min(kFirstSizeWarmup, row.iterations));
    RunIterations(bytes, row.window, row.warmup);
    MPI_Barrier(MPI_COMM_WORLD);
    Clock::time_point start = Clock::now();
    RunIterations(bytes, row.window, row.iterations);
    double mine = std::chrono::duration<double>(Clock::now() - start).count();
    MPI_Allreduce(&mine, &row.seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    const double messages = double(row.iterations) * row.window;
    switch (*o_.suite) {
      case P2pSuite::kLatency: row.latency_us = row.seconds / (2.0 * row.iterations) * 1e6; break;
      case P2pSuite::kBibw: row.messages_per_s = 2 * messages / row.seconds; break;
      case P2pSuite::kBw:
      case P2pSuite::kMsgRate: row.messages_per_s = messages * (nranks_ / 2) / row.seconds; break;
    }
    if (o_.suite != P2pSuite::kLatency) row.bandwidth_MBps = row.messages_per_s * double(bytes) / 1e6;
    return row;
  }

 private:
  int Iterations(size_t bytes, int window) const {
    if (bytes <= kSmallMessageBytes) return o_.iters;
    const double per_iteration = double(bytes) * window;
    int budget = int(std::min(1e9, kBytesPerSize / per_iteration));
    return std::clamp(budget, std::min(kMinIterations, o_.iters), o_.iters);
  }

  void RunIterations(size_t bytes, int window, int iterations) {
    for (int it = 0; it < iterations; ++it) {
      switch (*o_.suite) {
        case P2pSuite::kLatency: PingPong(bytes); break;
        case P2pSuite::kBibw: BothWays(bytes, window); break;
        case P2pSuite::kBw:
        case P2pSuite::kMsgRate: OneWay(bytes, window); break;
      }
      NoteProgress();
    }
  }

  void PingPong(size_t bytes) {
    if (sender_) {
      backend_->Send(send_.data(), bytes, peer_);
      backend_->Recv(recv_.data(), bytes, peer_);
    } else {
      backend_->Recv(recv_.data(), bytes, peer_);
      backend_->Send(send_.data(), bytes, peer_);
    }
  }

  // OSU reuses one buffer for every message of a window; so do we (the data is not checked).
  void OneWay(size_t bytes, int window) {
    backend_->Begin();
    for (int w = 0; w < window; ++w) {
      if (sender_) backend_->PostSend(send_.data(), bytes, peer_);
      else backend_->PostRecv(recv_.data(), bytes, peer_);
    }
    backend_->Complete();
    if (sender_) backend_->Recv(recv_.data(), kAckBytes, peer_);
    else backend_->Send(send_.data(), kAckBytes, peer_);
  }

  void BothWays(size_t bytes, int window) {
    backend_->Begin();
    for (int w = 0; w < window; ++w) backend_->PostRecv(recv_.data(), bytes, peer_);
    for (int w = 0; w < window; ++w) backend_->PostSend(send_.data(), bytes, peer_);
    backend_->Complete();
  }

  // One message each way between the pair, every byte checked; wrong bytes summed over ranks.
  // The pattern goes in and the result comes out through host memory (copies when the buffers
  // are on the device).
  int64_t CheckedExchange(size_t bytes) {
    std::vector<std::byte>& host = checked_;  // max_bytes long, allocated with the buffers
    for (size_t i = 0; i < bytes; ++i) host[i] = std::byte(PatternByte(rank_, bytes, i));
    send_.Write(host.data(), bytes);
    recv_.Fill(std::byte{0xa5}, bytes);
    backend_->Begin();
    backend_->PostRecv(recv_.data(), bytes, peer_);
    backend_->PostSend(send_.data(), bytes, peer_);
    backend_->Complete();
    recv_.Read(host.data(), bytes);
    int64_t wrong = 0;
    for (size_t i = 0; i < bytes; ++i) wrong += host[i] != std::byte(PatternByte(peer_, bytes, i));
    int64_t total = 0;
    MPI_Allreduce(&wrong, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    return total;
  }

  const Options& o_;
  P2pBackend* backend_ = nullptr;
  std::set<const P2pBackend*> warmed_;  // backends past their first size
  int rank_ = 0, nranks_ = 2, peer_ = 1;
  bool sender_ = true;
  MessageBuffer send_, recv_;
  std::vector<std::byte> checked_;  // -c 1: one message in host memory, as sent and as received
};

}  // namespace

double P2pValue(const Options& options, const P2pRow& row) {
  return options.suite == P2pSuite::kLatency ? row.latency_us : row.bandwidth_MBps;
}

namespace {

// Round `chosen` of one size, carrying the wrong bytes of every round.
P2pRow WithEveryRoundsErrors(const std::vector<P2pRow>& rounds, size_t chosen) {
  bool checked = false;  // -c 1: every round checked its exchange
  int64_t wrong = 0;
  for (const P2pRow& r : rounds) {
    checked = checked || r.wrong >= 0;
    if (r.wrong > 0) wrong += r.wrong;
  }
  P2pRow row = rounds[chosen];
  row.wrong = checked ? wrong : -1;
  return row;
}

// The index of the median of `values` (the lower middle for an even count).
size_t MedianIndex(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  return order[(order.size() - 1) / 2];
}

}  // namespace

std::optional<P2pResults> RunP2pBenchmark(const Options& options, P2pBackend& backend, P2pBackend* versus,
                                          const std::function<void(const P2pResults&)>& on_row) {
  std::unique_ptr<P2pBench> made;
  if (!AllocatedOnEveryRank([&] { made = std::make_unique<P2pBench>(options); })) return std::nullopt;
  P2pBench& bench = *made;
  P2pResults results;
  for (size_t bytes : SizeSequence(options.min_bytes, options.max_bytes, options.factor)) {
    std::vector<P2pRow> mine, theirs;
    std::vector<double> values, ratios;  // per round: ours; ours / the baseline's (kNoRatio: none)
    for (int round = 0; round < options.rounds; ++round) {
      // Taking turns to go first, so that neither always runs in the other's wake.
      const bool versus_first = versus && round % 2 == 1;
      if (versus_first) theirs.push_back(bench.Measure(bytes, *versus));
      mine.push_back(bench.Measure(bytes, backend));
      if (versus && !versus_first) theirs.push_back(bench.Measure(bytes, *versus));
      values.push_back(P2pValue(options, mine.back()));
      // A round whose baseline measured nothing (0 bytes of bandwidth) has no ratio.
      if (versus) {
        const double base = P2pValue(options, theirs.back());
        ratios.push_back(base > 0 ? values.back() / base : kNoRatio);
      }
    }
    // Alone: the median round. With a baseline: the round of the median ratio, both backends'
    // values from it, so that a row's values and ratio agree (the median of each backend's values
    // beside the median ratio could disagree even in direction on a busy machine: 1.34 vs 5.23
    // MB/s with a ratio of 2.456; QA). Rounds without a ratio are chosen only if no round has one.
    size_t chosen = MedianIndex(values);
    if (versus) {
      std::vector<double> ranked;
      std::vector<size_t> round_of;
      for (size_t r = 0; r < ratios.size(); ++r)
        if (ratios[r] != kNoRatio) ranked.push_back(ratios[r]), round_of.push_back(r);
      if (!ranked.empty()) chosen = round_of[MedianIndex(ranked)];
    }
    results.rows.push_back(WithEveryRoundsErrors(mine, chosen));
    if (results.rows.back().wrong > 0) results.wrong_total += results.rows.back().wrong;
    if (versus) {
      results.versus_rows.push_back(WithEveryRoundsErrors(theirs, chosen));
      if (results.versus_rows.back().wrong > 0) results.wrong_total += results.versus_rows.back().wrong;
      results.ratios.push_back(ratios[chosen]);
    }
    on_row(results);
  }
  return results;
}

}  // namespace braid::perf
