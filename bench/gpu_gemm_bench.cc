// GemmCuda against cuBLAS, timed in the same process on the same inputs.
//   build/bin/gpu_gemm_bench [--calibration_out=FILE] [benchmark flags]
//
// Method: every case allocates several input sets (A, B, D, ...) whose total exceeds 3 x the
// H100's 50 MB L2 and rotates through them, so no launch finds its inputs in L2; inputs are
// N(0,1) values (never zeros). After 5 warm-up runs of each contender, 31 runs of each are
// timed with CUDA events, interleaved (ours, cuBLAS, ours, ...) so clock and thermal drift hit
// both alike; each reported number is OUR OWN MEDIAN of those 31 (Google Benchmark runs one
// iteration with that median as its manual time). TFLOP/s = 2 M N K / time.
// Layouts (gemm.h): forward "nt", data gradient "nn" (shape M x K x N of the forward), weight
// gradient "tn" (N x K x M). Fused cases: ours with kBiasGelu vs our plain GEMM, and vs the
// unfused baseline: cuBLAS GEMM (+ bias through cuBLASLt's CUBLASLT_EPILOGUE_BIAS when built with
// BRAID_BENCH_CUBLASLT; without it the baseline has no bias at all, which flatters it) followed
// by braid's GeluForwardCuda pass writing D from the saved pre-activation. The residual case:
// ours adding a residual in the epilogue (the general store path, not the check-free one) vs
// ours without it.
// After the runs: one "summary:" line per case; --calibration_out writes plan-sim's JSON.
// Without a CUDA device the program prints a note and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench/gemm_bench_baselines.h"
#include "braid/kernels/act.h"
#include "braid/kernels/gemm.h"
#include "braid/kernels/reduce.h"

namespace {

using braid::DataType;
using braid::kernels::GemmArgs;
using braid::kernels::GemmEpilogue;
using braid::kernels::GemmOperand;

constexpr int kWarmups = 5;
constexpr int kRuns = 31;
constexpr size_t kRotateBytes = 3 * size_t{50'000'000};  // 3 x the H100's L2
constexpr size_t kPoolElements = size_t{32} << 20;        // 64 MB of random 16-bit values

enum class Layout { kNT, kNN, kTN };
// What a case compares: our plain GEMM with cuBLAS's; our bias+GeLU epilogue with the unfused
// baseline; or our residual-add epilogue (the general store path) with our plain GEMM.
enum class Fusion { kNone, kBiasGelu, kResidual };
const char* FusionPrefix(Fusion f) {
  return f == Fusion::kNone ? "gemm/" : f == Fusion::kBiasGelu ? "gemm_bias_gelu/" : "gemm_residual/";
}
const char* LayoutName(Layout l) { return l == Layout::kNT ? "nt" : l == Layout::kNN ? "nn" : "tn"; }
const char* TypeName(DataType t) { return t == DataType::kBfloat16 ? "bf16" : "fp16"; }

struct Case {
  int64_t m, n, k;
  DataType type;
  Layout layout;
  Fusion fusion;
};

struct Row {
  Case c;
  double ours = 0, baseline = 0, fused_vs_plain = 0;
  std::string kernel, baseline_name;
};
std::vector<Row> g_rows;

// Device memory, released on scope exit.
struct DeviceBuf {
  void* p = nullptr;
  explicit DeviceBuf(size_t bytes) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) p = nullptr;
  }
  ~DeviceBuf() { cudaFree(p); }
  DeviceBuf(DeviceBuf&& o) noexcept : p(o.p) { o.p = nullptr; }
  DeviceBuf(const DeviceBuf&) = delete;
};

