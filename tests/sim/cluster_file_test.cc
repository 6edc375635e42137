// Cluster files written back (`plan-sim topo --format json`): every preset and a calibrated host
// cluster read back as the same cluster. And the checks every JSON input goes through: a key
// given twice, a FIFO or a directory instead of a file, a node count set after the file was read.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sim/cluster/cluster.h"
#include "sim/common/json_fields.h"
#include "tests/sim/test_support.h"

namespace braid::sim {
namespace {

class ClusterFile : public TempDirTest {
 protected:
  // `c` written as a cluster file and loaded again.
  ClusterSpec RoundTrip(const ClusterSpec& c) {
    return LoadCluster(Write("written.json", DumpJson(ClusterToJson(c), 2)));
  }
};

TEST_F(ClusterFile, PresetsReadBackAsTheSameCluster) {
  for (const std::string& name : ClusterPresetNames()) {
    SCOPED_TRACE(name);
    const ClusterSpec preset = LoadCluster(name);
    const ClusterSpec loaded = RoundTrip(preset);
    // ClusterToJson writes every field, so equal documents mean equal clusters; a few fields
    // compared directly guard against a field both directions forget.
    EXPECT_EQ(ClusterToJson(loaded), ClusterToJson(preset));
    EXPECT_EQ(loaded.name, preset.name);
    EXPECT_EQ(loaded.nodes, preset.nodes);
    EXPECT_EQ(loaded.gpu.peak_tflops, preset.gpu.peak_tflops);
    EXPECT_EQ(loaded.gpu.gemm_efficiency, preset.gpu.gemm_efficiency);
    EXPECT_EQ(loaded.node.fabric, preset.node.fabric);
    EXPECT_EQ(loaded.node.intra_efficiency, preset.node.intra_efficiency);
    EXPECT_EQ(loaded.node.nics, preset.node.nics);
    EXPECT_EQ(loaded.network.topology, preset.network.topology);
    EXPECT_FALSE(loaded.host.has_value());
  }
}

TEST_F(ClusterFile, ChangedFieldsAndNodeCountReadBack) {
  ClusterSpec c = LoadCluster("pcie-a100");
  SizeForGpus(&c, 32);
  c.gpu.kernel_overhead_us = 6.25;
  c.node.nic_latency_us = 1.0 / 3;  // not exact in decimal: must still read back the same double
  c.network.topology = NetworkTopology::kRailOptimized;
  c.network.oversubscription = 2;
  const ClusterSpec loaded = RoundTrip(c);
  EXPECT_EQ(ClusterToJson(loaded), ClusterToJson(c));
  EXPECT_EQ(loaded.nodes, 4);
  EXPECT_EQ(loaded.node.nic_latency_us, 1.0 / 3);
  EXPECT_EQ(loaded.network.topology, NetworkTopology::kRailOptimized);
}

TEST_F(ClusterFile, HostCalibrationReadsBack) {
  ClusterSpec c = HostTestCluster(2, 2);
  c.gpu = GpuPreset("h100");
  c.host->tool = "braid-perf calibrate";
  c.host->call_overhead_us = 0.2;
  c.host->memory = {{65536, 14, 20}, {16 << 20, 8, 6}};
  c.host->links["shm"].exchange_points = {{8, 0.2}, {1048576, 120}};
  const ClusterSpec loaded = RoundTrip(c);
  EXPECT_EQ(ClusterToJson(loaded), ClusterToJson(c));
  ASSERT_TRUE(loaded.host.has_value());
  EXPECT_EQ(loaded.host->inter_node, "tcp");
  EXPECT_EQ(loaded.host->memory.size(), 2u);
  EXPECT_EQ(loaded.host->links.at("shm").exchange_points.size(), 2u);
  EXPECT_EQ(loaded.host->links.at("tcp").small_GBps, 0.8);
}

TEST_F(ClusterFile, NodeCountFromGpusIsValidated) {
  // One node needs no NIC; --gpus 16 makes two, which must be checked as a file's "nodes": 2 is.
  const std::string path = Write("no-nics.json", R"({"base": "dgx-h100", "node": {"nics": 0}})");
  ClusterSpec c = LoadCluster(path);
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { SizeForGpus(&c, 16); },
                                         {"--gpus 16", path, "node.nics = 0", "[1, 1024]"}));
  ClusterSpec one = LoadCluster(path);
  SizeForGpus(&one, 8);
  EXPECT_EQ(one.nodes, 1);
}

