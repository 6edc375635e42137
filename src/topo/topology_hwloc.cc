// braid::Topology from hwloc: the live machine (DiscoverTopology) or an hwloc XML export
// (LoadTopologyXml). Both go through the same hwloc object tree; only the live machine adds NIC
// link speeds, which hwloc does not record and which sysfs only knows for this host.
#include <fcntl.h>
#include <hwloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "braid/topology.h"
#include "core/input_file.h"

namespace braid {
namespace {

constexpr double kBytesPerGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kKiBPerGiB = 1024.0 * 1024.0;

struct TopologyDestroyer {
  void operator()(hwloc_topology* topology) const { hwloc_topology_destroy(topology); }
};
using HwlocTopology = std::unique_ptr<hwloc_topology, TopologyDestroyer>;

// An hwloc topology that keeps the PCI and OS devices worth knowing (GPUs, NICs, disks; not
// every bridge and DMA channel). The filter applies to XML import too: without it hwloc would
// drop the I/O objects of an export.
Status NewHwlocTopology(HwlocTopology* out) {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    return Status::SystemError(fmt::format("hwloc_topology_init: {}", std::strerror(errno)));
  }
  out->reset(raw);
  if (hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) != 0) {
    return Status::SystemError(fmt::format("hwloc I/O type filter: {}", std::strerror(errno)));
  }
  return Status::Ok();
}

std::string InfoOrEmpty(hwloc_obj_t obj, const char* name) {
  const char* value = hwloc_obj_get_info_by_name(obj, name);
  return value ? value : "";
}

std::optional<std::string> ReadFirstLine(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  if (!file || !std::getline(file, line)) return std::nullopt;
  return line;
}

// The leading number of a sysfs value ("25000", "200 Gb/sec (4X HDR)"); nullopt if none.
std::optional<double> LeadingNumber(const std::string& text) {
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return std::nullopt;
  return value;
}

// Link rate in Gb/s from sysfs; 0 when the interface is down (speed reads -1) or unreadable.
double EthernetSpeedGbps(const std::string& interface) {
  auto line = ReadFirstLine("/sys/class/net/" + interface + "/speed");  // Mb/s
  std::optional<double> mbps = line ? LeadingNumber(*line) : std::nullopt;
  return mbps && *mbps > 0 ? *mbps / 1000.0 : 0.0;
}

double InfinibandSpeedGbps(const std::string& device) {
  // Port 1 only: a multi-port HCA appears as one device per port on current Mellanox/NVIDIA
  // hardware (mlx5_0, mlx5_1, ...).
  auto line = ReadFirstLine("/sys/class/infiniband/" + device + "/ports/1/rate");  // "200 Gb/sec (4X HDR)"
  std::optional<double> gbps = line ? LeadingNumber(*line) : std::nullopt;
  return gbps && *gbps > 0 ? *gbps : 0.0;
}

// The logical index of the only object of `type` whose cpuset (nodeset for NUMA nodes) meets
// `near`'s; -1 when none or several do, e.g. for a device attached to the whole machine of a
// two-socket host, whose locality hwloc does not know.
int OnlyIntersectingIndex(hwloc_topology_t topology, hwloc_obj_type_t type, hwloc_obj_t near) {
  int found = -1;
  for (hwloc_obj_t candidate = hwloc_get_next_obj_by_type(topology, type, nullptr); candidate != nullptr;
       candidate = hwloc_get_next_obj_by_type(topology, type, candidate)) {
    bool meets = type == HWLOC_OBJ_NUMANODE ? hwloc_bitmap_intersects(candidate->nodeset, near->nodeset)
                                            : hwloc_bitmap_intersects(candidate->cpuset, near->cpuset);
    if (!meets) continue;
    if (found >= 0) return -1;
    found = static_cast<int>(candidate->logical_index);
  }
  return found;
}

struct Locality {
  int numa_node = -1;
  int package = -1;
};

