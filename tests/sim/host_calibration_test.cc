// Cluster files with a "calibration" block (what `braid-perf calibrate` writes): the contract's
// example loads, and every malformed field is named with its file and allowed values.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sim/cluster/cluster.h"
#include "tests/sim/test_support.h"

namespace braid::sim {
namespace {

// The example of the contract (plus braid-perf's diagnostic "fit_max_relative_error");
// `calibration_extra` is spliced into the calibration block, `node` replaces the node object,
// `runtime` and `shm` (the shm class's numbers) replace theirs.
std::string ExampleFile(const std::string& calibration_extra = "",
                        const std::string& node = R"({"gpus": 2, "nics": 1})",
                        const std::string& runtime = "host",
                        const std::string& shm = R"("alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6)") {
  return R"({
  "name": "calibrated myhost",
  "nodes": 1,
  "gpu": {"name": "host rank [cpu]", "peak_tflops": 0.5, "hbm_GBps": 6.1, "memory_GiB": 23.4,
          "memory_efficiency": 1.0},
  "node": )" + node + R"(,
  "calibration": {
    "tool": "braid-perf calibrate", "date": "2026-11-23T10:00:00Z", "host": "myhost",
    "command": "braid-perf calibrate --out c.json",
    "runtime": ")" + runtime + R"(",
    "ranks_per_node": 2,
    "reduce_GBps": 9.5,
    "copy_GBps": 6.1,
    )" + calibration_extra + R"(
    "links": {
      "shm": {)" + shm + R"(,
              "small": {"max_bytes": 8192, "alpha_us": 0.45, "GBps": 1.9}},
      "tcp": {"alpha_us": 12.0, "GBps": 1.2, "bidir_GBps": 0.9,
              "small": {"max_bytes": 65536, "alpha_us": 9.0, "GBps": 0.8},
              "fit_max_relative_error": 0.08}
    },
    "measured": {"shm": [[8, 0.5], [1048576, 240.0]]}
  }
})";
}

const char* const kClasses = R"("intra_node": "shm", "inter_node": "tcp",)";

class HostCalibrationFile : public TempDirTest {};

TEST_F(HostCalibrationFile, ContractExampleLoads) {
  const std::string path = Write("calibrated.json", ExampleFile(kClasses));
  ClusterSpec c = LoadCluster(path);
  ASSERT_TRUE(c.host.has_value());
  const HostCalibration& h = *c.host;
  EXPECT_EQ(c.name, "calibrated myhost");
  EXPECT_EQ(c.node.gpus, 2);
  EXPECT_EQ(h.ranks_per_node, 2);
  EXPECT_EQ(h.host, "myhost");
  EXPECT_EQ(h.reduce_GBps, 9.5);
  EXPECT_EQ(h.copy_GBps, 6.1);
  EXPECT_EQ(h.Intra().GBps, 4.4);
  EXPECT_EQ(h.Intra().bidir_GBps, 2.6);
  EXPECT_EQ(h.Intra().small_max_bytes, 8192);
  ASSERT_NE(h.Inter(), nullptr);
  EXPECT_EQ(h.Inter()->alpha_us, 12.0);
  // One message's time on an idle link, both regimes (seconds).
  EXPECT_DOUBLE_EQ(h.Intra().MessageSeconds(8192), 0.45e-6 + 8192 / 1.9e9);
  EXPECT_DOUBLE_EQ(h.Intra().MessageSeconds(1 << 20), 0.9e-6 + (1 << 20) / 4.4e9);
  // `plan-sim topo` prints the calibrated classes.
  const std::string summary = ClusterSummary(c);
  for (const char* part : {"host runtime", "myhost", "intra-node shm", "inter-node tcp", "4.40 GB/s",
                           "reduce 9.50 GB/s"}) {
    EXPECT_NE(summary.find(part), std::string::npos) << part << " not in:\n" << summary;
  }
  SizeForGpus(&c, 4, "--ranks");  // two nodes over tcp
  EXPECT_EQ(c.nodes, 2);
}