// Fills device buffers with N(0,1) values of `type`: a 64 MB device pool made once per type,
// copied device-to-device from random offsets.
bool FillRandom(void* dst, size_t elements, DataType type, std::mt19937_64& rng) {
  static void* pools[2] = {nullptr, nullptr};
  void*& pool = pools[type == DataType::kBfloat16 ? 0 : 1];
  if (pool == nullptr) {
    std::vector<uint16_t> host(kPoolElements);
    std::mt19937_64 gen(type == DataType::kBfloat16 ? 1 : 2);
    std::normal_distribution<float> normal;
    for (auto& v : host) {
      float x = normal(gen);
      if (x == 0.0f) x = 1.0f;
      v = type == DataType::kBfloat16 ? braid::kernels::FloatToBfloat16(x) : braid::kernels::FloatToHalf(x);
    }
    if (cudaMalloc(&pool, kPoolElements * 2) != cudaSuccess) return false;
    if (cudaMemcpy(pool, host.data(), kPoolElements * 2, cudaMemcpyHostToDevice) != cudaSuccess) return false;
  }
  for (size_t done = 0; done < elements;) {
    const size_t offset = rng() % (kPoolElements / 2);
    const size_t count = std::min(elements - done, kPoolElements - offset);
    if (cudaMemcpy(static_cast<char*>(dst) + done * 2, static_cast<char*>(pool) + offset * 2, count * 2,
                   cudaMemcpyDeviceToDevice) != cudaSuccess) {
      return false;
    }
    done += count;
  }
  return true;
}

// Enqueues one run on the benchmark stream using input set `set`; false on a launch error.
using Launch = std::function<bool(int set)>;

// Warm-up, then kRuns interleaved event-timed runs of each launch; medians in ms. Launch l of
// run r uses set (r * L + l) % sets, so consecutive launches never share inputs.
std::string TimeInterleaved(const std::vector<Launch>& launches, int sets, cudaStream_t stream,
                            std::vector<double>* median_ms) {
  const int count = int(launches.size());
  for (int w = 0; w < kWarmups; ++w)
    for (int l = 0; l < count; ++l)
      if (!launches[size_t(l)](w % sets)) return "warm-up launch " + std::to_string(l) + " failed";
  if (cudaStreamSynchronize(stream) != cudaSuccess) return "warm-up: " + std::string(cudaGetErrorString(cudaGetLastError()));
  std::vector<cudaEvent_t> events(size_t(2 * count * kRuns));
  for (auto& e : events) cudaEventCreate(&e);
  std::string error;
  for (int r = 0; r < kRuns && error.empty(); ++r) {
    for (int l = 0; l < count; ++l) {
      const size_t i = size_t(2 * (r * count + l));
      cudaEventRecord(events[i], stream);
      if (!launches[size_t(l)]((r * count + l) % sets)) error = "launch " + std::to_string(l) + " failed";
      cudaEventRecord(events[i + 1], stream);
    }
  }
  if (cudaStreamSynchronize(stream) != cudaSuccess) error = cudaGetErrorString(cudaGetLastError());
  median_ms->assign(size_t(count), 0.0);
  for (int l = 0; l < count && error.empty(); ++l) {
    std::vector<double> ms(kRuns);
    for (int r = 0; r < kRuns; ++r) {
      float t = 0;
      const size_t i = size_t(2 * (r * count + l));
      cudaEventElapsedTime(&t, events[i], events[i + 1]);
      ms[size_t(r)] = t;
    }
    std::nth_element(ms.begin(), ms.begin() + kRuns / 2, ms.end());
    (*median_ms)[size_t(l)] = ms[kRuns / 2];
  }
  for (auto& e : events) cudaEventDestroy(e);
  return error;
}