// The NUMA node of the anchor's CPUs' ordinary memory: memory beside it in the same package that
// hwloc marks as another kind (HBM, MCDRAM, NVM, CXL...) is not the device's node, as nvidia-smi
// topo -m does not name it either (a package with HBM gave "NUMA ?"; QA, session 53). When no
// such node's CPUs meet the anchor's (they are outside the allowed set, as in a container pinned
// to the other socket), the only node the anchor's nodeset meets.
int NumaNodeOf(hwloc_topology_t topology, hwloc_obj_t anchor) {
  int found = -1;
  for (hwloc_obj_t node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, nullptr); node != nullptr;
       node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, node)) {
    const bool ordinary = node->subtype == nullptr || std::strcmp(node->subtype, "DRAM") == 0;
    if (!ordinary || !hwloc_bitmap_intersects(node->cpuset, anchor->cpuset)) continue;
    if (found >= 0) return -1;
    found = static_cast<int>(node->logical_index);
  }
  return found >= 0 ? found : OnlyIntersectingIndex(topology, HWLOC_OBJ_NUMANODE, anchor);
}

// The package that holds the anchor (hwloc places a device under its socket's objects), else
// the only one whose CPUs meet the anchor's. By ancestry first: a package whose CPUs are all
// outside the allowed set has an empty cpuset that meets nothing.
int PackageOf(hwloc_topology_t topology, hwloc_obj_t anchor) {
  for (hwloc_obj_t obj = anchor; obj != nullptr; obj = obj->parent) {
    if (obj->type == HWLOC_OBJ_PACKAGE) return static_cast<int>(obj->logical_index);
  }
  return OnlyIntersectingIndex(topology, HWLOC_OBJ_PACKAGE, anchor);
}

Locality LocalityOf(hwloc_topology_t topology, hwloc_obj_t io_obj) {
  hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(topology, io_obj);
  if (anchor == nullptr) return {};
  return {NumaNodeOf(topology, anchor), PackageOf(topology, anchor)};
}

std::string PciBusId(hwloc_obj_t pci) {
  const auto& attr = pci->attr->pcidev;
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", attr.domain, attr.bus, attr.dev, attr.func);
}

bool IsGpuOsDevice(hwloc_obj_t obj) {
  auto type = obj->attr->osdev.type;
  return type == HWLOC_OBJ_OSDEV_GPU || type == HWLOC_OBJ_OSDEV_COPROC;
}

// An OS device of a compute backend (CUDA, OpenCL, Level Zero: co-processors; NVML, ROCm SMI:
// they name the model), not a display driver's card0 / renderD128.
bool IsComputeOsDevice(hwloc_obj_t obj) {
  return obj->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC ||
         (IsGpuOsDevice(obj) && !InfoOrEmpty(obj, "GPUModel").empty());
}

bool HasComputeOsDevice(hwloc_obj_t pci) {
  for (hwloc_obj_t child = pci->io_first_child; child != nullptr; child = child->next_sibling) {
    if (child->type == HWLOC_OBJ_OS_DEVICE && IsComputeOsDevice(child)) return true;
  }
  return false;
}

// Compute GPUs by PCI vendor and class: NVIDIA's display controllers (VGA 0x0300, 3D 0x0302);
// AMD's Instinct accelerators (processing accelerator 0x1200: MI300; other display controller
// 0x0380: MI100, MI250X; 3D 0x0302). An AMD VGA controller (a Radeon card, a CPU's integrated
// graphics, a server's onboard ES1000) counts only when a compute backend lists it; a BMC's VGA
// (Matrox, ASPEED) never does. (MI300 went uncounted and an ES1000 took GPU index 0; QA, session 53.)
bool IsGpuPciDevice(hwloc_obj_t pci) {
  const auto& attr = pci->attr->pcidev;
  if (attr.vendor_id == 0x10de) return attr.class_id == 0x0300 || attr.class_id == 0x0302;
  if (attr.vendor_id != 0x1002) return false;
  if (attr.class_id == 0x1200 || attr.class_id == 0x0380 || attr.class_id == 0x0302) return true;
  return attr.class_id == 0x0300 && HasComputeOsDevice(pci);
}

