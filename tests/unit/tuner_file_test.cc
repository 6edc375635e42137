// The runtime tuner calibrated from a file (collectives/tuner_file.h): what is read from a
// calibration block and what is refused, the model it gives for groups on one host and across
// hosts, and that a slow inter-host link moves the tuner's choice where the built-in model's
// shared-memory numbers would not.
#include "collectives/tuner_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace braid::coll {
namespace {

// Two link classes as braid-perf calibrate writes them: a shared-memory one with a small-message
// regime, and a 1 ms, 500 Mbit/s (0.0625 GB/s) network between hosts.
constexpr const char* kTwoHosts = R"({"base": "dgx-a100", "calibration": {
  "runtime": "host", "reduce_GBps": 9.5, "copy_GBps": 6, "intra_node": "shm", "inter_node": "tcp",
  "links": {"shm": {"alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6,
                    "small": {"max_bytes": 8192, "alpha_us": 0.45, "GBps": 1.9}},
            "tcp": {"alpha_us": 1000, "GBps": 0.0625, "bidir_GBps": 0.0625}}}})";

// `text` with the first `from` replaced by `to`.
std::string With(const std::string& from, const std::string& to) {
  std::string text = kTwoHosts;
  text.replace(text.find(from), from.size(), to);
  return text;
}

class TunerFileTest : public ::testing::Test {
 protected:
  // Writes `text` to a file of this test and returns its path.
  std::string Write(const std::string& text) {
    path_ = ::testing::TempDir() + "tuner_file_test_" + std::to_string(getpid()) + ".json";
    std::ofstream(path_) << text;
    return path_;
  }
  // ReadTunerFile's error for `text`, or "" when it was read.
  std::string ErrorOf(const std::string& text) {
    TunerCalibration c;
    const Status s = ReadTunerFile(Write(text), &c);
    return s.ok() ? "" : s.message();
  }
  // What ReadTunerFile reads from `text`; a failure to read it fails the test, naming the error.
  TunerCalibration Read(const std::string& text) {
    TunerCalibration c;
    const Status s = ReadTunerFile(Write(text), &c);
    EXPECT_TRUE(s.ok()) << s.message();
    return c;
  }
  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  std::string path_;
};

TEST_F(TunerFileTest, ReadsTheClassesTheTunerUses) {
  const TunerCalibration c = Read(kTwoHosts);
  EXPECT_EQ(c.path, path_);
  EXPECT_DOUBLE_EQ(c.reduce_GBps, 9.5);
  // The small-message regime's latency, and the two-way rate: a step sends and receives at once.
  EXPECT_EQ(c.intra_node.name, "shm");
  EXPECT_DOUBLE_EQ(c.intra_node.alpha_us, 0.45);
  EXPECT_DOUBLE_EQ(c.intra_node.small_max_bytes, 8192);
  EXPECT_DOUBLE_EQ(c.intra_node.large_alpha_us, 0.9);  // above 8 KiB: the large fit's
  EXPECT_DOUBLE_EQ(c.intra_node.GBps, 2.6);
  // Without a small regime, the large-message fit's.
  ASSERT_TRUE(c.inter_node.has_value());
  EXPECT_EQ(c.inter_node->name, "tcp");
  EXPECT_DOUBLE_EQ(c.inter_node->alpha_us, 1000);
  EXPECT_DOUBLE_EQ(c.inter_node->large_alpha_us, 1000);
  EXPECT_TRUE(std::isinf(c.inter_node->small_max_bytes));
  EXPECT_DOUBLE_EQ(c.inter_node->GBps, 0.0625);
  EXPECT_EQ(DescribeTunerCalibration(c),
            "shm 0.45 us to 8192 B, 0.9 us above, 2.6 GB/s; tcp 1000 us, 0.0625 GB/s; reduce 9.5 GB/s");
}

