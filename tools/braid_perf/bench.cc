#include "bench.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "buffer.h"
#include "data.h"
#include "watchdog.h"

namespace braid::perf {
namespace {

class Bench {
 public:
  Bench(const Options& options, Backend& backend)
      : options_(options), backend_(backend), elem_(DataTypeSize(options.type)) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
    pattern_ = std::make_unique<DataPattern>(options.collective, options.type, options.op, nranks_,
                                             options.root);
    // The in-place buffer (recv_) must hold max(send, recv) too, so both get the largest shape.
    Shape largest = ShapeFor(options.collective, options.max_bytes, elem_, nranks_);
    send_ = AllocateBuffer(largest.bytes);
    recv_ = AllocateBuffer(largest.bytes);
  }

  Row Measure(size_t requested_bytes) {
    shape_ = ShapeFor(options_.collective, requested_bytes, elem_, nranks_);
    Row row;
    row.bytes = shape_.bytes;
    row.count = shape_.count;
    row.out_of_place = MeasureVariant(false);
    row.in_place = MeasureVariant(true);
    return row;
  }

 private:
  CallArgs Args(bool in_place) const {
    CallArgs a;
    a.collective = options_.collective;
    a.count = shape_.count;
    a.type = options_.type;
    a.op = options_.op;
    a.root = options_.root;
    a.in_place = in_place;
    if (!in_place) {
      a.send = send_.get();
      a.recv = recv_.get();
      return a;
    }
    std::byte* base = recv_.get();
    const size_t block = shape_.count * elem_ * size_t(rank_);
    a.send = base;
    a.recv = base;
    if (a.collective == Collective::kReduceScatter) a.recv = base + block;
    if (a.collective == Collective::kAllGather) a.send = base + block;
    return a;
  }

  // Poisons the output, writes this rank's input and returns where the output will be.
  std::byte* Prepare(const CallArgs& a) {
    auto* send = static_cast<std::byte*>(const_cast<void*>(a.send));
    if (!a.in_place) {
      pattern_->Poison(a.recv, shape_.recv_count);
      pattern_->FillInput(send, rank_, 0, shape_.send_count);
      return static_cast<std::byte*>(a.recv);
    }
    std::byte* base = recv_.get();
    pattern_->Poison(base, std::max(shape_.send_count, shape_.recv_count));
    pattern_->FillInput(send, rank_, 0, shape_.send_count);
    // Every in-place array starts at the buffer start (reduce-scatter's `send` is that start).
    return base + backend_.InPlaceOutputOffset(a.collective, rank_, shape_.count) * elem_;
  }

  int64_t CheckedRun(const CallArgs& a) {
    std::byte* output = Prepare(a);
    backend_.Run(a);
    int64_t wrong = 0;
    const bool has_output = !(a.collective == Collective::kReduce && rank_ != a.root);
    if (has_output) wrong = pattern_->CountWrong(output, rank_, 0, shape_.recv_count, shape_.count);
    int64_t total = 0;
    MPI_Allreduce(&wrong, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    return total;
  }

  Measurement MeasureVariant(bool in_place) {
    Measurement m;
    if (in_place && !backend_.SupportsInPlace(options_.collective)) return m;
    const CallArgs a = Args(in_place);
    // Every collective here moves at most twice its row's bytes in and out of a rank per call.
    SetIterationBytes(uint64_t(shape_.bytes) * 2);
    if (options_.check) {
      m.wrong = CheckedRun(a);
    } else {
      Prepare(a);  // sane values (no NaN) for the timed runs
    }
    NoteProgress();
    int warmup = options_.warmup;
    if (warmup > 0 && !warmed_) warmup = std::max(warmup, std::min(kFirstSizeWarmup, options_.iters));
    warmed_ = true;
    for (int i = 0; i < warmup; ++i) {
      backend_.Run(a);
      NoteProgress();
    }
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < options_.iters; ++i) {
      backend_.Run(a);
      NoteProgress();
    }
    std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
    double local_us = elapsed.count() / options_.iters;
    MPI_Allreduce(&local_us, &m.time_us, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    m.valid = true;
    m.algbw = m.time_us > 0 ? double(shape_.bytes) / 1e9 / (m.time_us * 1e-6) : 0;
    m.busbw = m.algbw * BusBwFactor(options_.collective, nranks_);
    return m;
  }

  const Options& options_;
  Backend& backend_;
  const size_t elem_;
  int rank_ = 0;
  int nranks_ = 1;
  bool warmed_ = false;  // the run's first variant ran its longer warm-up (kFirstSizeWarmup)
  std::unique_ptr<DataPattern> pattern_;
  Buffer send_;
  Buffer recv_;
  Shape shape_;
};

}  // namespace

std::vector<size_t> SizeSequence(size_t min_bytes, size_t max_bytes, size_t factor) {
  std::vector<size_t> sizes;
  for (size_t size = min_bytes; size <= max_bytes;) {
    sizes.push_back(size);
    if (size == 0) {
      size = 1;
    } else if (size > max_bytes / factor) {
      break;  // the next size would pass max (or overflow)
    } else {
      size *= factor;
    }
  }
  return sizes;
}

std::optional<Results> RunBenchmark(const Options& options, Backend& backend,
                                    const std::function<void(const Row&)>& on_row) {
  std::unique_ptr<Bench> made;
  if (!AllocatedOnEveryRank([&] { made = std::make_unique<Bench>(options, backend); })) return std::nullopt;
  Bench& bench = *made;
  Results results;
  double busbw_sum = 0;
  int busbw_count = 0;
  int nranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  std::optional<size_t> last_count;
  for (size_t size : SizeSequence(options.min_bytes, options.max_bytes, options.factor)) {
    // Sizes that round down to the same call (-b 1 -e 7 of float: 1 and 2 B are both count 0)
    // would measure it twice: one row per distinct call.
    const size_t count = ShapeFor(options.collective, size, DataTypeSize(options.type), nranks).count;
    if (last_count == count) continue;
    last_count = count;
    Row row = bench.Measure(size);
    for (const Measurement* m : {&row.out_of_place, &row.in_place}) {
      if (!m->valid) continue;
      busbw_sum += m->busbw;
      ++busbw_count;
      if (m->wrong > 0) results.wrong_total += m->wrong;
    }
    on_row(row);
    results.rows.push_back(row);
  }
  results.avg_busbw = busbw_count ? busbw_sum / busbw_count : 0;
  return results;
}

}  // namespace braid::perf