// What an OS device from a GPU backend (CUDA, NVML, RSMI, OpenCL...) knows: the marketing name
// and, from CUDA or OpenCL, the memory size (KiB in both).
void FillFromGpuOsDevice(hwloc_obj_t osdev, TopoGpu* gpu) {
  std::string model = InfoOrEmpty(osdev, "GPUModel");
  if (!model.empty()) gpu->name = model;
  // A value that is not a plain size from 1 MiB to 1 PiB (a hand-edited XML: "inf", "-5",
  // "1e300", "1") stays unknown (0) rather than becoming a GPU that fits any model or none; a
  // cluster file's memory_GiB has the same lower bound.
  constexpr double kMinGpuMemoryGiB = 1e-3, kMaxGpuMemoryGiB = 1 << 20;
  for (const char* field : {"CUDAGlobalMemorySize", "OpenCLGlobalMemorySize"}) {
    const std::string memory_kib = InfoOrEmpty(osdev, field);
    char* end = nullptr;
    const double gib = std::strtod(memory_kib.c_str(), &end) / kKiBPerGiB;
    if (!memory_kib.empty() && *end == '\0' && gib >= kMinGpuMemoryGiB && gib <= kMaxGpuMemoryGiB) {
      gpu->memory_GiB = gib;
      return;
    }
  }
}

// The data-centre GPUs plan-sim has presets for, by PCI device id (vendor 0x10de), named as the
// PCI ID Repository names them: an hwloc without its CUDA or NVML backend (Debian's) and without
// PCI names (no libpciaccess plugin) sees only the ids, which no preset matches.
const char* KnownNvidiaGpuName(unsigned device_id) {
  switch (device_id) {
    case 0x2330: return "NVIDIA H100 SXM5 80GB";
    case 0x2331: return "NVIDIA H100 PCIe";
    case 0x2321: return "NVIDIA H100 NVL";
    case 0x2335: return "NVIDIA H200 SXM 141GB";
    case 0x20b0: return "NVIDIA A100 SXM4 40GB";
    case 0x20b2: return "NVIDIA A100 SXM4 80GB";
    case 0x20b5: return "NVIDIA A100 PCIe 80GB";
    case 0x20f1: return "NVIDIA A100 PCIe 40GB";
    case 0x26b9: return "NVIDIA L40S";
    default: return nullptr;
  }
}

TopoGpu GpuFromPciDevice(hwloc_topology_t topology, hwloc_obj_t pci) {
  TopoGpu gpu;
  gpu.pci_bus_id = PciBusId(pci);
  const auto& attr = pci->attr->pcidev;
  std::string vendor = InfoOrEmpty(pci, "PCIVendor");
  std::string device = InfoOrEmpty(pci, "PCIDevice");
  const char* known = attr.vendor_id == 0x10de ? KnownNvidiaGpuName(attr.device_id) : nullptr;
  if (!device.empty()) {
    gpu.name = vendor.empty() ? device : vendor + " " + device;
  } else if (pci->name != nullptr && *pci->name != '\0') {
    gpu.name = pci->name;
  } else if (known != nullptr) {
    gpu.name = known;
  } else {
    gpu.name = fmt::format("PCI {:04x}:{:04x}", attr.vendor_id, attr.device_id);
  }
  for (hwloc_obj_t child = pci->io_first_child; child != nullptr; child = child->next_sibling) {
    if (child->type == HWLOC_OBJ_OS_DEVICE && IsGpuOsDevice(child)) FillFromGpuOsDevice(child, &gpu);
  }
  Locality locality = LocalityOf(topology, pci);
  gpu.numa_node = locality.numa_node;
  gpu.package = locality.package;
  return gpu;
}