// braid-perf calibrate's "memory" points and call overhead: reduce and copy follow the points,
// link rates stay as measured up to the streaming working set and then lose half of memcpy's
// extra seconds per byte.
const char* const kMemory = R"("call_overhead_us": 0.25, "reduce_step_us": 0.05,
    "memory": [{"bytes": 262144, "reduce_GBps": 20, "copy_GBps": 25},
               {"bytes": 16777216, "reduce_GBps": 8, "copy_GBps": 10}],)";

// The example with kMemory and both classes, the shm class's numbers followed by `points` (its
// point lists).
std::string WithShmPoints(const std::string& points) {
  return ExampleFile(std::string(kMemory) + kClasses, R"({"gpus": 2})", "host",
                     std::string(R"("alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6, )") + points);
}

TEST_F(HostCalibrationFile, MemoryPointsSetTheRatesAtAWorkingSet) {
  const ClusterSpec c = LoadCluster(Write("memory.json", ExampleFile(std::string(kMemory) + kClasses)));
  const HostCalibration& h = *c.host;
  EXPECT_EQ(h.call_overhead_us, 0.25);
  EXPECT_EQ(h.reduce_step_us, 0.05);
  ASSERT_EQ(h.memory.size(), 2u);
  const HostCalibration cached = h.AtWorkingSet(64 << 10);
  EXPECT_EQ(cached.reduce_GBps, 20);  // clamped below the first point
  EXPECT_EQ(cached.Intra().GBps, 4.4);
  const HostCalibration middle = h.AtWorkingSet(2 << 20);  // log2 midway between the points
  EXPECT_NEAR(middle.reduce_GBps, 14, 1e-9);
  EXPECT_NEAR(middle.copy_GBps, 17.5, 1e-9);
  const HostCalibration memory = h.AtWorkingSet(1 << 30);
  EXPECT_EQ(memory.reduce_GBps, 8);
  EXPECT_EQ(memory.copy_GBps, 10);
  const double extra = (1 / 10.0 - 1 / 25.0) / 2;  // seconds per GB
  EXPECT_NEAR(memory.Intra().GBps, 1 / (1 / 4.4 + extra), 1e-9);
  EXPECT_NEAR(memory.Intra().bidir_GBps, 1 / (1 / 2.6 + extra), 1e-9);
  EXPECT_NEAR(memory.Inter()->GBps, 1 / (1 / 1.2 + extra), 1e-9);
  EXPECT_NE(ClusterSummary(c).find("0.25 us per collective call, 0.05 us per reduction step"), std::string::npos)
      << ClusterSummary(c);
}

TEST_F(HostCalibrationFile, MemoryPointsMustAscend) {
  const std::string path = Write("unordered.json", ExampleFile(std::string(R"("memory": [
      {"bytes": 1048576, "reduce_GBps": 20, "copy_GBps": 25},
      {"bytes": 65536, "reduce_GBps": 8, "copy_GBps": 10}],)") + kClasses));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(path); },
                                         {path, "calibration.memory[1]", "\"bytes\"", "65536", "ascend"}));
}

TEST_F(HostCalibrationFile, MemoryMustBeANonEmptyArray) {
  const std::string path = Write("empty.json", ExampleFile(std::string(R"("memory": [],)") + kClasses));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(path); }, {path, "\"memory\"", "non-empty array"}));
}

TEST_F(HostCalibrationFile, PureLatencySmallRegimeLoads) {
  // braid-perf writes 1e9 GB/s for a regime whose time does not grow with size.
  std::string text = ExampleFile(kClasses);
  text.replace(text.find(R"("GBps": 1.9)"), 11, R"("GBps": 1e9)");
  const ClusterSpec c = LoadCluster(Write("flat.json", text));
  EXPECT_NEAR(c.host->Intra().MessageSeconds(4096), 0.45e-6, 1e-12);
}

// Measured exchange times set the fixed costs up to the largest size measured: linear between
// points, the first point's below it, the last point's beyond it; bytes at bidir_GBps excluded.
const char* const kMeasuredShm = R"("alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6,
              "exchange_us": [[8, 0.5], [128, 1.4], [256, 1.1], [65536, 90.0]])";

