// braid::Topology: discovery of this machine, hwloc XML import (this machine's own export and a
// hand-written two-socket host with a GPU and NICs), JSON round trip and error messages.
#include "braid/topology.h"

#include <hwloc.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/common/topology_fixtures.h"

namespace braid {
namespace {

using test::kTwoSocketXml;

// A private directory for the files one test writes, removed afterwards.
class TopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("braid_topology_test_" + std::to_string(getpid()) + "_" + info->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::string PathOf(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

const TopoNic* FindNic(const Topology& topo, const std::string& name) {
  for (const TopoNic& nic : topo.nics) {
    if (nic.name == name) return &nic;
  }
  return nullptr;
}

// The CPUs this process may run on: a cgroup cpuset or taskset can make it fewer than the
// machine has, and hwloc counts those hwloc may use (at least this many).
int AffinityCpuCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

TEST_F(TopologyTest, DiscoversThisMachine) {
  Topology topo;
  Status status = DiscoverTopology(&topo);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(topo.source, "hwloc");
  EXPECT_GE(topo.cores, 1);
  EXPECT_GE(topo.pus, topo.cores);
  EXPECT_GE(topo.pus, AffinityCpuCount());
  EXPECT_LE(topo.pus, sysconf(_SC_NPROCESSORS_CONF));
  EXPECT_GE(topo.numa_nodes, 1);
  EXPECT_GT(topo.memory_GiB, 0);
  for (size_t i = 0; i < topo.gpus.size(); ++i) EXPECT_EQ(topo.gpus[i].index, static_cast<int>(i));
  EXPECT_EQ(FindNic(topo, "lo"), nullptr) << "the loopback interface is not a NIC";
}

TEST_F(TopologyTest, ThisMachinesHwlocExportLoadsBackTheSame) {
  Topology live;
  ASSERT_TRUE(DiscoverTopology(&live).ok());

  // Export through hwloc itself, as `lstopo host.xml` would, with the I/O devices kept.
  std::string path = PathOf("this_machine.xml");
  hwloc_topology_t hwloc = nullptr;
  ASSERT_EQ(hwloc_topology_init(&hwloc), 0);
  ASSERT_EQ(hwloc_topology_set_io_types_filter(hwloc, HWLOC_TYPE_FILTER_KEEP_IMPORTANT), 0);
  ASSERT_EQ(hwloc_topology_load(hwloc), 0);
  int exported = hwloc_topology_export_xml(hwloc, path.c_str(), 0);
  hwloc_topology_destroy(hwloc);
  ASSERT_EQ(exported, 0);

  Topology loaded;
  Status status = LoadTopologyXml(path, &loaded);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(loaded.source, "hwloc-xml:" + path);
  EXPECT_EQ(loaded.hostname, live.hostname);
  EXPECT_EQ(loaded.cpu_model, live.cpu_model);
  EXPECT_EQ(loaded.packages, live.packages);
  EXPECT_EQ(loaded.numa_nodes, live.numa_nodes);
  EXPECT_EQ(loaded.cores, live.cores);
  EXPECT_EQ(loaded.pus, live.pus);
  EXPECT_DOUBLE_EQ(loaded.memory_GiB, live.memory_GiB);
  EXPECT_EQ(loaded.gpus, live.gpus);
  // Link speeds come from sysfs, for the live machine only; the rest must match.
  ASSERT_EQ(loaded.nics.size(), live.nics.size());
  for (size_t i = 0; i < live.nics.size(); ++i) {
    TopoNic expected = live.nics[i];
    expected.speed_Gbps = 0;
    EXPECT_EQ(loaded.nics[i], expected) << live.nics[i].name;
  }
}

TEST_F(TopologyTest, HandWrittenXmlFindsGpuAndNicsWithTheirLocality) {
  std::string path = WriteFile("two_socket.xml", kTwoSocketXml);
  Topology topo;
  Status status = LoadTopologyXml(path, &topo);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(topo.hostname, "fakehost");
  EXPECT_EQ(topo.cpu_model, "Fake CPU 9000");
  EXPECT_EQ(topo.packages, 2);
  EXPECT_EQ(topo.numa_nodes, 2);
  EXPECT_EQ(topo.cores, 2);
  EXPECT_EQ(topo.pus, 2);
  EXPECT_DOUBLE_EQ(topo.memory_GiB, 32.0);

  ASSERT_EQ(topo.gpus.size(), 1u) << "the BMC's Matrox VGA is not a GPU";
  const TopoGpu& gpu = topo.gpus[0];
  EXPECT_EQ(gpu.index, 0);
  EXPECT_EQ(gpu.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpu.pci_bus_id, "0000:80:00.0");
  EXPECT_EQ(gpu.numa_node, 1);
  EXPECT_EQ(gpu.package, 1);
  EXPECT_NEAR(gpu.memory_GiB, 83468288.0 / (1024 * 1024), 1e-9);  // CUDAGlobalMemorySize is in KiB

  ASSERT_EQ(topo.nics.size(), 3u);
  for (const char* name : {"ib0", "mlx5_0"}) {
    const TopoNic* nic = FindNic(topo, name);
    ASSERT_NE(nic, nullptr) << name;
    EXPECT_EQ(nic->kind, "infiniband") << name;
    EXPECT_EQ(nic->pci_bus_id, "0000:10:00.0") << name;
    EXPECT_EQ(nic->numa_node, 0) << name;
    EXPECT_EQ(nic->package, 0) << name;
    EXPECT_EQ(nic->speed_Gbps, 0) << "no link speed from an XML file";
  }
  const TopoNic* ethernet = FindNic(topo, "eno1");
  ASSERT_NE(ethernet, nullptr);
  EXPECT_EQ(ethernet->kind, "ethernet");
  EXPECT_EQ(ethernet->pci_bus_id, "0000:00:06.0");
  EXPECT_EQ(ethernet->numa_node, -1) << "attached to the whole two-socket machine: locality unknown";
  EXPECT_EQ(ethernet->package, -1);

  std::string summary = TopologySummary(topo);
  EXPECT_NE(summary.find("NVIDIA H100 80GB HBM3"), std::string::npos) << summary;
  EXPECT_NE(summary.find("mlx5_0"), std::string::npos) << summary;
}

// Text and sizes from a hand-edited XML (QA, session 56): a newline in HostName forged a
// "GPU 9" line in every summary, and a GPU of 1 KiB was taken for one.
TEST_F(TopologyTest, XmlTextIsMadePrintableAndTinyGpuMemoryIsUnknown) {
  std::string xml = kTwoSocketXml;
  const std::string host = "value=\"fakehost\"";
  ASSERT_NE(xml.find(host), std::string::npos);
  xml.replace(xml.find(host), host.size(), "value=\"evil&#10;  GPU 9: fake\"");
  const std::string memory = "value=\"83468288\"";
  ASSERT_NE(xml.find(memory), std::string::npos);
  xml.replace(xml.find(memory), memory.size(), "value=\"1\"");
  Topology topo;
  Status status = LoadTopologyXml(WriteFile("forged.xml", xml), &topo);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(topo.hostname, "evil?  GPU 9: fake");
  const std::string summary = TopologySummary(topo);
  EXPECT_EQ(summary.find("\n  GPU 9"), std::string::npos) << summary;
  ASSERT_EQ(topo.gpus.size(), 1u);
  EXPECT_EQ(topo.gpus[0].memory_GiB, 0) << "1 KiB is no GPU's memory: unknown";
}

// Two GPUs on one PCI address (an edited XML) are refused as the JSON reader refuses them, so that
// every topology read here reads back from its JSON (QA, session 56).
TEST_F(TopologyTest, TwoGpusOnOnePciDeviceAreRefused) {
  std::string xml = kTwoSocketXml;
  const std::string gpu_end = "          </object>\n        </object>\n";  // the GPU's OSDev, then its PCIDev
  const size_t at = xml.find(gpu_end, xml.find("pci_busid=\"0000:80:00.0\""));
  ASSERT_NE(at, std::string::npos);
  xml.insert(at + gpu_end.size(),
             R"(        <object type="PCIDev" gp_index="33" pci_busid="0000:80:00.0" pci_type="0302 [10de:2330] [10de:16c1] a1" pci_link_speed="63.015385">
          <object type="OSDev" gp_index="34" name="cuda1" osdev_type="5">
            <info name="Backend" value="CUDA"/>
            <info name="GPUModel" value="NVIDIA H100 80GB HBM3"/>
          </object>
        </object>
)");
  Topology topo;
  const Status status = LoadTopologyXml(WriteFile("same_bus.xml", xml), &topo);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString() << "\n" << TopologySummary(topo);
  EXPECT_NE(status.message().find("GPUs 0 and 1 are one PCI device (0000:80:00.0)"), std::string::npos)
      << status.ToString();
}

// Without a GPU backend (no CUDA or NVML plugin, as Debian's hwloc) and without PCI names, a GPU
// that plan-sim has a preset for is named from its PCI device id; any other by its ids.
TEST_F(TopologyTest, GpuWithoutBackendIsNamedByItsPciIds) {
  std::string xml = kTwoSocketXml;
  size_t begin = xml.find("          <object type=\"OSDev\" gp_index=\"32\"");
  ASSERT_NE(begin, std::string::npos);
  size_t end = xml.find("</object>", begin) + std::string("</object>\n").size();
  xml.erase(begin, end - begin);
  Topology topo;
  Status status = LoadTopologyXml(WriteFile("no_cuda.xml", xml), &topo);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(topo.gpus.size(), 1u);
  EXPECT_EQ(topo.gpus[0].name, "NVIDIA H100 SXM5 80GB") << "10de:2330, the PCI ID Repository's name";
  EXPECT_EQ(topo.gpus[0].memory_GiB, 0) << "unknown without CUDA";

  const std::string known = "[10de:2330]";
  xml.replace(xml.find(known), known.size(), "[10de:1234]");
  status = LoadTopologyXml(WriteFile("unknown_id.xml", xml), &topo);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(topo.gpus.size(), 1u);
  EXPECT_EQ(topo.gpus[0].name, "PCI 10de:1234");
}

// Edits of the two-socket machine (QA, session 53): an AMD Instinct MI300X (PCI class 0x1200,
// with ROCm SMI's device) on package 0 is a GPU, an AMD onboard ES1000 (VGA without a compute
// device) is not; package 0 also has HBM, a NUMA node hwloc marks "HBM", which is not the node of
// its devices; and the InfiniBand port becomes RoCE (its netdev has a 6-byte Ethernet address).
TEST_F(TopologyTest, AcceleratorsDisplaysHbmAndRoce) {
  std::string xml = kTwoSocketXml;
  auto replace = [&xml](const std::string& from, const std::string& to) {
    const size_t at = xml.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    xml.replace(at, from.size(), to);
  };
  replace(R"(nodeset="0x00000003" complete_nodeset="0x00000003" allowed_nodeset="0x00000003")",
          R"(nodeset="0x00000007" complete_nodeset="0x00000007" allowed_nodeset="0x00000007")");
  replace(R"(<object type="Package" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="2">)",
          R"(<object type="Package" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000005" complete_nodeset="0x00000005" gp_index="2">)");
  replace(R"(gp_index="3" local_memory="17179869184"/>)",
          R"(gp_index="3" local_memory="17179869184"/>
      <object type="NUMANode" os_index="2" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000004" complete_nodeset="0x00000004" gp_index="60" subtype="HBM" local_memory="68719476736"/>
      <object type="Bridge" gp_index="50" bridge_type="0-1" depth="0" bridge_pci="0000:[18-18]">
        <object type="PCIDev" gp_index="51" pci_busid="0000:18:00.0" pci_type="1200 [1002:74a1] [1002:74a1] 00" pci_link_speed="63.015385">
          <object type="OSDev" gp_index="52" name="rsmi0" osdev_type="1">
            <info name="Backend" value="RSMI"/>
            <info name="GPUModel" value="AMD Instinct MI300X"/>
          </object>
        </object>
      </object>)");
  replace(R"(<object type="PCIDev" gp_index="41" pci_busid="0000:00:05.0" pci_type="0300 [102b:0522] [102b:0522] 02" pci_link_speed="0.000000"/>)",
          R"(<object type="PCIDev" gp_index="41" pci_busid="0000:00:05.0" pci_type="0300 [1002:515e] [1002:515e] 02" pci_link_speed="0.000000"/>)");
  replace(R"(<info name="Address" value="00:00:10:87:fe:80:00:00:00:00:00:00:b8:ce:f6:03:00:33:44:55"/>)",
          R"(<info name="Address" value="b8:ce:f6:33:44:55"/>)");
  Topology topo;
  Status status = LoadTopologyXml(WriteFile("edited.xml", xml), &topo);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(topo.gpus.size(), 2u) << TopologySummary(topo);
  EXPECT_EQ(topo.gpus[0].name, "AMD Instinct MI300X");
  EXPECT_EQ(topo.gpus[0].pci_bus_id, "0000:18:00.0");
  EXPECT_EQ(topo.gpus[0].package, 0);
  EXPECT_EQ(topo.gpus[0].numa_node, 0) << "the package's DRAM node, not its HBM";
  EXPECT_EQ(topo.gpus[1].name, "NVIDIA H100 80GB HBM3");
  const TopoNic* rdma = FindNic(topo, "mlx5_0");
  ASSERT_NE(rdma, nullptr);
  EXPECT_EQ(rdma->kind, "ethernet") << "RoCE: its port's netdev is Ethernet";
  EXPECT_EQ(rdma->numa_node, 0);
}

TEST_F(TopologyTest, JsonRoundTripIsExact) {
  Topology hand_written;
  ASSERT_TRUE(LoadTopologyXml(WriteFile("two_socket.xml", kTwoSocketXml), &hand_written).ok());
  Topology live;
  ASSERT_TRUE(DiscoverTopology(&live).ok());
  for (const Topology& original : {hand_written, live}) {
    Topology loaded;
    Status status = TopologyFromJson(TopologyToJson(original), "host.json", &loaded);
    ASSERT_TRUE(status.ok()) << status.ToString();
    Topology expected = original;
    expected.source = "json:host.json";
    EXPECT_EQ(loaded, expected) << TopologyToJson(original);
  }
}

TEST_F(TopologyTest, MissingFieldsKeepTheirUnknownValues) {
  Topology topo;
  Status status = TopologyFromJson(R"({"cores": 4, "gpus": [{"name": "A100"}], "nics": [{"name": "eth0"}]})",
                                   "partial.json", &topo);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(topo.cores, 4);
  ASSERT_EQ(topo.gpus.size(), 1u);
  EXPECT_EQ(topo.gpus[0].numa_node, -1);
  ASSERT_EQ(topo.nics.size(), 1u);
  EXPECT_EQ(topo.nics[0].kind, "other");
}

// Topologies that cannot be (QA, session 53: each loaded): the error names the field and the value.
TEST_F(TopologyTest, ImpossibleJsonTopologiesNameTheFieldAndValue) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"numa_nodes": 2, "gpus": [{"numa_node": 7}]})", "gpus[0].numa_node: must be -1 (unknown) or one of the host's 2 NUMA nodes, 0..1 (found 7)"},
      {R"({"gpus": [{"package": -9}]})", "gpus[0].package: must be -1 (unknown) or an id >= 0"},
      {R"({"gpus": [{"index": 0}, {"index": 0}]})", "gpus[1].index: must be 0..1, each GPU its own (found 0)"},
      {R"({"gpus": [{"pci_bus_id": "0000:01:00.0"}, {"pci_bus_id": "0000:01:00.0"}]})", "gpus[1].pci_bus_id: names another GPU's PCI device"},
      {R"({"gpus": [{"pci_bus_id": "banana"}]})", "gpus[0].pci_bus_id: must be empty or a PCI address"},
      {R"({"gpus": [{"memory_GiB": 1e300}]})", "gpus[0].memory_GiB: must be in [0, 1048576] GiB"},
      {R"({"cores": 4, "pus": 2})", "pus: must be at least the 4 cores"},
      {R"({"nics": [{"name": ""}]})", "nics[0].name: must name the interface"},
      {R"({"nics": [{"name": "eth0"}, {"name": "eth0"}]})", "nics[1].name: names another NIC (found \"eth0\")"},
      {R"({"cores": 2147483648})", "cores: out of range (a 32-bit integer) (found 2147483648)"},
  };
  for (const auto& [text, message] : cases) {
    Topology topo;
    Status status = TopologyFromJson(text, "bad.json", &topo);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(status.message().find(message), std::string::npos) << text << "\n" << status.ToString();
  }
  Topology topo;  // indexes not given are positions
  ASSERT_TRUE(TopologyFromJson(R"({"gpus": [{"name": "a"}, {"name": "b"}]})", "ok.json", &topo).ok());
  EXPECT_EQ(topo.gpus[1].index, 1);
}