TEST_F(TunerFileTest, AnInterNodeClassThatWasNotMeasuredMeansOneHost) {
  const std::string text = With("\"tcp\": {", "\"xyz\": {");
  const TunerCalibration c = Read(text);
  EXPECT_FALSE(c.inter_node.has_value());
}

TEST_F(TunerFileTest, RefusalsNameTheFileTheFieldAndTheRange) {
  TunerCalibration c;
  EXPECT_NE(ReadTunerFile("/nonexistent/tuner.json", &c).message().find("/nonexistent/tuner.json"), std::string::npos);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"base\": \"dgx-a100\"}", "no \"calibration\" object: the tuner reads the cluster file that braid-perf calibrate --out writes"},
      {"[1, 2]", "no \"calibration\" object"},
      {"{\"calibration\": {", "line 1"},  // not JSON: the parser's position
      {With("\"runtime\": \"host\"", "\"runtime\": \"gpu\""), "calibration.runtime = \"gpu\": only \"host\""},
      {With("\"reduce_GBps\": 9.5", "\"reduce_GBps\": 0"), "calibration.reduce_GBps = 0 is not a number in (1e-06, 1e+12]"},
      {With("\"reduce_GBps\": 9.5", "\"reduce_gbps\": 9.5"), "calibration.reduce_GBps is missing"},
      {With("\"intra_node\": \"shm\"", "\"intra_node\": \"nvlink\""), "calibration.intra_node = \"nvlink\" names no class of links"},
      {With("\"intra_node\": \"shm\"", "\"intra_node\": 3"), "calibration.intra_node = 3 is not a string"},
      {With("\"alpha_us\": 0.9", "\"alpha_us\": -1"), "calibration.links.shm.alpha_us = -1 is not a number in [0, 1e+07]"},
      {With("\"bidir_GBps\": 2.6", "\"bidir_GBps\": \"fast\""), "calibration.links.shm.bidir_GBps = \"fast\" is not a number"},
      {With("\"small\": {", "\"small\": 5, \"x\": {"), "calibration.links.shm.small is 5, not an object"},
      {With("\"max_bytes\": 8192, ", ""), "calibration.links.shm.small.max_bytes is missing"},
      {With("\"GBps\": 0.0625", "\"GBps\": 0"), "calibration.links.tcp.GBps = 0 is not a number in (1e-06, 1e+12]"},
      {With(", \"bidir_GBps\": 0.0625", ""), "calibration.links.tcp.bidir_GBps is missing"},
      {With("\"links\": {", "\"links\": [], \"x\": {"), "calibration.links is an array (an object of link classes)"},
  };
  for (const auto& [text, message] : cases) {
    const std::string error = ErrorOf(text);
    EXPECT_NE(error.find(path_), std::string::npos) << text << "\n" << error;
    EXPECT_NE(error.find(message), std::string::npos) << text << "\n" << error;
  }
}

ScheduleRequest AllReduce(int nranks, size_t bytes) {
  ScheduleRequest q;
  q.collective = Collective::kAllReduce;
  q.nranks = nranks;
  q.count = bytes / 4;
  q.elem_size = 4;
  return q;
}

TEST_F(TunerFileTest, OneHostTakesTheIntraNodeClass) {
  const TunerCalibration c = Read(kTwoHosts);
  for (const std::vector<int>& hosts : {std::vector<int>{}, std::vector<int>{7, 7, 7, 7}}) {
    const LinkModel link = CalibratedLinkModel(c, hosts);
    EXPECT_DOUBLE_EQ(link.alpha_us, 0.45);
    EXPECT_DOUBLE_EQ(link.small_message_max_bytes, 8192);
    EXPECT_DOUBLE_EQ(link.large_message_alpha_us, 0.9);
    EXPECT_DOUBLE_EQ(link.bandwidth_GBps, 2.6);
    EXPECT_DOUBLE_EQ(link.reduce_GBps, 9.5);
    EXPECT_EQ(link.nodes, 1);
    EXPECT_DOUBLE_EQ(link.mean_hop_alpha_us, 0);
    EXPECT_EQ(link.max_slice_bytes, HostRuntimeLinkModel().max_slice_bytes);
  }
}

