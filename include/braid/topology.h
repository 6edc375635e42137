// braid::Topology: what one host offers to collectives and to plan-sim — packages, NUMA nodes,
// cores, memory, GPUs and NICs, each I/O device with its NUMA node and package.
//
// It comes from hwloc (this machine, or an hwloc XML export of another machine, e.g. from
// `lstopo host.xml`) or from braid's own JSON form, which TopologyToJson writes and
// TopologyFromJson reads back (API only: braid-topo reads hwloc XML, and plan-sim's --cluster
// takes its own cluster files, not this form).
//
// GPUs are NVIDIA's display and 3D controllers and AMD's Instinct accelerators (PCI classes
// 0x1200 and 0x0380); an AMD VGA controller counts only with a compute backend's device under it,
// so onboard and integrated graphics do not take GPU indexes.
#pragma once

#include <string>
#include <vector>

#include "braid/export.h"
#include "braid/status.h"

namespace braid {

struct TopoGpu {
  int index = -1;          // position among this host's GPUs, in PCI bus order
  std::string name;        // e.g. "NVIDIA H100 80GB HBM3"; the PCI vendor:device ids if unknown
  std::string pci_bus_id;  // "0000:17:00.0"; empty if the GPU is not a PCI device
  int numa_node = -1;      // hwloc logical index of the nearest NUMA node; -1 unknown
  int package = -1;        // hwloc logical index of the nearest package; -1 unknown
  double memory_GiB = 0;   // device memory; 0 unknown (hwloc knows it through CUDA or OpenCL)
  // NVLink, from hwloc's "NVLinkBandwidth" distances (its NVML backend; kept in XML exports), in
  // GB/s per direction summed over the links; 0 when hwloc reports none: no NVLink, or an hwloc
  // without NVML (Debian's has none), when only the GPU's name can tell.
  double nvlink_switch_GBps = 0;  // to NVSwitches (HGX/DGX boards)
  double nvlink_gpu_GBps = 0;     // straight to other GPUs (bridges, meshes), summed over them
  int nvlink_gpu_peers = 0;       // the GPUs this one has a direct link to

  bool operator==(const TopoGpu&) const = default;
};

// One network OS device. An InfiniBand or RoCE port usually appears twice, as its RDMA device
// ("mlx5_0") and as its IP interface ("ib0", "ens1f0"), with the same pci_bus_id: count adapters
// by pci_bus_id, not by entries (a dual-port card whose ports share one PCI function, as mlx4's
// do, is one adapter with two IP interfaces). From XML, an RDMA device is RoCE ("ethernet") when
// the IP interface on its PCI function has an Ethernet address, else InfiniBand.
struct TopoNic {
  std::string name;        // OS name: "eth0", "ib0", "mlx5_0"
  std::string kind = "other";  // "infiniband", "ethernet" or "other"
  double speed_Gbps = 0;   // link rate; 0 unknown (only measured when discovering the live machine)
  int numa_node = -1;      // as in TopoGpu
  int package = -1;        // as in TopoGpu
  std::string pci_bus_id;  // empty for a virtual interface

  bool operator==(const TopoNic&) const = default;
};

struct Topology {
  std::string source;      // "hwloc", "hwloc-xml:<path>" or "json:<origin>"
  std::string hostname;
  std::string cpu_model;   // e.g. "AMD EPYC 9654 96-Core Processor"; empty if unknown
  int packages = 0;
  int numa_nodes = 0;
  int cores = 0;
  int pus = 0;             // hardware threads this process may use (cgroup limits applied)
  double memory_GiB = 0;   // total host memory
  std::vector<TopoGpu> gpus;
  std::vector<TopoNic> nics;

  bool operator==(const Topology&) const = default;
};

// This machine, through hwloc with PCI and OS devices enabled; NIC speeds read from sysfs.
BRAID_API Status DiscoverTopology(Topology* out);

// An hwloc XML export: a regular file, or a pipe (<(ssh node lstopo --of xml -)). InvalidArgument,
// naming `path`, if it is missing, unreadable, malformed, neither a file nor a pipe, or over 64 MiB.
BRAID_API Status LoadTopologyXml(const std::string& path, Topology* out);
// The same from the export's text; `origin` names it in errors and in the source.
BRAID_API Status LoadTopologyXmlText(const std::string& xml, const std::string& origin, Topology* out);

// Pretty-printed JSON with stable field names (those of the structs above).
BRAID_API std::string TopologyToJson(const Topology& topo);

// The inverse of TopologyToJson. Missing fields keep the defaults above; unknown fields and wrong
// types are InvalidArgument naming `origin` (a file name, "<stdin>") and the field, e.g.
// "cluster.json: gpus[1].numa_node: expected an integer". Sets out->source to "json:<origin>".
BRAID_API Status TopologyFromJson(const std::string& text, const std::string& origin, Topology* out);

// A few human-readable lines: host, CPU counts and memory, one line per GPU and per NIC.
BRAID_API std::string TopologySummary(const Topology& topo);

}  // namespace braid
