// Timing GPU work with CUDA events, shared by the GPU benchmarks: one pair of events, reused.
#pragma once

#include <cuda_runtime.h>

namespace braid::bench {

class EventTimer {
 public:
  explicit EventTimer(cudaStream_t stream = nullptr) : stream_(stream) {
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Seconds between events recorded on the stream before and after `launch()` (which enqueues
  // work on that stream); waits for the work to finish.
  template <typename Launch>
  double Seconds(Launch&& launch) {
    cudaEventRecord(start_, stream_);
    launch();
    cudaEventRecord(stop_, stream_);
    cudaEventSynchronize(stop_);
    float ms = 0;
    cudaEventElapsedTime(&ms, start_, stop_);
    return ms * 1e-3;
  }

 private:
  cudaStream_t stream_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace braid::bench
