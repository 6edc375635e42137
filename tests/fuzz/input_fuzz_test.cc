// The fuzz tier: every file format braid's tools read, mutated at random from a valid example,
// must load or be refused with the tools' own error (plan-sim: InputError; topology: a Status).
// Anything else -- another exception type escaping (a JSON library error, std::out_of_range, an
// allocation of a size read from the file), a crash, a hang -- fails the test, with the input
// that did it written to a file and named.
// The engine: tests/common/input_fuzzer.h.
#include <hwloc.h>

#include <string>
#include <utility>

#include "braid/topology.h"
#include "sim/cluster/cluster.h"
#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"
#include "sim/cost/compute_model.h"
#include "sim/workload/model.h"
#include "tests/common/input_fuzzer.h"
#include "tests/common/topology_fixtures.h"

namespace braid::sim {
namespace {

using test::InputFuzz;

// A Status refusal counts as the reader's own error.
void ThrowIfRefused(const Status& s) {
  if (!s.ok()) throw InputError(s.ToString());
}

TEST_F(InputFuzz, ClusterFiles) {
  const std::string seed = DumpJson(ClusterToJson(LoadCluster("dgx-h100")), 2);
  Fuzz("cluster.json", seed, 1, [&](const std::string& text) {
    const ClusterSpec cluster = LoadCluster(Write("cluster.json", text));
    (void)ClusterSummary(cluster);
  });
}

TEST_F(InputFuzz, CalibratedClusterFiles) {
  // The shape braid-perf calibrate writes (docs: sim/cluster/host_calibration.cc).
  const std::string seed = R"json({
  "name": "calibrated host", "nodes": 1,
  "gpu": {"name": "host rank (cpu)", "peak_tflops": 0.5, "hbm_GBps": 6.1, "memory_GiB": 23.4,
          "reserved_GiB": 0.0, "memory_efficiency": 1.0},
  "node": {"gpus": 2, "nics": 1},
  "calibration": {
    "tool": "braid-perf calibrate", "date": "2026-11-26T10:00:00Z", "host": "h", "command": "c",
    "runtime": "host", "ranks_per_node": 2, "reduce_GBps": 9.5, "copy_GBps": 6.1,
    "call_overhead_us": 1.5, "reduce_step_us": 0.5, "intra_node": "shm", "inter_node": "tcp",
    "links": {
      "shm": {"alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6,
              "small": {"max_bytes": 8192, "alpha_us": 0.45, "GBps": 1.9},
              "exchange_us": [[8, 1.0], [1048576, 300.0]],
              "streaming_GBps": [[2097152, 5.0], [268435456, 3.0]]},
      "tcp": {"alpha_us": 12.0, "GBps": 1.2, "bidir_GBps": 0.9,
              "small": {"max_bytes": 65536, "alpha_us": 9.0, "GBps": 0.8}, "fit_max_relative_error": 0.08}
    },
    "measured": {"shm": [[8, 0.5], [1048576, 240.0]]}
  }
})json";
  Fuzz("calibrated-cluster.json", seed, 2, [&](const std::string& text) {
    (void)ClusterSummary(LoadCluster(Write("calibrated.json", text)));
  });
}

TEST_F(InputFuzz, ModelFiles) {
  const std::string seed = R"({"name": "m", "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8,
  "ffn_hidden": 14336, "activation": "swiglu", "seq_len": 8192, "vocab": 128256})";
  Fuzz("model.json", seed, 3, [&](const std::string& text) { (void)LoadModel(Write("model.json", text)); });
}

TEST_F(InputFuzz, GemmCalibrationFiles) {
  const std::string seed = R"({"gemm": [{"m": 4096, "n": 4096, "k": 4096, "tflops": 220},
  {"m": 8192, "n": 1024, "k": 4096, "tflops": 180}, {"m": 512, "n": 512, "k": 512, "tflops": 40}]})";
  const GpuSpec gpu = GpuPreset("a100");
  Fuzz("gemm-calibration.json", seed, 4,
       [&](const std::string& text) { (void)LoadGemmCalibration(Write("gemm.json", text), gpu); });
}

// This machine's own hwloc export, as `lstopo host.xml` writes it.
std::string ThisMachineXml() {
  hwloc_topology_t topology;
  hwloc_topology_init(&topology);
  hwloc_topology_set_io_types_filter(topology, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  hwloc_topology_load(topology);
  char* buffer = nullptr;
  int length = 0;
  std::string xml;
  if (hwloc_topology_export_xmlbuffer(topology, &buffer, &length, 0) == 0 && buffer != nullptr) {
    xml.assign(buffer, size_t(length > 0 ? length - 1 : 0));  // the length counts the ending NUL
    hwloc_free_xmlbuffer(topology, buffer);
  }
  hwloc_topology_destroy(topology);
  return xml;
}

// A host with a GPU and NICs (so that plan-sim makes a cluster of it), and this machine's export.
TEST_F(InputFuzz, TopologyXml) {
  for (const auto& [name, seed] : {std::pair<std::string, std::string>{"two-socket.xml", test::kTwoSocketXml},
                                   {"this-machine.xml", ThisMachineXml()}}) {
    ASSERT_FALSE(seed.empty()) << name << ": hwloc could not export this machine";
    Fuzz(name, seed, 5, [&](const std::string& text) {
      Topology topo;
      ThrowIfRefused(LoadTopologyXmlText(text, "fuzz.xml", &topo));
      (void)TopologySummary(topo);
      if (!topo.gpus.empty()) (void)ClusterFromTopology(topo, "fuzz.xml");
    });
  }
}

TEST_F(InputFuzz, TopologyJson) {
  Topology two_socket;
  ASSERT_TRUE(LoadTopologyXmlText(test::kTwoSocketXml, "two-socket", &two_socket).ok());
  const std::string seed = TopologyToJson(two_socket);
  Fuzz("topology.json", seed, 6, [&](const std::string& text) {
    Topology topo;
    ThrowIfRefused(TopologyFromJson(text, "fuzz.json", &topo));
    (void)TopologySummary(topo);
  });
}

}  // namespace
}  // namespace braid::sim