TEST_F(TunerFileTest, AcrossHostsTheNetworkIsTheBottleneckAndTheRingsHopsAreAveraged) {
  const TunerCalibration c = Read(kTwoHosts);
  // Ranks 0, 1 on host 0 and 2, 3 on host 1: the ring 0-1-2-3-0 crosses twice in four hops.
  const LinkModel link = CalibratedLinkModel(c, {0, 0, 1, 1});
  EXPECT_DOUBLE_EQ(link.alpha_us, 1000);
  EXPECT_DOUBLE_EQ(link.bandwidth_GBps, 0.0625);
  EXPECT_DOUBLE_EQ(link.mean_hop_alpha_us, (0.45 + 1000) / 2);
  EXPECT_DOUBLE_EQ(link.mean_hop_large_alpha_us, (0.9 + 1000) / 2);
  EXPECT_TRUE(std::isinf(link.small_message_max_bytes));  // the network's: it has no small regime
  EXPECT_DOUBLE_EQ(link.mean_hop_us_per_byte, (1e-3 / 2.6 + 1e-3 / 0.0625) / 2);
  EXPECT_EQ(link.nodes, 2);
  EXPECT_DOUBLE_EQ(link.all_ranks_sharing, 2);
  // Round-robin placement: every hop crosses.
  EXPECT_DOUBLE_EQ(CalibratedLinkModel(c, {0, 1, 0, 1}).mean_hop_alpha_us, 1000);
}

TEST_F(TunerFileTest, ASlowNetworkKeepsLatencyOptimalAlgorithmsToLargerSizes) {
  const TunerCalibration c = Read(kTwoHosts);
  // 32 KiB over 4 ranks on two hosts: the built-in model (1 us, 5 GB/s) runs a ring, whose six
  // steps each wait 1 ms on this network; the calibrated model sees that and takes a
  // logarithmic algorithm.
  const ScheduleRequest q = AllReduce(4, 32 << 10);
  const TunerChoice built_in = Choose(q, HostRuntimeLinkModel(), std::nullopt);
  const TunerChoice calibrated = Choose(q, CalibratedLinkModel(c, {0, 1, 0, 1}), std::nullopt);
  EXPECT_EQ(built_in.algorithm, Algorithm::kRing) << built_in.reason;
  EXPECT_NE(calibrated.algorithm, Algorithm::kRing) << calibrated.reason;
  // On one host the same file's shared-memory class agrees with the built-in model here.
  EXPECT_EQ(Choose(q, CalibratedLinkModel(c, {0, 0, 0, 0}), std::nullopt).algorithm, Algorithm::kRing);
}

// What braid-perf calibrate measured over a 1 ms, 500 Mbit/s link between two network namespaces
// (tests/net/netns_test.sh bench-tuner, session 58): eager messages up to 16 KiB pay one delay,
// larger ones the rendezvous handshake's three.
constexpr const char* kMeasuredLink = R"({"calibration": {
  "runtime": "host", "reduce_GBps": 9.5, "intra_node": "shm", "inter_node": "tcp",
  "links": {"shm": {"alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6,
                    "small": {"max_bytes": 8192, "alpha_us": 0.45, "GBps": 1.9}},
            "tcp": {"alpha_us": 3128, "GBps": 0.0565, "bidir_GBps": 0.0435,
                    "small": {"max_bytes": 16384, "alpha_us": 1058, "GBps": 0.0605}}}}})";