TEST_F(HostCalibrationFile, ExchangePointsSetTheFixedCost) {
  const ClusterSpec c = LoadCluster(Write("points.json", ExampleFile(kClasses, R"({"gpus": 2})", "host", kMeasuredShm)));
  const HostLinkClass& shm = c.host->Intra();
  ASSERT_EQ(shm.exchange_points.size(), 4u);
  const auto fixed_us = [](double bytes, double us) { return us * 1e-6 - bytes / 2.6e9; };
  EXPECT_NEAR(shm.FixedSeconds(1), fixed_us(8, 0.5), 1e-15);
  EXPECT_NEAR(shm.FixedSeconds(8), fixed_us(8, 0.5), 1e-15);
  EXPECT_NEAR(shm.FixedSeconds(68), fixed_us(68, 0.95), 1e-15);  // halfway from 8 to 128 B
  EXPECT_NEAR(shm.FixedSeconds(256), fixed_us(256, 1.1), 1e-15);  // a protocol step: not monotonic
  EXPECT_NEAR(shm.FixedSeconds(1 << 20), fixed_us(65536, 90.0), 1e-15);
  // The lone-message fit is still the fit.
  EXPECT_DOUBLE_EQ(shm.MessageSeconds(1 << 20), 0.9e-6 + (1 << 20) / 4.4e9);
  // The tcp class has no points: its fit's fixed part.
  EXPECT_NEAR(c.host->Inter()->FixedSeconds(8192), 9.0e-6 + 8192 / 0.8e9 - 8192 / 1.2e9, 1e-15);
  EXPECT_NE(ClusterSummary(c).find("exchanges measured at 4 sizes"), std::string::npos) << ClusterSummary(c);
}

// A class's own streaming rates by working set slow it down beyond 256 KiB where they are below
// its bidir_GBps (log-linear between points, clamped at the ends); a class without them still
// follows memcpy's rise.
TEST_F(HostCalibrationFile, StreamingRatesSlowTheirClassAtAWorkingSet) {
  const char* const shm = R"("streaming_GBps": [[1048576, 3.0], [4194304, 2.0], [67108864, 1.6]])";
  const ClusterSpec c = LoadCluster(Write("rates.json", WithShmPoints(shm)));
  const HostCalibration& h = *c.host;
  ASSERT_EQ(h.Intra().streaming_rates.size(), 3u);
  EXPECT_EQ(h.AtWorkingSet(256 << 10).Intra().bidir_GBps, 2.6);  // the reference: unchanged
  EXPECT_EQ(h.AtWorkingSet(1 << 20).Intra().bidir_GBps, 2.6);    // streamed faster than bidir_GBps
  const auto slowed = [](double GBps, double streaming_GBps) { return 1 / (1 / GBps + 1 / streaming_GBps - 1 / 2.6); };
  const HostCalibration at_4m = h.AtWorkingSet(4 << 20);
  EXPECT_NEAR(at_4m.Intra().bidir_GBps, 2.0, 1e-9);
  EXPECT_NEAR(at_4m.Intra().GBps, slowed(4.4, 2.0), 1e-9);
  EXPECT_NEAR(h.AtWorkingSet(16 << 20).Intra().bidir_GBps, 1.8, 1e-9);  // log2 midway
  EXPECT_NEAR(h.AtWorkingSet(1 << 30).Intra().bidir_GBps, 1.6, 1e-9);   // clamped
  // tcp has no streaming rates: half of memcpy's rise (kMemory: 25 GB/s at 256 KiB, 10 at 16 MiB).
  const HostCalibration at_1g = h.AtWorkingSet(1 << 30);
  EXPECT_NEAR(at_1g.Inter()->GBps, 1 / (1 / 1.2 + (1 / 10.0 - 1 / 25.0) / 2), 1e-9);
  EXPECT_NE(ClusterSummary(c).find("streaming GB/s by working set: 1024 KiB 3.00; 4096 KiB 2.00; 65536 KiB 1.60"),
            std::string::npos)
      << ClusterSummary(c);
  // Written back as read.
  const nlohmann::json j = ClusterToJson(c);
  EXPECT_EQ(j["calibration"]["links"]["shm"]["streaming_GBps"],
            nlohmann::json::parse("[[1048576, 3.0], [4194304, 2.0], [67108864, 1.6]]"));
}