// GPUs that hwloc knows only from a backend, without their PCI device (e.g. a container that
// hides /sys/bus/pci). Every backend lists each GPU once, so the GPUs are those of the backend
// that lists the most; counting across backends would count cuda0 and nvml0 twice.
std::vector<TopoGpu> GpusWithoutPciDevice(hwloc_topology_t topology) {
  std::map<std::string, std::vector<hwloc_obj_t>> by_backend;
  for (hwloc_obj_t osdev = hwloc_get_next_osdev(topology, nullptr); osdev != nullptr;
       osdev = hwloc_get_next_osdev(topology, osdev)) {
    bool under_pci = osdev->parent != nullptr && osdev->parent->type == HWLOC_OBJ_PCI_DEVICE;
    if (!IsGpuOsDevice(osdev) || under_pci || InfoOrEmpty(osdev, "GPUModel").empty()) continue;
    by_backend[InfoOrEmpty(osdev, "Backend")].push_back(osdev);
  }
  const std::vector<hwloc_obj_t>* chosen = nullptr;
  for (const auto& [backend, devices] : by_backend) {
    if (chosen == nullptr || devices.size() > chosen->size()) chosen = &devices;
  }
  std::vector<TopoGpu> gpus;
  if (chosen == nullptr) return gpus;
  for (hwloc_obj_t osdev : *chosen) {
    TopoGpu gpu;
    gpu.name = osdev->name != nullptr ? osdev->name : "";
    FillFromGpuOsDevice(osdev, &gpu);
    Locality locality = LocalityOf(topology, osdev);
    gpu.numa_node = locality.numa_node;
    gpu.package = locality.package;
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

std::vector<TopoGpu> CollectGpus(hwloc_topology_t topology) {
  std::vector<TopoGpu> gpus;
  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topology, nullptr); pci != nullptr;
       pci = hwloc_get_next_pcidev(topology, pci)) {
    if (IsGpuPciDevice(pci)) gpus.push_back(GpuFromPciDevice(topology, pci));
  }
  // Bus ids are fixed-width lower-case hex, so string order is bus order.
  std::sort(gpus.begin(), gpus.end(),
            [](const TopoGpu& a, const TopoGpu& b) { return a.pci_bus_id < b.pci_bus_id; });
  for (TopoGpu& gpu : GpusWithoutPciDevice(topology)) gpus.push_back(std::move(gpu));
  for (size_t i = 0; i < gpus.size(); ++i) gpus[i].index = static_cast<int>(i);
  return gpus;
}

// The GPU (index into `gpus`) that an object of hwloc's NVLink matrix stands for: its PCI
// device, or an OS device (nvml0) on it; -1 for anything else (an NVSwitch port, a POWER CPU).
int GpuOfMatrixObject(hwloc_obj_t obj, const std::vector<TopoGpu>& gpus) {
  if (obj->type == HWLOC_OBJ_OS_DEVICE) obj = obj->parent;
  if (obj == nullptr || obj->type != HWLOC_OBJ_PCI_DEVICE) return -1;
  const std::string bus_id = PciBusId(obj);
  for (size_t i = 0; i < gpus.size(); ++i) {
    if (gpus[i].pci_bus_id == bus_id) return int(i);
  }
  return -1;
}

// An NVSwitch port in hwloc's NVLink matrix: a PCI device that NVML marks so, or any other
// NVIDIA device there that is not a GPU (some switch ports carry no ids). Another vendor's device
// in the matrix (a NIC) is no switch.
bool IsNvSwitchObject(hwloc_obj_t obj) {
  if (obj->type != HWLOC_OBJ_PCI_DEVICE) return false;
  return (obj->subtype != nullptr && std::strcmp(obj->subtype, "NVSwitch") == 0) ||
         obj->attr->pcidev.vendor_id == 0x10de;
}

std::string MatrixObjectName(hwloc_obj_t obj) {
  if (obj->type == HWLOC_OBJ_PCI_DEVICE) return PciBusId(obj);
  if (obj->name != nullptr) return obj->name;
  return fmt::format("{} {}", hwloc_obj_type_string(obj->type), obj->logical_index);
}