TEST_F(TopologyTest, MissingXmlFileIsInvalidArgumentNamingThePath) {
  std::string path = PathOf("does_not_exist.xml");
  Topology topo;
  Status status = LoadTopologyXml(path, &topo);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(path), std::string::npos) << status.ToString();
}

TEST_F(TopologyTest, MalformedXmlIsInvalidArgumentNamingThePath) {
  std::string path = WriteFile("broken.xml", "<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n  <object type=");
  Topology topo;
  Status status = LoadTopologyXml(path, &topo);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(path), std::string::npos) << status.ToString();
}

// hwloc's parser dies of SIGSEGV on an attribute name not followed by '=' (lstopo --input too);
// found by the fuzz tier. The process must live and say so (session 57: it was killed).
TEST_F(TopologyTest, XmlThatCrashesHwlocIsInvalidArgument) {
  std::string xml = kTwoSocketXml;
  const std::string attribute = "complete_nodeset=\"0x00000003\"";
  ASSERT_NE(xml.find(attribute), std::string::npos);
  xml.replace(xml.find(attribute), attribute.size(), "complete_nodesetl\"0x00000003\"");
  Topology topo;
  Status status = LoadTopologyXmlText(xml, "crashing.xml", &topo);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("crashing.xml: hwloc cannot load this XML topology: hwloc's parser crashes on it"),
            std::string::npos) << status.ToString();
}