// Streaming reduce-scatter rates set the core's rate at a working set: a step of x bytes each way
// plus its reduction at the measured rate is the core's 2x bytes of copies at core_GBps and the
// reduction at reduce_GBps, so core_GBps = 2 / (1 / rate - 1 / reduce_GBps), at least 2 x
// bidir_GBps and at most the memcpy rule's 2 x copy_GBps. Without the rates it stays 0; a rate
// above the reduction's own (a disturbed measurement) gives the memcpy rule.
TEST_F(HostCalibrationFile, StreamingReduceRatesSetTheCoreRate) {
  const char* const shm = R"("streaming_reduce_GBps": [[1048576, 1.6], [16777216, 4.0]])";
  const ClusterSpec c = LoadCluster(Write("core.json", WithShmPoints(shm)));
  const HostCalibration& h = *c.host;
  ASSERT_EQ(h.Intra().streaming_reduce_rates.size(), 2u);
  EXPECT_EQ(h.core_GBps, 0);  // only AtWorkingSet sets it
  // 256 KiB (the first point's rate, clamped): 2 / (1 / 1.6 - 1 / 20) = 3.48, below 2 x 2.6.
  EXPECT_NEAR(h.AtWorkingSet(256 << 10).core_GBps, 5.2, 1e-9);
  // 16 MiB: 2 / (1 / 4 - 1 / 8) = 16, above 2 x bidir_GBps there (slowed by memcpy's rise).
  const HostCalibration at_16m = h.AtWorkingSet(16 << 20);
  EXPECT_NEAR(at_16m.core_GBps, 16, 1e-9);
  EXPECT_LT(2 * at_16m.Intra().bidir_GBps, 16);
  EXPECT_NE(ClusterSummary(c).find("streaming reduce-scatter GB/s by working set: 1024 KiB 1.60; 16384 KiB 4.00"),
            std::string::npos)
      << ClusterSummary(c);
  const nlohmann::json j = ClusterToJson(c);
  EXPECT_EQ(j["calibration"]["links"]["shm"]["streaming_reduce_GBps"],
            nlohmann::json::parse("[[1048576, 1.6], [16777216, 4.0]]"));

  const ClusterSpec without = LoadCluster(Write("no-core.json", ExampleFile(std::string(kMemory) + kClasses, R"({"gpus": 2})")));
  EXPECT_EQ(without.host->AtWorkingSet(16 << 20).core_GBps, 0);
  const char* const faster = R"("streaming_reduce_GBps": [[1048576, 30]])";
  const ClusterSpec disturbed = LoadCluster(Write("fast-core.json", WithShmPoints(faster)));
  EXPECT_EQ(disturbed.host->AtWorkingSet(256 << 10).core_GBps, 50);  // faster than its reduction (20 GB/s): 2 x 25
  // Just below the reduction's rate the formula's pole is capped by the same rule.
  const ClusterSpec near = LoadCluster(Write("near-core.json", WithShmPoints(R"("streaming_reduce_GBps": [[1048576, 19.9]])")));
  EXPECT_EQ(near.host->AtWorkingSet(256 << 10).core_GBps, 50);
}

// Between the reference working set (256 KiB, where a class streams at bidir_GBps) and its first
// measured point the rate is interpolated from bidir_GBps, not clamped to the first point: one
// byte past 256 KiB is not yet slowed by the 1 MiB point's rate.
TEST_F(HostCalibrationFile, StreamingRatesRiseFromTheReferenceToTheFirstPoint) {
  const char* const shm = R"("streaming_GBps": [[1048576, 2.0], [4194304, 1.5]])";
  const ClusterSpec c = LoadCluster(Write("rise.json", WithShmPoints(shm)));
  const HostCalibration& h = *c.host;
  EXPECT_NEAR(h.AtWorkingSet((256 << 10) + 1).Intra().bidir_GBps, 2.6, 1e-5);
  EXPECT_NEAR(h.AtWorkingSet(512 << 10).Intra().bidir_GBps, 2.3, 1e-9);  // log2 midway from 2.6 to 2.0
  EXPECT_NEAR(h.AtWorkingSet(1 << 20).Intra().bidir_GBps, 2.0, 1e-9);
  EXPECT_NEAR(h.AtWorkingSet(2 << 20).Intra().bidir_GBps, 1.75, 1e-9);
}

