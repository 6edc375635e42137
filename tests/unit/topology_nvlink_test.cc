// NVLink from hwloc: the "NVLinkBandwidth" distances that hwloc's NVML backend records (and
// keeps in XML exports) become each GPU's NVLink bandwidth to NVSwitches and to other GPUs.
// The boards are written here as hwloc 2 XML, in the form of hwloc's own NVML exports (GPUs as
// their nvml OS devices, NVSwitch ports as PCI devices, POWER CPUs as packages), and checked
// with `lstopo-no-graphics --input FILE --distances`.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "braid/topology.h"

namespace braid {
namespace {

// What the matrix lists besides the GPUs' nvml devices and the switch ports.
struct MatrixExtras {
  bool cpu = false;        // the package (a POWER CPU's NVLink port)
  bool nic = false;        // a ConnectX NIC's PCI device (0000:40:00.0): no switch
  bool gpu0_pci = false;   // GPU 0 a second time, as its PCI device
};

// A one-socket host with `gpus` H100s (PCI 0000:1k:00.0, each with its nvml OS device) and
// `switches` NVSwitch ports (0000:3s:00.0), and the NVLinkBandwidth matrix whose value from
// object i to object j is mbps(i, j) (MB/s), objects numbered GPUs first, then switches, then
// the extras in the order of MatrixExtras.
std::string NvlinkHostXml(int gpus, int switches, MatrixExtras extras, const std::function<uint64_t(int, int)>& mbps) {
  std::string devices;
  std::vector<std::string> references;
  for (int k = 0; k < gpus; ++k) {
    devices += fmt::format(R"(
        <object type="PCIDev" gp_index="{}" pci_busid="0000:{:02x}:00.0" pci_type="0302 [10de:2330] [10de:16c1] a1" pci_link_speed="63.015385">
          <object type="OSDev" gp_index="{}" name="nvml{}" osdev_type="1">
            <info name="Backend" value="NVML"/>
            <info name="GPUModel" value="NVIDIA H100 80GB HBM3"/>
          </object>
        </object>)",
                           100 + k, 0x10 + k, 200 + k, k);
    references.push_back(fmt::format("OSDev:{}", 200 + k));
  }
  for (int s = 0; s < switches; ++s) {
    devices += fmt::format(R"(
        <object type="PCIDev" gp_index="{}" subtype="NVSwitch" pci_busid="0000:{:02x}:00.0" pci_type="0680 [10de:22a3] [10de:1796] a1" pci_link_speed="1.000000"/>)",
                           300 + s, 0x30 + s);
    references.push_back(fmt::format("PCIDev:{}", 300 + s));
  }
  if (extras.nic) {
    devices += R"(
        <object type="PCIDev" gp_index="400" pci_busid="0000:40:00.0" pci_type="0207 [15b3:101b] [15b3:0007] 00" pci_link_speed="31.507692"/>)";
  }
  if (extras.cpu) references.push_back("Package:2");
  if (extras.nic) references.push_back("PCIDev:400");
  if (extras.gpu0_pci) references.push_back("PCIDev:100");
  const size_t n = references.size();
  std::string indexes;
  for (const std::string& r : references) indexes += r + " ";
  // hwloc writes a matrix as rows of values, each element's text length in its "length".
  std::string matrix = fmt::format(R"(
  <distances2hetero nbobjs="{}" kind="25" name="NVLinkBandwidth">
    <indexes length="{}">{}</indexes>)",
                                   n, indexes.size(), indexes);
  for (size_t i = 0; i < n; ++i) {
    std::string row;
    for (size_t j = 0; j < n; ++j) row += std::to_string(mbps(int(i), int(j))) + " ";
    matrix += fmt::format(R"(
    <u64values length="{}">{}</u64values>)", row.size(), row);
  }
  matrix += "\n  </distances2hetero>";
  return fmt::format(R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" allowed_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" allowed_nodeset="0x00000001" gp_index="1">
    <info name="HostName" value="nvlink-host"/>
    <object type="Package" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="2">
      <object type="NUMANode" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="3" local_memory="17179869184"/>
      <object type="Core" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="4">
        <object type="PU" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="5"/>
      </object>
      <object type="Bridge" gp_index="6" bridge_type="0-1" depth="0" bridge_pci="0000:[10-3f]">{}
      </object>
    </object>
  </object>{}
</topology>
)",
                     devices, matrix);
}

class TopologyNvlinkTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  Topology Load(const std::string& xml) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = (std::filesystem::temp_directory_path() /
             fmt::format("braid_nvlink_{}_{}.xml", getpid(), info->name())).string();
    std::ofstream(path_) << xml;
    Topology topo;
    const Status status = LoadTopologyXml(path_, &topo);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << xml;
    return topo;
  }
  std::string path_;
};

// An HGX H100 board's shape: every GPU has 18 links of 25 GB/s per direction spread over the
// switch ports (here 4 ports: 5+4+4+5 links), none straight to another GPU; the diagonal (a
// GPU's own bandwidth) is not a link.
TEST_F(TopologyNvlinkTest, GpusOnNVSwitchesSumTheirLinksToTheSwitches) {
  constexpr int kGpus = 4, kSwitches = 4;
  const int links_to_port[kSwitches] = {5, 4, 4, 5};
  const Topology topo = Load(NvlinkHostXml(kGpus, kSwitches, {}, [&](int i, int j) -> uint64_t {
    if (i == j) return 1000000;
    const bool gpu_i = i < kGpus, gpu_j = j < kGpus;
    if (gpu_i == gpu_j) return 0;  // GPU-GPU and switch-switch: no direct link
    return uint64_t(links_to_port[gpu_i ? j - kGpus : i - kGpus]) * 25000;
  }));
  ASSERT_EQ(topo.gpus.size(), size_t(kGpus)) << TopologySummary(topo) << "NVSwitch ports are not GPUs";
  for (const TopoGpu& g : topo.gpus) {
    EXPECT_DOUBLE_EQ(g.nvlink_switch_GBps, 450) << g.pci_bus_id;
    EXPECT_EQ(g.nvlink_gpu_GBps, 0);
    EXPECT_EQ(g.nvlink_gpu_peers, 0);
  }
  EXPECT_NE(TopologySummary(topo).find("GPU 3: NVIDIA H100 80GB HBM3 [0000:13:00.0] NUMA 0, package 0, NVLink 450 "
                                       "GB/s to NVSwitch"),
            std::string::npos)
      << TopologySummary(topo);
  // The new fields survive braid's JSON form.
  Topology back;
  ASSERT_TRUE(TopologyFromJson(TopologyToJson(topo), "board.json", &back).ok());
  back.source = topo.source;
  EXPECT_EQ(back, topo);
}

// A POWER8 box's shape (hwloc's own example): GPUs in linked pairs, each GPU also linked to
// its CPU; the CPU link is not GPU-to-GPU bandwidth. Then an NVLink-bridged pair of PCIe cards.
TEST_F(TopologyNvlinkTest, DirectLinksCountPeersAndLeaveTheCpuOut) {
  const Topology pairs = Load(NvlinkHostXml(4, 0, {.cpu = true}, [](int i, int j) -> uint64_t {
    if (i == j) return 1000000;
    if (i == 4 || j == 4) return 40000;  // every GPU to the package
    return i / 2 == j / 2 ? 40000 : 0;   // 0-1 and 2-3
  }));
  ASSERT_EQ(pairs.gpus.size(), 4u);
  for (const TopoGpu& g : pairs.gpus) {
    EXPECT_DOUBLE_EQ(g.nvlink_gpu_GBps, 40) << g.pci_bus_id;
    EXPECT_EQ(g.nvlink_gpu_peers, 1);
    EXPECT_EQ(g.nvlink_switch_GBps, 0) << "the CPU's port is not a switch";
  }
  EXPECT_NE(TopologySummary(pairs).find("NVLink 40 GB/s to 1 GPU\n"), std::string::npos) << TopologySummary(pairs);

  const Topology mesh = Load(NvlinkHostXml(4, 0, {}, [](int i, int j) -> uint64_t { return i == j ? 0 : 100000; }));
  for (const TopoGpu& g : mesh.gpus) {
    EXPECT_DOUBLE_EQ(g.nvlink_gpu_GBps, 300);
    EXPECT_EQ(g.nvlink_gpu_peers, 3);
  }
}

// Without the matrix (an hwloc without NVML, as Debian's) nothing is claimed.
TEST_F(TopologyNvlinkTest, NoMatrixMeansNoClaim) {
  std::string xml = NvlinkHostXml(2, 0, {}, [](int, int) -> uint64_t { return 0; });
  const size_t begin = xml.find("\n  <distances2hetero");
  const std::string end_tag = "</distances2hetero>";
  xml.erase(begin, xml.find(end_tag) + end_tag.size() - begin);
  const Topology topo = Load(xml);
  ASSERT_EQ(topo.gpus.size(), 2u);
  for (const TopoGpu& g : topo.gpus) EXPECT_EQ(g.nvlink_switch_GBps + g.nvlink_gpu_GBps + g.nvlink_gpu_peers, 0);
}