// NVLink bandwidths from hwloc's "NVLinkBandwidth" matrix (NVML backend): MB/s per direction
// between each pair of objects, summed over the pair's links, the diagonal holding an object's
// own. Its objects are GPUs (as their NVML OS devices), NVSwitch ports (PCI devices) and POWER
// CPUs (packages: a GPU's link to its CPU is not GPU-to-GPU bandwidth, so it is left out). A GPU
// listed twice (its PCI device and its NVML device) or a pair listed twice counts once, at the
// most listed (QA, session 54: 6 peers on a 4-GPU host). A GPU seen only through a backend,
// without its PCI device, cannot be matched and keeps 0. A value above 1e9 MB/s (1e6 GB/s,
// some 20 times NVLink 5's 18 links) is refused: TopologyFromJson refuses it too.
Status AddNvlinkBandwidths(hwloc_topology_t topology, std::vector<TopoGpu>* gpus) {
  unsigned count = 1;
  hwloc_distances_s* matrix = nullptr;
  if (hwloc_distances_get_by_name(topology, "NVLinkBandwidth", &count, &matrix, 0) != 0 || count == 0)
    return Status::Ok();
  constexpr double kMBpsPerGBps = 1000, kMaxMBps = 1e9;
  std::vector<std::map<int, double>> to_gpu(gpus->size());             // peer GPU -> GB/s
  std::vector<std::map<hwloc_obj_t, double>> to_switch(gpus->size());  // switch port -> GB/s
  Status status;
  const unsigned n = matrix->nbobjs;
  for (unsigned i = 0; i < n && status.ok() && (matrix->kind & HWLOC_DISTANCES_KIND_MEANS_BANDWIDTH); ++i) {
    const int gpu = GpuOfMatrixObject(matrix->objs[i], *gpus);
    if (gpu < 0) continue;
    for (unsigned j = 0; j < n; ++j) {
      const hwloc_uint64_t mbps = matrix->values[size_t(i) * n + j];
      hwloc_obj_t peer = matrix->objs[j];
      const int peer_gpu = GpuOfMatrixObject(peer, *gpus);
      if (j == i || peer_gpu == gpu || mbps == 0) continue;
      if (double(mbps) > kMaxMBps) {
        status = Status::InvalidArgument(fmt::format(
            "hwloc's NVLinkBandwidth matrix gives {} MB/s from {} to {}, more than the 1e9 MB/s a GPU's links can have",
            mbps, MatrixObjectName(matrix->objs[i]), MatrixObjectName(peer)));
        break;
      }
      const double GBps = double(mbps) / kMBpsPerGBps;
      if (peer_gpu >= 0) {
        double& most = to_gpu[size_t(gpu)][peer_gpu];
        most = std::max(most, GBps);
      } else if (IsNvSwitchObject(peer)) {
        double& most = to_switch[size_t(gpu)][peer];
        most = std::max(most, GBps);
      }
    }
  }
  hwloc_distances_release(topology, matrix);
  if (!status.ok()) return status;
  for (size_t g = 0; g < gpus->size(); ++g) {
    TopoGpu& gpu = (*gpus)[g];
    for (const auto& [peer, GBps] : to_gpu[g]) gpu.nvlink_gpu_GBps += GBps;
    gpu.nvlink_gpu_peers = int(to_gpu[g].size());
    for (const auto& [port, GBps] : to_switch[g]) gpu.nvlink_switch_GBps += GBps;
    // The sums too: TopologyFromJson reads neither above 1e6 GB/s back.
    if (std::max(gpu.nvlink_gpu_GBps, gpu.nvlink_switch_GBps) > kMaxMBps / kMBpsPerGBps) {
      return Status::InvalidArgument(fmt::format(
          "hwloc's NVLinkBandwidth matrix gives GPU {} ({}) {:g} GB/s to other GPUs and {:g} GB/s to NVSwitches, more "
          "than the 1e6 GB/s a GPU's links can have", g, gpu.pci_bus_id, gpu.nvlink_gpu_GBps, gpu.nvlink_switch_GBps));
    }
  }
  return Status::Ok();
}

// A network interface's kind from its hardware address length: 6 bytes for Ethernet, 20 for
// IP-over-InfiniBand ("80:00:00:48:fe:80:...").
std::string NetworkInterfaceKind(hwloc_obj_t osdev) {
  std::string address = InfoOrEmpty(osdev, "Address");
  if (address.empty()) return "other";
  size_t bytes = std::count(address.begin(), address.end(), ':') + 1;
  if (bytes == 6) return "ethernet";
  if (bytes == 20) return "infiniband";
  return "other";
}

// An RDMA device's kind on the live machine: "Ethernet" link layer means RoCE. hwloc does not
// record the link layer; from XML the network interface on the same PCI function says it (a
// 6-byte address: RoCE, or Cisco's usNIC; 20 bytes: IP over InfiniBand), else InfiniBand.
std::string RdmaDeviceKind(hwloc_obj_t osdev, bool live_machine) {
  if (live_machine) {
    auto link_layer = ReadFirstLine(std::string("/sys/class/infiniband/") + osdev->name + "/ports/1/link_layer");
    return link_layer && *link_layer == "Ethernet" ? "ethernet" : "infiniband";
  }
  if (osdev->parent != nullptr && osdev->parent->type == HWLOC_OBJ_PCI_DEVICE) {
    for (hwloc_obj_t sibling = osdev->parent->io_first_child; sibling != nullptr; sibling = sibling->next_sibling) {
      if (sibling->type == HWLOC_OBJ_OS_DEVICE && sibling->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK &&
          NetworkInterfaceKind(sibling) == "ethernet")
        return "ethernet";
    }
  }
  return "infiniband";
}