// /dev/zero would fill memory and a directory is no export: refused at once. A pipe is read
// (<(ssh node lstopo --of xml -)); a FIFO that nobody writes to is refused, not waited on.
TEST_F(TopologyTest, XmlFromAPipeIsReadAndOtherFilesAreRefused) {
  for (const std::string& path : {std::string("/dev/zero"), dir_.string()}) {
    Topology topo;
    Status status = LoadTopologyXml(path, &topo);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
    EXPECT_NE(status.message().find(path + ": not a regular file"), std::string::npos) << status.ToString();
  }
  const std::string fifo = PathOf("fifo.xml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Topology topo;
  Status status = LoadTopologyXml(fifo, &topo);
  EXPECT_EQ(status.message(), fifo + ": a pipe that nothing was written to") << status.ToString();

  // As bash's <(...) hands it over: /dev/fd/N of a pipe that holds the export (a few KB, within
  // the pipe's buffer, so it is written whole before anyone reads).
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string xml = kTwoSocketXml;
  ASSERT_EQ(write(fds[1], xml.data(), xml.size()), ssize_t(xml.size()));
  close(fds[1]);
  const std::string piped = "/dev/fd/" + std::to_string(fds[0]);
  status = LoadTopologyXml(piped, &topo);
  close(fds[0]);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(topo.source, "hwloc-xml:" + piped);
  EXPECT_EQ(topo.hostname, "fakehost");
  ASSERT_EQ(topo.gpus.size(), 1u);
}

TEST_F(TopologyTest, MalformedJsonNamesTheOriginAndTheField) {
  struct Case {
    const char* text;
    const char* expected_in_message;
  };
  const Case cases[] = {
      {"{\"cores\": 2,", "malformed JSON"},
      // nlohmann keeps the last of two equal keys; a second numa_node would move the GPU unseen.
      {R"({"gpus": [{"index": 0, "numa_node": 0, "numa_node": 1}]})", "duplicate key \"numa_node\" in \"gpus[0]\""},
      {R"({"cores": 2, "pus": 4, "cores": 8})", "duplicate key \"cores\" in the top-level object"},
      {"[1, 2]", "expected an object"},
      {R"({"cores": "two"})", "cores: expected an integer"},
      {R"({"pus": 1.5})", "pus: expected an integer"},
      {R"({"cores": -1})", "cores: must be >= 0"},
      {R"({"memory_GiB": "lots"})", "memory_GiB: expected a number"},
      {R"({"gpus": {}})", "gpus: expected an array"},
      {R"({"gpus": [{"index": 0}, {"numa_node": "near"}]})", "gpus[1].numa_node: expected an integer"},
      {R"({"nics": [{"name": "ib0", "kind": "token-ring"}]})", "nics[0].kind: must be"},
      {R"({"nics": [{"name": "ib0", "sped_Gbps": 200}]})", "nics[0].sped_Gbps: unknown field"},
  };
  for (const Case& c : cases) {
    Topology topo;
    Status status = TopologyFromJson(c.text, "cluster.json", &topo);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(status.message().rfind("cluster.json: ", 0), 0u) << status.ToString();
    EXPECT_NE(status.message().find(c.expected_in_message), std::string::npos) << status.ToString();
  }
}

// 100000 nested arrays (200 KB) crashed nlohmann's recursive copy; refused while parsing.
TEST_F(TopologyTest, DeepNestingIsRefusedNotACrash) {
  const std::string text = R"({"hostname": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  Topology topo;
  Status status = TopologyFromJson(text, "deep.json", &topo);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().rfind("deep.json: objects and arrays nested deeper than 64 levels (at \"hostname", 0), 0u)
      << status.message();
}

}  // namespace
}  // namespace braid