void RunCase(benchmark::State& state, const Case& c) {
  static cudaStream_t stream = [] {
    cudaStream_t s = nullptr;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    return s;
  }();
  // Never destroyed: tearing cuBLAS down during static destruction can race the CUDA runtime's.
  static auto& cublas = *new braid_bench::CublasBaseline;
  static const std::string cublas_error = cublas.Init(stream);
  if (!cublas_error.empty()) return state.SkipWithError(cublas_error.c_str());

  // Stored shapes and the argument templates (pointers filled per set).
  const bool a_t = c.layout == Layout::kTN, b_t = c.layout == Layout::kNT;
  const int64_t a_elems = c.m * c.k, b_elems = c.k * c.n, d_elems = c.m * c.n;
  GemmArgs args;
  args.m = c.m, args.n = c.n, args.k = c.k, args.input_type = c.type, args.output_type = c.type;
  args.op_a = a_t ? GemmOperand::kTransposed : GemmOperand::kAsIs;
  args.op_b = b_t ? GemmOperand::kTransposed : GemmOperand::kAsIs;
  args.lda = a_t ? c.m : c.k, args.ldb = b_t ? c.k : c.n, args.ldd = c.n;
  const braid_bench::RowMajorGemm g{c.m, c.n, c.k, c.type, a_t, b_t, args.lda, args.ldb, args.ldd};

  const bool fused = c.fusion != Fusion::kNone;  // needs a second D-sized buffer per set
  const size_t set_bytes = size_t(a_elems + b_elems + d_elems * (fused ? 2 : 1)) * 2;
  const int sets = int(std::clamp<size_t>((kRotateBytes + set_bytes - 1) / set_bytes, 2, 64));
  std::vector<DeviceBuf> a, b, d, pre;
  std::mt19937_64 rng(uint64_t(c.m * 31 + c.n * 17 + c.k));
  for (int s = 0; s < sets; ++s) {
    a.emplace_back(size_t(a_elems) * 2), b.emplace_back(size_t(b_elems) * 2), d.emplace_back(size_t(d_elems) * 2);
    if (fused) pre.emplace_back(size_t(d_elems) * 2);
    if (!a.back().p || !b.back().p || !d.back().p || (fused && !pre.back().p)) return state.SkipWithError("cudaMalloc");
    if (fused && !FillRandom(pre.back().p, size_t(d_elems), c.type, rng)) return state.SkipWithError("filling inputs");
    if (!FillRandom(a.back().p, size_t(a_elems), c.type, rng) || !FillRandom(b.back().p, size_t(b_elems), c.type, rng)) {
      return state.SkipWithError("filling inputs");
    }
  }
  DeviceBuf bias(size_t(c.n) * 2);
  if (!bias.p || !FillRandom(bias.p, size_t(c.n), c.type, rng)) return state.SkipWithError("bias");

  // save_pre: the pre-activation into pre[set]; residual: pre[set] added to D.
  auto ours = [&](GemmEpilogue epi, bool save_pre, bool residual = false) -> Launch {
    return [&, epi, save_pre, residual](int s) {
      GemmArgs x = args;
      x.a = a[size_t(s)].p, x.b = b[size_t(s)].p, x.d = d[size_t(s)].p, x.epilogue = epi;
      if (epi != GemmEpilogue::kNone) x.bias = bias.p;
      if (save_pre) x.pre_activation = pre[size_t(s)].p, x.ld_pre = c.n;
      if (residual) x.residual = pre[size_t(s)].p, x.ld_residual = c.n;
      return braid::kernels::GemmCuda(x, nullptr, 0, stream).ok();
    };
  };
  std::vector<Launch> launches = {ours(GemmEpilogue::kNone, false)};
  std::string baseline_name = "cublasGemmEx";
  if (c.fusion == Fusion::kNone) {
    launches.push_back([&](int s) { return cublas.Gemm(g, a[size_t(s)].p, b[size_t(s)].p, d[size_t(s)].p); });
  } else if (c.fusion == Fusion::kResidual) {
    baseline_name = "ours without the residual";
    launches.push_back(ours(GemmEpilogue::kNone, false, true));
  } else {
    launches.push_back(ours(GemmEpilogue::kBiasGelu, false));
    launches.push_back(ours(GemmEpilogue::kBiasGelu, true));
    // Unfused baseline: GEMM (+ bias) into the pre-activation, then GeLU into D.
    auto gelu = [&](int s) {
      return braid::kernels::GeluForwardCuda(pre[size_t(s)].p, d[size_t(s)].p, d_elems, c.type, stream).ok();
    };
#if defined(BRAID_BENCH_CUBLASLT)
    if (std::string e = cublas.PlanLt(g, CUBLASLT_EPILOGUE_BIAS, bias.p); !e.empty()) return state.SkipWithError(e.c_str());
    baseline_name = "cublasLt(bias)+GeluForwardCuda";
    launches.push_back([&, gelu](int s) { return cublas.RunLt(a[size_t(s)].p, b[size_t(s)].p, pre[size_t(s)].p) && gelu(s); });
#else
    baseline_name = "cublasGemmEx(no bias)+GeluForwardCuda";
    launches.push_back([&, gelu](int s) { return cublas.Gemm(g, a[size_t(s)].p, b[size_t(s)].p, pre[size_t(s)].p) && gelu(s); });
#endif
  }

  GemmArgs named = args;  // GemmCudaKernelName looks at alignment: use real pointers
  named.a = a[0].p, named.b = b[0].p, named.d = d[0].p;
  const std::string kernel = braid::kernels::GemmCudaKernelName(named);
  std::vector<double> ms;
  for (auto _ : state) {
    if (std::string e = TimeInterleaved(launches, sets, stream, &ms); !e.empty()) return state.SkipWithError(e.c_str());
    state.SetIterationTime(ms[0] * 1e-3);
  }
  const double flop = 2.0 * double(c.m) * double(c.n) * double(c.k);
  auto tflops = [&](double t_ms) { return t_ms > 0 ? flop / (t_ms * 1e-3) / 1e12 : 0.0; };
  Row row{c, 0, 0, 0, kernel, baseline_name};
  state.SetLabel(kernel);
  if (c.fusion == Fusion::kNone) {
    row.ours = tflops(ms[0]), row.baseline = tflops(ms[1]);
    state.counters["tflops_ours"] = row.ours;
    state.counters["tflops_cublas"] = row.baseline;
  } else if (c.fusion == Fusion::kResidual) {
    row.ours = tflops(ms[1]), row.baseline = tflops(ms[0]), row.fused_vs_plain = ms[0] / ms[1];
    state.counters["tflops_fused_pre"] = row.ours;  // the names tools/gpu_check prints
    state.counters["tflops_baseline"] = row.baseline;
    state.counters["fused_vs_plain"] = row.fused_vs_plain;
  } else {
    row.ours = tflops(ms[2]), row.baseline = tflops(ms[3]), row.fused_vs_plain = ms[0] / ms[1];
    state.counters["tflops_plain"] = tflops(ms[0]);
    state.counters["tflops_fused"] = tflops(ms[1]);
    state.counters["tflops_fused_pre"] = row.ours;
    state.counters["tflops_baseline"] = row.baseline;
    state.counters["fused_vs_plain"] = row.fused_vs_plain;
  }
  state.counters["ratio"] = row.baseline > 0 ? row.ours / row.baseline : 0.0;
  g_rows.push_back(row);
}