std::vector<TopoNic> CollectNics(hwloc_topology_t topology, bool live_machine) {
  std::vector<TopoNic> nics;
  for (hwloc_obj_t osdev = hwloc_get_next_osdev(topology, nullptr); osdev != nullptr;
       osdev = hwloc_get_next_osdev(topology, osdev)) {
    auto type = osdev->attr->osdev.type;
    if (type != HWLOC_OBJ_OSDEV_NETWORK && type != HWLOC_OBJ_OSDEV_OPENFABRICS) continue;
    if (osdev->name == nullptr || std::strcmp(osdev->name, "lo") == 0) continue;
    TopoNic nic;
    nic.name = osdev->name;
    nic.kind = type == HWLOC_OBJ_OSDEV_OPENFABRICS ? RdmaDeviceKind(osdev, live_machine)
                                                   : NetworkInterfaceKind(osdev);
    if (live_machine) {
      nic.speed_Gbps = type == HWLOC_OBJ_OSDEV_OPENFABRICS ? InfinibandSpeedGbps(nic.name)
                                                           : EthernetSpeedGbps(nic.name);
    }
    if (osdev->parent != nullptr && osdev->parent->type == HWLOC_OBJ_PCI_DEVICE) {
      nic.pci_bus_id = PciBusId(osdev->parent);
    }
    Locality locality = LocalityOf(topology, osdev);
    nic.numa_node = locality.numa_node;
    nic.package = locality.package;
    nics.push_back(std::move(nic));
  }
  return nics;
}

// The format version an hwloc XML text declares (<topology version="3.0">), "" if none is found
// in its first KiB: an export of a newer hwloc fails to load as if it were malformed.
std::string XmlFormatVersion(const std::string& xml) {
  const std::string head = xml.substr(0, 1024);
  constexpr std::string_view kTag = "<topology version=\"";
  const size_t at = head.find(kTag);
  if (at == std::string::npos) return "";
  const size_t begin = at + kTag.size(), end = head.find('"', begin);
  return end == std::string::npos || end - begin > 16 ? "" : head.substr(begin, end - begin);
}

int CountOf(hwloc_topology_t topology, hwloc_obj_type_t type) {
  return std::max(0, hwloc_get_nbobjs_by_type(topology, type));
}

// Text from an XML file is printed in summaries and outputs: a control character there (a
// newline in HostName) forged output lines (QA, session 56). Each becomes '?'.
void MakePrintable(std::string* text) {
  for (char& c : *text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
}

// *out is replaced only when the whole topology was read.
Status Convert(hwloc_topology_t topology, bool live_machine, const std::string& source, Topology* result) {
  Topology topo;
  topo.source = source;
  hwloc_obj_t root = hwloc_get_root_obj(topology);
  topo.hostname = InfoOrEmpty(root, "HostName");
  hwloc_obj_t package = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_PACKAGE, nullptr);
  // hwloc puts CPUModel on the Package, or on the Machine where it found no packages.
  topo.cpu_model = InfoOrEmpty(package != nullptr ? package : root, "CPUModel");
  topo.packages = CountOf(topology, HWLOC_OBJ_PACKAGE);
  topo.numa_nodes = CountOf(topology, HWLOC_OBJ_NUMANODE);
  topo.pus = CountOf(topology, HWLOC_OBJ_PU);
  // Some platforms report no cores (hwloc then has PUs only); each PU is then its own core.
  int cores = CountOf(topology, HWLOC_OBJ_CORE);
  topo.cores = cores > 0 ? cores : topo.pus;
  topo.memory_GiB = static_cast<double>(root->total_memory) / kBytesPerGiB;
  topo.gpus = CollectGpus(topology);
  topo.nics = CollectNics(topology, live_machine);
  if (Status nvlink = AddNvlinkBandwidths(topology, &topo.gpus); !nvlink.ok()) return nvlink;
  // As the JSON reader requires, so that every topology read here reads back from its JSON (an
  // edited XML gave two GPUs one bus id; QA, session 56).
  for (size_t i = 0; i < topo.gpus.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (!topo.gpus[i].pci_bus_id.empty() && topo.gpus[i].pci_bus_id == topo.gpus[j].pci_bus_id) {
        return Status::InvalidArgument(
            fmt::format("GPUs {} and {} are one PCI device ({})", j, i, topo.gpus[i].pci_bus_id));
      }
    }
  }
  // hwloc reads a negative local_memory as a huge unsigned one: 1 EiB and more is unknown (0).
  if (topo.memory_GiB >= double(1 << 30)) topo.memory_GiB = 0;
  MakePrintable(&topo.hostname);
  MakePrintable(&topo.cpu_model);
  for (TopoGpu& gpu : topo.gpus) MakePrintable(&gpu.name), MakePrintable(&gpu.pci_bus_id);
  for (TopoNic& nic : topo.nics) MakePrintable(&nic.name), MakePrintable(&nic.pci_bus_id);
  *result = std::move(topo);
  return Status::Ok();
}

}  // namespace

