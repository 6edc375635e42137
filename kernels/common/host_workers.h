// How the CPU references split work across threads. One rule for all of them: a helper thread
// that cannot be started (no threads or no memory left) never fails the call or ends the process
// (a std::thread left joinable would); the calling thread does that worker's share instead, with
// the same worker index and range, so results do not depend on how many threads started.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>

#include "braid/status.h"

namespace braid::kernels {

// At most this many workers per call (the helper threads' handles live on the stack).
inline constexpr int kMaxHostWorkers = 256;

// Calls fn(worker, begin, end) for each worker in [0, workers): contiguous ranges that cover
// [0, count) in order, each a multiple of `align` elements long except the last (some may be
// empty). Worker 0 runs on the calling thread, the others on helper threads; when a helper cannot
// be started, the calling thread runs that worker and every later one itself, after its own.
// fn must not throw. Allocates nothing itself; starting a helper allocates its std::thread state
// (a failure there is the case above).
template <typename Fn>
void ForEachWorkerRange(int64_t count, int workers, int64_t align, const Fn& fn) {
  workers = std::clamp(workers, 1, kMaxHostWorkers);
  const int64_t per_worker = (count + workers - 1) / workers;
  const int64_t per = (per_worker + align - 1) / align * align;
  auto begin_of = [&](int w) { return std::min(count, int64_t(w) * per); };
  auto end_of = [&](int w) { return w + 1 == workers ? count : std::min(count, begin_of(w) + per); };
  if (workers == 1) {
    fn(0, int64_t{0}, count);
    return;
  }
  std::array<std::thread, kMaxHostWorkers> helpers;
  int started = 1;  // workers 1 .. started-1 run on helpers
  for (; started < workers; ++started) {
    const int64_t begin = begin_of(started), end = end_of(started);
    try {
      helpers[size_t(started)] = std::thread([&fn, w = started, begin, end] { fn(w, begin, end); });
    } catch (const std::exception&) {  // std::system_error (no thread), std::bad_alloc
      break;
    }
  }
  fn(0, begin_of(0), end_of(0));
  for (int w = started; w < workers; ++w) fn(w, begin_of(w), end_of(w));
  for (int w = 1; w < started; ++w) helpers[size_t(w)].join();
}

// Calls fn(worker) once for each worker in [0, workers), as above (for work handed out
// dynamically, e.g. through an atomic counter).
template <typename Fn>
void ForEachWorker(int workers, const Fn& fn) {
  ForEachWorkerRange(workers, workers, 1, [&fn](int worker, int64_t, int64_t) { fn(worker); });
}

// The worker count for a request of `threads` (0 or less: one per hardware thread), at most one
// per `min_items_per_worker` of `items` and at least 1.
inline int HostWorkerCount(int threads, int64_t items, int64_t min_items_per_worker) {
  const int64_t asked = threads > 0 ? threads : int64_t(std::max(1u, std::thread::hardware_concurrency()));
  return int(std::clamp<int64_t>(items / std::max<int64_t>(1, min_items_per_worker), 1,
                                 std::min<int64_t>(asked, kMaxHostWorkers)));
}

// The CPU references' `threads` argument: 0 for one per hardware thread, or a count.
inline Status CheckHostThreads(const char* function, int threads) {
  if (threads >= 0) return Status::Ok();
  return Status::InvalidArgument(std::string(function) + ": threads = " + std::to_string(threads) +
                                 " is negative (allowed: 0 for one per hardware thread, or >= 1)");
}

}  // namespace braid::kernels