std::vector<Case> Suite() {
  const int64_t squares[][3] = {{4096, 4096, 4096}, {8192, 8192, 8192}, {2048, 2048, 2048}, {16384, 8192, 8192},
                                {4224, 4224, 4224}};
  const int64_t transformer[][3] = {{8192, 12288, 4096}, {8192, 4096, 4096}, {8192, 16384, 4096}, {8192, 4096, 16384}};
  std::vector<Case> cases;
  for (DataType t : {DataType::kBfloat16, DataType::kFloat16}) {
    for (const auto& s : squares) cases.push_back({s[0], s[1], s[2], t, Layout::kNT, Fusion::kNone});
    for (const auto& s : transformer) {
      cases.push_back({s[0], s[1], s[2], t, Layout::kNT, Fusion::kNone});  // Y  = X W^T
      cases.push_back({s[0], s[2], s[1], t, Layout::kNN, Fusion::kNone});  // dX = dY W
      cases.push_back({s[1], s[2], s[0], t, Layout::kTN, Fusion::kNone});  // dW = dY^T X
    }
  }
  for (const auto& s : {transformer[2], transformer[0]}) {
    cases.push_back({s[0], s[1], s[2], DataType::kBfloat16, Layout::kNT, Fusion::kBiasGelu});
  }
  cases.push_back({8192, 16384, 4096, DataType::kFloat16, Layout::kNT, Fusion::kBiasGelu});
  // The attention / FC2 output projection with the residual added in the epilogue.
  cases.push_back({8192, 4096, 4096, DataType::kBfloat16, Layout::kNT, Fusion::kResidual});
  // What a tile costs beyond its main loop: at K = 64 a tile is one k-block, so the time is the
  // per-tile fixed cost x 16 waves (2048 tiles of 128 x 256 on 132 SMs). Session 18 fitted
  // ~125 us per tile from the K-suite; these two rows measure it directly, against cuBLAS.
  for (int64_t k : {64, 512}) cases.push_back({8192, 8192, k, DataType::kBfloat16, Layout::kNT, Fusion::kNone});
  return cases;
}