Status DiscoverTopology(Topology* out) {
  // HWLOC_XMLFILE in the environment makes hwloc read that file instead of this machine: a bad
  // file is the user's input (named, InvalidArgument), and the result says where it came from
  // (it was labelled live discovery; QA, session 53).
  // The file is read as --xml reads one: hwloc itself fell back to this machine, silently, when
  // it could not open it (QA, session 56).
  if (const char* xml_file = std::getenv("HWLOC_XMLFILE"); xml_file != nullptr && *xml_file != '\0') {
    Topology from_file;
    if (Status loaded = LoadTopologyXml(xml_file, &from_file); !loaded.ok())
      return Status::InvalidArgument(fmt::format("HWLOC_XMLFILE={}: {}", xml_file, loaded.message()));
    from_file.source += " (HWLOC_XMLFILE)";
    *out = std::move(from_file);
    return Status::Ok();
  }
  HwlocTopology topology;
  if (Status status = NewHwlocTopology(&topology); !status.ok()) return status;
  if (hwloc_topology_load(topology.get()) != 0)
    return Status::SystemError(fmt::format("hwloc could not discover this machine: {}", std::strerror(errno)));
  // A synthetic topology (HWLOC_SYNTHETIC) is no machine: this host's sysfs says nothing of it.
  const bool live_machine = hwloc_topology_is_thissystem(topology.get()) != 0;
  const char* synthetic = std::getenv("HWLOC_SYNTHETIC");
  const std::string source = !live_machine && synthetic != nullptr
                                 ? fmt::format("hwloc-synthetic:{} (HWLOC_SYNTHETIC)", synthetic)
                                 : std::string("hwloc");
  return Convert(topology.get(), live_machine, source, out);
}

Status LoadTopologyXml(const std::string& path, Topology* out) {
  // Read here, not by hwloc from the path: a pipe (<(lstopo --of xml -)) can then be read once and
  // a FIFO without a writer is refused instead of blocking hwloc, and /dev/zero is refused
  // instead of filling memory. A large machine's export is a few MB.
  constexpr input_file::Kind kXmlFile{"an hwloc XML file (or a pipe)", "an hwloc XML export", size_t{64} << 20};
  std::string xml;
  if (Status read = input_file::Read(path, kXmlFile, &xml); !read.ok()) return read;
  return LoadTopologyXmlText(xml, path, out);
}