TEST_F(TunerFileTest, LargerMessagesPayTheirOwnLatency) {
  const TunerCalibration c = Read(kMeasuredLink);
  // Ranks 0, 1 on one host, 2, 3 on the other. At 64 KiB a ring sends 16 KiB steps (eager);
  // recursive doubling exchanges the whole 64 KiB across (rendezvous). Measured there: the ring
  // 5.2 ms, recursive doubling 7.2 ms.
  const LinkModel link = CalibratedLinkModel(c, {0, 0, 1, 1});
  EXPECT_EQ(link.small_message_max_bytes, 16384);
  EXPECT_DOUBLE_EQ(link.large_message_alpha_us, 3128);
  const ScheduleRequest q = AllReduce(4, 64 << 10);
  const TunerChoice with_both = Choose(q, link, std::nullopt);
  EXPECT_EQ(with_both.algorithm, Algorithm::kRing) << with_both.reason;
  // With the small messages' latency for every size, recursive doubling's 64 KiB exchanges would
  // cost as little as the ring's 16 KiB steps: its estimate falls (by about 2 ms: the rendezvous
  // of its round across the link), the ring's stays.
  LinkModel one_latency = link;
  one_latency.small_message_max_bytes = std::numeric_limits<double>::infinity();
  ScheduleRequest ring = q, doubling = q;
  ring.algorithm = Algorithm::kRing;
  ring.slice_bytes = with_both.slice_bytes;
  doubling.algorithm = Algorithm::kRecursiveDoubling;
  doubling.slice_bytes = 64 << 10;
  EXPECT_DOUBLE_EQ(*EstimateMicroseconds(ring, one_latency), *EstimateMicroseconds(ring, link));
  EXPECT_GT(*EstimateMicroseconds(doubling, link), *EstimateMicroseconds(doubling, one_latency) + 500);
  // Small all-reduces stay latency-bound: two exchanges beat six steps.
  EXPECT_EQ(Choose(AllReduce(4, 4096), link, std::nullopt).algorithm, Algorithm::kRecursiveDoubling);
}

// 8 ranks, 4 on each host, over the 1 ms link the 8-rank bench calibrated (session 59). Each of
// the double binary tree's paths crosses it twice, one after another: 0 -> 4 -> 2 in tree 0,
// 7 -> 3 -> 5 in tree 1. At 16 KiB the tree was costed at a mean hop per level (est. 1.9 ms) and
// chosen over recursive doubling, which crosses once; measured 8.2 ms against 6.2 ms.
TEST_F(TunerFileTest, TreeFillPaysEachCrossingOfItsPath) {
  const TunerCalibration c = Read(R"({"calibration": {
  "runtime": "host", "reduce_GBps": 9.5, "intra_node": "shm", "inter_node": "tcp",
  "links": {"shm": {"alpha_us": 0.22, "GBps": 9.2, "bidir_GBps": 9.85, "small": {"max_bytes": 64, "alpha_us": 0.146}},
            "tcp": {"alpha_us": 3045, "GBps": 0.0535, "bidir_GBps": 0.0315,
                    "small": {"max_bytes": 16384, "alpha_us": 1029}}}}})");
  const LinkModel link = CalibratedLinkModel(c, {0, 0, 0, 0, 1, 1, 1, 1});
  EXPECT_EQ(link.tree_path_slow_hops, 2);
  // Out of host A per column: 0 -> 4 and 3 -> 5 down, 2 -> 4 and 3 -> 7 up.
  EXPECT_EQ(link.tree_nic_messages, 4);
  EXPECT_EQ(link.rooted_tree_path_slow_hops, 2);  // 0 -> 4 -> 2
  EXPECT_DOUBLE_EQ(link.fast_hop_alpha_us, 0.146);
  const ScheduleRequest q = AllReduce(8, 16 << 10);
  const TunerChoice choice = Choose(q, link, std::nullopt);
  EXPECT_EQ(choice.algorithm, Algorithm::kRecursiveDoubling) << choice.reason;
  // Each way, the fill is two crossings of 8 KiB (half the data per tree) and one hop on a host.
  ScheduleRequest tree = q;
  tree.algorithm = Algorithm::kTree;
  tree.slice_bytes = 32 << 10;
  // (The estimate adds the reductions, 8 KiB at 9.5 GB/s per level: a few us.)
  // Each parent on the worst path also passes its other child's 8 KiB, at a mean hop: two of them
  // with 8 ranks (the most children summed along a path, 5, less the path's 3 hops).
  const double crossing_us = 1029 + 8192 / (0.0315 * 1e3), hop_us = 0.146 + 8192 / (9.85 * 1e3);
  const double siblings_us = 2 * 8192 * link.mean_hop_us_per_byte;
  EXPECT_GT(*EstimateMicroseconds(tree, link), 2 * (2 * crossing_us + hop_us + siblings_us));
  EXPECT_LT(*EstimateMicroseconds(tree, link), 2 * (2 * crossing_us + hop_us + siblings_us) + 10);
  // Recursive doubling crosses in its last round only (partner 4 apart); a broadcast's tree
  // sends 0 -> 4 out of host 0 and 4 -> 2 out of host 1, one message per column each.
  EXPECT_EQ(link.doubling_crossing_rounds, 1);
  EXPECT_EQ(link.rooted_tree_nic_messages, 1);
  // Ranks on one host have no crossings.
  const LinkModel one_host = CalibratedLinkModel(c, {0, 0, 0, 0});
  EXPECT_EQ(one_host.tree_path_slow_hops, 0);
  EXPECT_EQ(one_host.tree_nic_messages, 0);
}