std::string ShapeName(const Case& c) { return std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k); }

void PrintSummary() {
  std::printf("\nsummary: %-17s %-5s %-14s %8s %8s %6s  %s\n", "shape(MxNxK)", "dtype", "layout", "ours", "cuBLAS", "ratio",
              "(TFLOP/s, median of 31; fused rows: ours with pre-activation vs the unfused baseline)");
  for (const Row& r : g_rows) {
    const std::string layout = std::string(LayoutName(r.c.layout)) +
                               (r.c.fusion == Fusion::kBiasGelu ? "+bias_gelu" : r.c.fusion == Fusion::kResidual ? "+residual" : "");
    std::printf("summary: %-17s %-5s %-14s %8.1f %8.1f %6.3f", ShapeName(r.c).c_str(), TypeName(r.c.type), layout.c_str(),
                r.ours, r.baseline, r.baseline > 0 ? r.ours / r.baseline : 0.0);
    if (r.c.fusion != Fusion::kNone) std::printf("  fused/plain=%.3f baseline=%s", r.fused_vs_plain, r.baseline_name.c_str());
    std::printf("  [%s]\n", r.kernel.c_str());
  }
}

bool WriteCalibration(const std::string& path) {
  int device = 0;
  cudaDeviceProp prop{};
  cudaGetDevice(&device);
  cudaGetDeviceProperties(&prop, device);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  nlohmann::json out = {{"device", prop.name}, {"sms", prop.multiProcessorCount}, {"date", date}};
  // plan-sim's LoadGemmCalibration reads "gemm": [{m, n, k, tflops}] and knows these other fields:
  // "tflops" is ours, the throughput plan-sim should assume for braid's kernels.
  out["gemm"] = nlohmann::json::array();
  for (const Row& r : g_rows) {
    if (r.c.fusion != Fusion::kNone) continue;
    out["gemm"].push_back({{"m", r.c.m}, {"n", r.c.n}, {"k", r.c.k}, {"tflops", r.ours}, {"input", TypeName(r.c.type)},
                              {"layout", LayoutName(r.c.layout)}, {"tflops_ours", r.ours}, {"tflops_cublas", r.baseline}});
  }
  std::ofstream file(path);
  file << out.dump(2) << "\n";
  return bool(file);
}

}  // namespace

int main(int argc, char** argv) {
  std::string calibration_out;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {  // take --calibration_out=FILE out before benchmark sees it
    if (std::strncmp(argv[i], "--calibration_out=", 18) == 0) {
      calibration_out = argv[i] + 18;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (const char* skip = std::getenv("BRAID_GEMM_SKIP_EPILOGUE"); skip && std::string(skip) == "1") {
    std::printf("note: BRAID_GEMM_SKIP_EPILOGUE=1: the Hopper kernel skips its epilogue (D unwritten), "
                "so \"ours\" is its main loop alone\n");
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("gpu_gemm_bench: no CUDA device, nothing to measure\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const Case& c : Suite()) {
    const std::string name = std::string(FusionPrefix(c.fusion)) + TypeName(c.type) + "/" +
                             LayoutName(c.layout) + "/" + ShapeName(c);
    benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& state) { RunCase(state, c); })
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintSummary();
  if (!calibration_out.empty()) {
    if (!WriteCalibration(calibration_out)) {
      std::fprintf(stderr, "gpu_gemm_bench: cannot write %s\n", calibration_out.c_str());
      return 1;
    }
    std::printf("calibration written to %s\n", calibration_out.c_str());
  }
  return 0;
}