namespace {

// The import itself, in this process.
Status LoadXmlHere(const std::string& xml, const std::string& origin, Topology* out) {
  HwlocTopology topology;
  if (Status status = NewHwlocTopology(&topology); !status.ok()) return status;
  // hwloc reports a malformed text from load, leaving only errno (EINVAL for a parse error, whose
  // details hwloc prints only when asked). errno is cleared first: hwloc does not always set it.
  // The length counts the ending NUL, as hwloc_topology_export_xmlbuffer's does (its libxml and
  // its own parser both take a buffer so written).
  errno = 0;
  if (hwloc_topology_set_xmlbuffer(topology.get(), xml.c_str(), int(xml.size() + 1)) != 0 ||
      hwloc_topology_load(topology.get()) != 0) {
    const int error = errno;
    if (error == 0 || error == EINVAL || error == ENOENT) {
      if (const std::string version = XmlFormatVersion(xml); !version.empty() && version[0] > '2') {
        return Status::InvalidArgument(fmt::format(
            "{}: hwloc cannot load this XML topology: it is hwloc XML version {}, written by a newer hwloc than this "
            "one ({}.{}), which reads versions 1 and 2; export it with hwloc 2 (lstopo --of xml)", origin, version,
            HWLOC_API_VERSION >> 16, (HWLOC_API_VERSION >> 8) & 0xff));
      }
      return Status::InvalidArgument(fmt::format(
          "{}: hwloc cannot load this XML topology: not a well-formed hwloc XML export (HWLOC_XML_VERBOSE=1 "
          "shows why)", origin));
    }
    return Status::InvalidArgument(
        fmt::format("{}: hwloc cannot load this XML topology: {}", origin, std::strerror(error)));
  }
  return Convert(topology.get(), /*live_machine=*/false, "hwloc-xml:" + origin, out).WithContext(origin);
}

// hwloc's own XML parser (Debian's hwloc 2.9 has no libxml) crashes on some malformed exports: an
// attribute name followed by anything but '=' (`nodeset"0x3"`) is a SIGSEGV in lstopo too. Found
// by the fuzz tier (session 57). Bad input must be an error, not a dead process, so the import
// runs in a child process, which sends back "<status code> <message length>\n<message><topology
// JSON>" (TopologyToJson, read back exactly); InvalidArgument if hwloc kills it. Bounded: a child
// stuck on a lock that a thread of this process held at the fork is ended after kImportLimitS.
constexpr int kImportLimitS = 30;

std::string ImportReply(const std::string& xml, const std::string& origin) {
  Topology topo;
  const Status status = LoadXmlHere(xml, origin, &topo);
  return fmt::format("{} {}\n{}{}", int(status.code()), status.message().size(), status.message(),
                     status.ok() ? TopologyToJson(topo) : std::string());
}

// Reads `fd` to its end, at most kImportLimitS seconds from `start`; false if that ran out.
bool ReadReply(int fd, std::chrono::steady_clock::time_point start, std::string* reply) {
  char chunk[65536];
  for (;;) {
    const auto left = std::chrono::seconds(kImportLimitS) - (std::chrono::steady_clock::now() - start);
    const int left_ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
    if (left_ms <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, left_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline is checked above
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    reply->append(chunk, size_t(n));
  }
}

}  // namespace

Status LoadTopologyXmlText(const std::string& xml, const std::string& origin, Topology* out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return LoadXmlHere(xml, origin, out);
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]);
    close(fds[1]);
    return LoadXmlHere(xml, origin, out);  // cannot run it apart: as before
  }
  if (child == 0) {
    close(fds[0]);
    const std::string reply = ImportReply(xml, origin);
    for (size_t sent = 0; sent < reply.size();) {
      const ssize_t n = write(fds[1], reply.data() + sent, reply.size() - sent);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(1);
      sent += size_t(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string reply;
  const bool finished = ReadReply(fds[0], std::chrono::steady_clock::now(), &reply);
  close(fds[0]);
  if (!finished) kill(child, SIGKILL);
  int wait_status = 0;
  while (waitpid(child, &wait_status, 0) < 0 && errno == EINTR) {
  }
  if (!finished)
    return Status::SystemError(fmt::format("{}: the XML import did not finish within {} s", origin, kImportLimitS));
  if (WIFSIGNALED(wait_status)) {
    return Status::InvalidArgument(fmt::format(
        "{}: hwloc cannot load this XML topology: hwloc's parser crashes on it (signal {}; `lstopo --input` does "
        "too): not a well-formed hwloc XML export", origin, WTERMSIG(wait_status)));
  }
  int code = -1;
  size_t message_size = 0;
  const size_t header_end = reply.find('\n');
  if (header_end == std::string::npos || std::sscanf(reply.c_str(), "%d %zu", &code, &message_size) != 2 ||
      reply.size() < header_end + 1 + message_size)
    return Status::SystemError(fmt::format("{}: the XML import process ended without a result", origin));
  const std::string message = reply.substr(header_end + 1, message_size);
  if (code != int(StatusCode::kOk)) return Status(static_cast<StatusCode>(code), message);
  if (Status parsed = TopologyFromJson(reply.substr(header_end + 1 + message_size), origin, out); !parsed.ok())
    return Status::Internal(fmt::format("{}: reading back the imported topology: {}", origin, parsed.message()));
  out->source = "hwloc-xml:" + origin;
  return Status::Ok();
}

}  // namespace braid