// QA, session 54: GPU 0 listed twice (its nvml device and its PCI device) counted itself as a
// peer and each link twice (6 peers on a 4-GPU host); a NIC in the matrix became an NVSwitch.
// Each peer and each switch port now counts once, at the most listed, and only NVIDIA devices
// are switches. A value no link can have is refused, naming both ends.
TEST_F(TopologyNvlinkTest, EachPeerCountsOnceAndOnlyNvidiaDevicesAreSwitches) {
  // Objects: nvml0..nvml3 (0-3), the NIC (4), GPU 0's PCI device (5).
  const auto gpu_of = [](int i) { return i == 5 ? 0 : i; };
  const Topology topo = Load(NvlinkHostXml(4, 0, {.nic = true, .gpu0_pci = true}, [&](int i, int j) -> uint64_t {
    if (i == 4 || j == 4) return 25000;  // the NIC: not NVLink to a switch
    return gpu_of(i) == gpu_of(j) ? 1000000 : 100000;
  }));
  ASSERT_EQ(topo.gpus.size(), 4u);
  for (const TopoGpu& g : topo.gpus) {
    EXPECT_EQ(g.nvlink_gpu_peers, 3) << g.pci_bus_id;
    EXPECT_DOUBLE_EQ(g.nvlink_gpu_GBps, 300) << g.pci_bus_id;
    EXPECT_EQ(g.nvlink_switch_GBps, 0) << g.pci_bus_id << ": a NIC is no NVSwitch";
  }
  Topology back;
  ASSERT_TRUE(TopologyFromJson(TopologyToJson(topo), "mesh.json", &back).ok());

  const std::string xml = NvlinkHostXml(2, 0, {}, [](int i, int j) -> uint64_t {
    return i == j ? 0 : uint64_t{18446744073709551615u};
  });
  const std::string path = (std::filesystem::temp_directory_path() / fmt::format("braid_nvlink_huge_{}.xml", getpid())).string();
  std::ofstream(path) << xml;
  Topology huge;
  const Status status = LoadTopologyXml(path, &huge);
  std::filesystem::remove(path);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(path + ": hwloc's NVLinkBandwidth matrix gives 18446744073709551615 MB/s from nvml0 to "
                                  "nvml1, more than the 1e9 MB/s"),
            std::string::npos) << status.ToString();

  // Each link within bounds, their sum not: 3 peers at 5e8 MB/s make 1.5e6 GB/s, which
  // TopologyFromJson would refuse to read back (review, session 54).
  std::ofstream(path) << NvlinkHostXml(4, 0, {}, [](int i, int j) -> uint64_t { return i == j ? 0 : 500000000; });
  const Status summed = LoadTopologyXml(path, &huge);
  std::filesystem::remove(path);
  EXPECT_NE(summed.message().find("gives GPU 0 (0000:10:00.0) 1.5e+06 GB/s to other GPUs"), std::string::npos)
      << summed.ToString();
}

TEST(TopologyNvlinkJson, ImpossibleLinksNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"gpus": [{"nvlink_switch_GBps": -1}]})", "gpus[0].nvlink_switch_GBps: must be in [0, 1e6] GB/s"},
      {R"({"gpus": [{"nvlink_gpu_GBps": 1e9, "nvlink_gpu_peers": 0}]})", "gpus[0].nvlink_gpu_GBps: must be in [0, 1e6]"},
      {R"({"gpus": [{"nvlink_gpu_GBps": 50, "nvlink_gpu_peers": 2}, {}]})", "gpus[0].nvlink_gpu_peers: must be 0..1"},
      {R"({"gpus": [{"nvlink_gpu_GBps": 50}, {}]})", "gpus[0].nvlink_gpu_peers: must be 0 exactly when nvlink_gpu_GBps is"},
  };
  for (const auto& [text, expected] : cases) {
    Topology topo;
    const Status status = TopologyFromJson(text, "t.json", &topo);
    EXPECT_NE(status.message().find(expected), std::string::npos) << text << " -> " << status.ToString();
  }
}

}  // namespace
}  // namespace braid