// A file that gives "nodes" may be simulated larger, but the user is told; a preset, a file
// without "nodes" and a smaller count say nothing.
TEST_F(ClusterFile, GrowingPastTheFilesNodesIsNoted) {
  const std::string path = Write("four-nodes.json", R"({"base": "dgx-a100", "nodes": 4})");
  ClusterSpec c = LoadCluster(path);
  const std::string note = SizeForGpus(&c, 64);
  EXPECT_EQ(c.nodes, 8);
  for (const char* part : {path.c_str(), "\"nodes\": 4 (32 GPUs)", "--gpus 64", "8 nodes"}) {
    EXPECT_NE(note.find(part), std::string::npos) << note;
  }
  ClusterSpec same = LoadCluster(path);
  EXPECT_EQ(SizeForGpus(&same, 32), "");
  EXPECT_EQ(SizeForGpus(&same, 16), "");
  ClusterSpec preset = LoadCluster("dgx-a100");
  EXPECT_EQ(SizeForGpus(&preset, 1024), "");
  ClusterSpec unsized = LoadCluster(Write("no-count.json", R"({"base": "dgx-h100"})"));
  EXPECT_EQ(SizeForGpus(&unsized, 64), "");
}

TEST(JsonInput, DuplicateKeyNamesFileKeyAndObject) {
  EXPECT_TRUE(ThrowsInputErrorMentioning([] { ParseJsonText(R"({"layers": 32, "layers": 64})", "m.json"); },
                                         {"m.json", "duplicate key \"layers\"", "top-level object"}));
  EXPECT_TRUE(ThrowsInputErrorMentioning(
      [] { ParseJsonText(R"({"a": {"b": [1, [2], {"c": 1, "d": 2, "c": 3}]}})", "x.json"); },
      {"x.json", "duplicate key \"c\"", "\"a.b[2]\""}));
  // The same key in different objects is no duplicate.
  const nlohmann::json doc = ParseJsonText(R"({"x": {"k": 1}, "y": [{"k": 2}, {"k": 3}], "k": 4})", "ok.json");
  EXPECT_EQ(doc["y"][1]["k"], 3);
}

// A key from the file is shown escaped and cut: a 1 MB key made a 1 MB message, and an escape
// sequence in a key reached the terminal (QA, session 54).
TEST(JsonInput, KeysInMessagesAreEscapedAndCut) {
  // The message of a document whose one key (as written in JSON) is given twice.
  const auto duplicate_message = [](const std::string& key) {
    try {
      ParseJsonText("{\"" + key + "\": 1, \"" + key + "\": 2}", "dup.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string long_message = duplicate_message(std::string(100000, 'k'));
  EXPECT_LT(long_message.size(), 300u) << long_message;
  EXPECT_NE(long_message.find("duplicate key \"" + std::string(61, 'k') + "...\""), std::string::npos) << long_message;
  // Cut where a character starts: 40 two-byte UTF-8 characters are cut after 30 of them, 30
  // six-character escapes after 10 (review, session 54: a byte of a character, or half an escape).
  std::string accents, controls;
  for (int i = 0; i < 40; ++i) accents += "\xc3\xa9";
  for (int i = 0; i < 30; ++i) controls += "\\u0001";
  for (const std::string& key : {accents, controls}) {
    const std::string message = duplicate_message(key);
    EXPECT_NE(message.find("\"" + key.substr(0, 60) + "...\""), std::string::npos) << message;
  }
  const nlohmann::json doc = ParseJsonText(R"({"\u001b[31mred": 1})", "ctrl.json");
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { JsonFields(doc, "ctrl.json").RejectUnknown({"name"}); },
                                         {"unknown field \"\\u001b[31mred\""}));
}

TEST_F(ClusterFile, InputThatIsNotARegularFile) {
  const std::string fifo = (dir_ / "fifo.json").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // A FIFO without a writer would block a plain open: JSON inputs read it as an empty pipe.
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { ReadJsonFile(fifo); }, {fifo, "a pipe that nothing was written to"}));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(fifo); }, {fifo, "a pipe that nothing was written to"}));
  const std::string xml = (dir_ / "fifo.xml").string();
  ASSERT_EQ(mkfifo(xml.c_str(), 0600), 0);
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster(xml); }, {xml, "a pipe that nothing was written to"}));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { LoadCluster("/dev/zero.xml"); }, {"/dev/zero.xml", "cannot open"}));
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { ReadJsonFile(dir_.string()); }, {"a directory"}));
}

}  // namespace
}  // namespace braid::sim