// Both point lists of a class: [bytes, value] pairs, ascending, each value in its range.
TEST_F(HostCalibrationFile, ClassPointsMustAscendAndBePairsInRange) {
  for (const auto& [field, value] : {std::pair{"exchange_us", "microseconds"}, std::pair{"streaming_GBps", "GB/s"}}) {
    const auto file = [&](const std::string& name, const std::string& points) {
      return Write(name + "_" + field + ".json",
                   ExampleFile(kClasses, R"({"gpus": 2})", "host",
                               R"("alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6, ")" + std::string(field) + "\": " + points));
    };
    const std::string unordered = file("unordered", "[[65536, 1], [8, 1]]");
    EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(unordered); },
                                           {unordered, std::string("calibration.links.shm.") + field + "[1]", "ascend"}));
    const std::string triple = file("triple", "[[8, 0.5, 3]]");
    EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(triple); },
                                           {triple, std::string(field) + "[0]", std::string("[bytes, ") + value + "]"}));
    const std::string negative = file("negative", "[[8, -1]]");
    EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(negative); },
                                           {negative, std::string(field) + "[0]", value, "out of range"}));
  }
  const std::string zero = Write("zero_rate.json", ExampleFile(kClasses, R"({"gpus": 2})", "host",
                                                               R"("alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6,
                                                                  "streaming_GBps": [[1048576, 0]])"));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(zero); }, {zero, "streaming_GBps[0]", "out of range"}));
}

TEST_F(HostCalibrationFile, RanksPerNodeAndNodeGpusGiveEachOther) {
  const std::string path = Write("nogpus.json", ExampleFile(kClasses, R"({"nics": 1})"));
  EXPECT_EQ(LoadCluster(path).node.gpus, 2);
}

TEST_F(HostCalibrationFile, OnlyTheHostRuntime) {
  const std::string path = Write("gpu.json", ExampleFile(kClasses, R"({"gpus": 2})", "gpu"));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(path); },
                                         {path, "calibration", "\"runtime\"", "gpu", "host"}));
}

TEST_F(HostCalibrationFile, ALinkNeedsItsBandwidth) {
  const std::string path = Write("nobw.json", ExampleFile(kClasses, R"({"gpus": 2})", "host",
                                                          R"("alpha_us": 0.9, "bidir_GBps": 2.6)"));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(path); },
                                         {path, "calibration.links.shm", "missing", "\"GBps\""}));
}

TEST_F(HostCalibrationFile, IntraNodeMustNameAClass) {
  const std::string path = Write("intra.json", ExampleFile(R"("intra_node": "xpmem",)"));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(path); },
                                         {path, "\"intra_node\"", "xpmem", "shm, tcp"}));
}

TEST_F(HostCalibrationFile, NodeGpusMustEqualRanksPerNode) {
  const std::string path = Write("gpus.json", ExampleFile(kClasses, R"({"gpus": 4})"));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(path); },
                                         {path, "ranks_per_node (2)", "node.gpus (4)"}));
}

TEST_F(HostCalibrationFile, UnknownFieldIsNamed) {
  const std::string path = Write("typo.json", ExampleFile(R"("intra_node": "shm", "reduce_gbps": 1,)"));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(path); }, {path, "calibration", "\"reduce_gbps\""}));
}

TEST_F(HostCalibrationFile, MultiNodeWithoutInterNodeClassIsNamed) {
  // One node measured: loads; asking for two nodes names the missing field.
  const std::string path = Write("one.json", ExampleFile(R"("intra_node": "shm",)"));
  ClusterSpec c = LoadCluster(path);
  EXPECT_EQ(c.host->Inter(), nullptr);
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { SizeForGpus(&c, 4, "--ranks"); },
                                         {"--ranks 4", path, "calibration.inter_node", "absent"}));
  const std::string missing = Write("missing.json", ExampleFile(R"("intra_node": "shm", "inter_node": "ib",)"));
  c = LoadCluster(missing);
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { SizeForGpus(&c, 4, "--ranks"); },
                                         {"calibration.inter_node", "\"ib\"", "shm, tcp"}));
}

}  // namespace
}  // namespace braid::sim