// A chain broadcast crosses between hosts where its members' hosts change: once for 8 ranks
// placed host by host, at every hop for 8 placed round-robin, where each host's link also passes 4
// of a column's 7 messages. Its fill had been costed at nodes - 1 = 1 crossing for both.
TEST_F(TunerFileTest, ChainCrossesHostsWhereItsPlacementDoes) {
  const TunerCalibration c = Read(kTwoHosts);
  const LinkModel blocked = CalibratedLinkModel(c, {0, 0, 0, 0, 1, 1, 1, 1});
  const LinkModel round_robin = CalibratedLinkModel(c, {0, 1, 0, 1, 0, 1, 0, 1});
  EXPECT_EQ(blocked.chain_path_slow_hops, 1);
  EXPECT_EQ(blocked.chain_nic_messages, 1);
  EXPECT_EQ(round_robin.chain_path_slow_hops, 7);
  EXPECT_EQ(round_robin.chain_nic_messages, 4);
  ScheduleRequest q = AllReduce(8, 1 << 20);
  q.collective = Collective::kBroadcast;
  q.algorithm = Algorithm::kChain;
  q.slice_bytes = 64 << 10;  // 16 columns
  const double crossing_us = blocked.alpha_us + 65536 / (blocked.bandwidth_GBps * 1e3);
  const double hop_us = blocked.fast_hop_alpha_us + 65536 * blocked.fast_hop_us_per_byte;
  EXPECT_NEAR(*EstimateMicroseconds(q, blocked), 15 * crossing_us + crossing_us + 6 * hop_us, 1e-6);
  EXPECT_NEAR(*EstimateMicroseconds(q, round_robin), 15 * 4 * crossing_us + 7 * crossing_us, 1e-6);
  // A network faster than the host's shared memory: the chain's columns still pay the network's
  // message (the channels' sharing of a GPU port, plan-sim's, is no term here).
  const TunerCalibration fast_net = Read(With("\"alpha_us\": 1000, \"GBps\": 0.0625, \"bidir_GBps\": 0.0625",
                                                   "\"alpha_us\": 2, \"GBps\": 100, \"bidir_GBps\": 100"));
  const LinkModel fast = CalibratedLinkModel(fast_net, {0, 0, 0, 0, 1, 1, 1, 1});
  ASSERT_GT(fast.fast_hop_us_per_byte, 1e-3 / fast.bandwidth_GBps);  // shared memory is the slower
  const double net_us = 2 + 65536 / 100e3, shm_us = fast.fast_hop_alpha_us + 65536 * fast.fast_hop_us_per_byte;
  EXPECT_NEAR(*EstimateMicroseconds(q, fast), 15 * net_us + net_us + 6 * shm_us, 1e-6);
}

}  // namespace
}  // namespace braid::coll
