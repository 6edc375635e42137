// braid::Topology <-> JSON, and the human-readable summary. The JSON field names are those of
// the structs in braid/topology.h and are stable: people keep these files to describe hosts.
#include <algorithm>
#include <cctype>
#include <limits>
#include <set>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "braid/topology.h"
#include "core/json_text.h"

namespace braid {
namespace {

using nlohmann::json;
// Output keeps the fields in declaration order, for people reading it.
using nlohmann::ordered_json;

ordered_json GpuToJson(const TopoGpu& gpu) {
  return {{"index", gpu.index},
          {"name", gpu.name},
          {"pci_bus_id", gpu.pci_bus_id},
          {"numa_node", gpu.numa_node},
          {"package", gpu.package},
          {"memory_GiB", gpu.memory_GiB},
          {"nvlink_switch_GBps", gpu.nvlink_switch_GBps},
          {"nvlink_gpu_GBps", gpu.nvlink_gpu_GBps},
          {"nvlink_gpu_peers", gpu.nvlink_gpu_peers}};
}

ordered_json NicToJson(const TopoNic& nic) {
  return {{"name", nic.name},           {"kind", nic.kind},       {"speed_Gbps", nic.speed_Gbps},
          {"numa_node", nic.numa_node}, {"package", nic.package}, {"pci_bus_id", nic.pci_bus_id}};
}

// Reads one JSON object's fields into C++ values, remembering the first error with the path
// of the offending field ("gpus[1].numa_node"). Fields not read are reported as unknown, so a
// misspelt key in a hand-written file is an error rather than silently ignored.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path, Status* error)
      : object_(object), path_(std::move(path)), error_(error) {
    if (error_->ok() && !object_.is_object()) Fail(nullptr, "expected an object");
  }

  void Int(const char* key, int* value) {
    const json* field = Find(key);
    if (field == nullptr) return;
    if (!field->is_number_integer()) return Fail(key, "expected an integer");
    const bool fits = field->is_number_unsigned()
                          ? field->get<unsigned long long>() <= unsigned(std::numeric_limits<int>::max())
                          : field->get<long long>() >= std::numeric_limits<int>::min() &&
                                field->get<long long>() <= std::numeric_limits<int>::max();
    if (!fits) return Fail(key, "out of range (a 32-bit integer)");
    *value = static_cast<int>(field->get<long long>());
  }

  void Double(const char* key, double* value) {
    const json* field = Find(key);
    if (field == nullptr) return;
    if (!field->is_number()) return Fail(key, "expected a number");
    *value = field->get<double>();
  }

  void String(const char* key, std::string* value) {
    const json* field = Find(key);
    if (field == nullptr) return;
    if (!field->is_string()) return Fail(key, "expected a string");
    *value = field->get<std::string>();
  }

  // Calls read_element(element, "key[i]") for each element of the array `key`.
  template <typename ReadElement>
  void Array(const char* key, ReadElement read_element) {
    const json* field = Find(key);
    if (field == nullptr) return;
    if (!field->is_array()) return Fail(key, "expected an array");
    for (size_t i = 0; i < field->size() && error_->ok(); ++i) {
      read_element((*field)[i], fmt::format("{}[{}]", FieldPath(key), i));
    }
  }

  // Rejects a value outside the allowed range, naming the field.
  void Check(bool valid, const char* key, const std::string& requirement) {
    if (!valid) Fail(key, requirement);
  }

  // Call after reading every known field.
  void RejectUnknownFields() {
    if (!error_->ok()) return;
    for (const auto& [key, value] : object_.items()) {
      if (!read_.contains(key)) return Fail(key.c_str(), "unknown field");
    }
  }

 private:
  const json* Find(const char* key) {
    if (!error_->ok()) return nullptr;
    read_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  // Keys are shown escaped and cut: an unknown one comes from the user's file.
  std::string FieldPath(const char* key) const {
    const std::string shown = json_text::ShownKey(key);
    return path_.empty() ? shown : path_ + "." + shown;
  }

  // Names the field `key` (nullptr: the object itself) and the value found, cut to 64 characters.
  void Fail(const char* key, const std::string& problem) {
    if (!error_->ok()) return;
    if (key == nullptr) {
      *error_ = Status::InvalidArgument(fmt::format("{}: {}", path_.empty() ? "(top level)" : path_, problem));
      return;
    }
    std::string found = "not given";
    if (const auto it = object_.find(key); it != object_.end()) {
      found = "found " + it->dump(-1, ' ', false, json::error_handler_t::replace);
      if (found.size() > 70) found = found.substr(0, 67) + "...";
    }
    *error_ = Status::InvalidArgument(fmt::format("{}: {} ({})", FieldPath(key), problem, found));
  }

  const json& object_;
  std::string path_;
  Status* error_;
  std::set<std::string> read_;
};

// What each device read must agree with: the host's counts and the devices read before it
// (QA, session 53: a GPU on NUMA node 7 of 2, ids of -5, two GPUs with one index or bus id,
// "pci_bus_id": "banana" and two NICs named eth0 all loaded).
struct HostContext {
  int numa_nodes = 0, packages = 0, gpus = 0;
  std::set<int> gpu_indexes;
  std::set<std::string> gpu_bus_ids, nic_names;
};

// A NUMA node or package id: -1 (unknown) or one of the host's (any, when the host's count is
// not given).
void CheckLocality(ObjectReader& reader, int numa_node, int package, const HostContext& host) {
  auto within = [](int id, int count) { return id == -1 || (id >= 0 && (count <= 0 || id < count)); };
  auto allowed = [](int count, const char* what) {
    return count > 0 ? fmt::format("must be -1 (unknown) or one of the host's {} {}, 0..{}", count, what, count - 1)
                     : fmt::format("must be -1 (unknown) or an id >= 0 (the host's {} are not given)", what);
  };
  reader.Check(within(numa_node, host.numa_nodes), "numa_node", allowed(host.numa_nodes, "NUMA nodes"));
  reader.Check(within(package, host.packages), "package", allowed(host.packages, "packages"));
}

// "dddd:bb:dd.f" in lower-case hex, as discovery writes it (a domain may have up to 8 digits:
// Intel VMD's start at 10000), or empty.
bool IsPciBusId(const std::string& id) {
  if (id.empty()) return true;
  const size_t domain = id.find(':');
  if (domain < 4 || domain > 8 || id.size() != domain + 8) return false;
  if (id[domain + 3] != ':' || id[domain + 6] != '.') return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == domain || i == domain + 3 || i == domain + 6) continue;
    const unsigned char c = static_cast<unsigned char>(id[i]);
    if (!std::isxdigit(c) || std::isupper(c)) return false;
  }
  return true;
}

constexpr const char* kPciBusIdForm = "must be empty or a PCI address dddd:bb:dd.f (lower-case hex)";

// GPU number `position` of the list; an index not given is its position (discovery numbers GPUs
// 0 .. n-1 in that order).
void ReadGpu(const json& value, const std::string& path, int position, HostContext& host, TopoGpu* gpu,
             Status* error) {
  ObjectReader reader(value, path, error);
  gpu->index = position;
  reader.Int("index", &gpu->index);
  reader.Check(gpu->index >= 0 && gpu->index < host.gpus && host.gpu_indexes.insert(gpu->index).second, "index",
               fmt::format("must be 0..{}, each GPU its own", host.gpus - 1));
  reader.String("name", &gpu->name);
  reader.String("pci_bus_id", &gpu->pci_bus_id);
  reader.Check(IsPciBusId(gpu->pci_bus_id), "pci_bus_id", kPciBusIdForm);
  reader.Check(gpu->pci_bus_id.empty() || host.gpu_bus_ids.insert(gpu->pci_bus_id).second, "pci_bus_id",
               "names another GPU's PCI device");
  reader.Int("numa_node", &gpu->numa_node);
  reader.Int("package", &gpu->package);
  CheckLocality(reader, gpu->numa_node, gpu->package, host);
  reader.Double("memory_GiB", &gpu->memory_GiB);
  // 1 PiB, as hwloc XML is read (a larger value would make a GPU that fits any model).
  reader.Check(gpu->memory_GiB >= 0 && gpu->memory_GiB <= double(1 << 20), "memory_GiB",
               "must be in [0, 1048576] GiB (0 means unknown)");
  // 1e6 GB/s per direction: some 20 times NVLink 5's 18 links (900 GB/s per direction).
  constexpr double kMaxNvlinkGBps = 1e6;
  for (auto [key, value] : {std::pair{"nvlink_switch_GBps", &gpu->nvlink_switch_GBps},
                            std::pair{"nvlink_gpu_GBps", &gpu->nvlink_gpu_GBps}}) {
    reader.Double(key, value);
    reader.Check(*value >= 0 && *value <= kMaxNvlinkGBps, key, "must be in [0, 1e6] GB/s (0 means none)");
  }
  reader.Int("nvlink_gpu_peers", &gpu->nvlink_gpu_peers);
  reader.Check(gpu->nvlink_gpu_peers >= 0 && gpu->nvlink_gpu_peers < std::max(host.gpus, 1), "nvlink_gpu_peers",
               fmt::format("must be 0..{}: the other GPUs of the host", std::max(host.gpus - 1, 0)));
  reader.Check((gpu->nvlink_gpu_peers > 0) == (gpu->nvlink_gpu_GBps > 0), "nvlink_gpu_peers",
               fmt::format("must be 0 exactly when nvlink_gpu_GBps is (it is {})", gpu->nvlink_gpu_GBps));
  reader.RejectUnknownFields();
}

void ReadNic(const json& value, const std::string& path, HostContext& host, TopoNic* nic, Status* error) {
  ObjectReader reader(value, path, error);
  reader.String("name", &nic->name);
  reader.Check(!nic->name.empty(), "name", "must name the interface (\"eth0\", \"mlx5_0\")");
  reader.Check(host.nic_names.insert(nic->name).second, "name", "names another NIC");
  reader.String("kind", &nic->kind);
  reader.Check(nic->kind == "infiniband" || nic->kind == "ethernet" || nic->kind == "other", "kind",
               "must be \"infiniband\", \"ethernet\" or \"other\"");
  reader.Double("speed_Gbps", &nic->speed_Gbps);
  reader.Check(nic->speed_Gbps >= 0, "speed_Gbps", "must be >= 0 (0 means unknown)");
  reader.Int("numa_node", &nic->numa_node);
  reader.Int("package", &nic->package);
  CheckLocality(reader, nic->numa_node, nic->package, host);
  reader.String("pci_bus_id", &nic->pci_bus_id);
  reader.Check(IsPciBusId(nic->pci_bus_id), "pci_bus_id", kPciBusIdForm);
  reader.RejectUnknownFields();
}

void ReadTopology(const json& value, Topology* topo, Status* error) {
  ObjectReader reader(value, "", error);
  // Accepted so that TopologyToJson's output reads back, but the loaded topology's source is
  // the JSON it came from.
  std::string original_source;
  reader.String("source", &original_source);
  reader.String("hostname", &topo->hostname);
  reader.String("cpu_model", &topo->cpu_model);
  reader.Int("packages", &topo->packages);
  reader.Int("numa_nodes", &topo->numa_nodes);
  reader.Int("cores", &topo->cores);
  reader.Int("pus", &topo->pus);
  reader.Double("memory_GiB", &topo->memory_GiB);
  reader.Check(topo->packages >= 0, "packages", "must be >= 0");
  reader.Check(topo->numa_nodes >= 0, "numa_nodes", "must be >= 0");
  reader.Check(topo->cores >= 0, "cores", "must be >= 0");
  reader.Check(topo->pus >= 0, "pus", "must be >= 0");
  reader.Check(topo->memory_GiB >= 0, "memory_GiB", "must be >= 0");
  reader.Check(topo->cores == 0 || topo->pus == 0 || topo->pus >= topo->cores, "pus",
               fmt::format("must be at least the {} cores (each core has a PU)", topo->cores));
  HostContext host;
  host.numa_nodes = topo->numa_nodes, host.packages = topo->packages;
  if (value.is_object() && value.contains("gpus") && value["gpus"].is_array()) host.gpus = int(value["gpus"].size());
  reader.Array("gpus", [&](const json& element, const std::string& path) {
    const int position = int(topo->gpus.size());
    ReadGpu(element, path, position, host, &topo->gpus.emplace_back(), error);
  });
  reader.Array("nics", [&](const json& element, const std::string& path) {
    ReadNic(element, path, host, &topo->nics.emplace_back(), error);
  });
  reader.RejectUnknownFields();
}

// "NUMA 0, package 1" / "NUMA ?, package ?"; the locality that matters for binding.
std::string LocalityText(int numa_node, int package) {
  auto index = [](int value) { return value >= 0 ? std::to_string(value) : std::string("?"); };
  return fmt::format("NUMA {}, package {}", index(numa_node), index(package));
}

}  // namespace

std::string TopologyToJson(const Topology& topo) {
  ordered_json gpus = ordered_json::array();
  for (const TopoGpu& gpu : topo.gpus) gpus.push_back(GpuToJson(gpu));
  ordered_json nics = ordered_json::array();
  for (const TopoNic& nic : topo.nics) nics.push_back(NicToJson(nic));
  ordered_json document = {{"source", topo.source},         {"hostname", topo.hostname},
                   {"cpu_model", topo.cpu_model},   {"packages", topo.packages},
                   {"numa_nodes", topo.numa_nodes}, {"cores", topo.cores},
                   {"pus", topo.pus},               {"memory_GiB", topo.memory_GiB},
                   {"gpus", std::move(gpus)},       {"nics", std::move(nics)}};
  // Replace invalid UTF-8 (an odd CPU model string) rather than throw.
  return document.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

Status TopologyFromJson(const std::string& text, const std::string& origin, Topology* out) {
  json document;
  if (Status parsed = json_text::Parse(text, origin, &document); !parsed.ok()) return parsed;
  Topology topo;
  Status error;
  ReadTopology(document, &topo, &error);
  if (!error.ok()) return error.WithContext(origin);
  topo.source = "json:" + origin;
  *out = std::move(topo);
  return Status::Ok();
}

std::string TopologySummary(const Topology& topo) {
  std::string text = fmt::format("host {} ({})\n", topo.hostname.empty() ? "?" : topo.hostname, topo.source);
  text += fmt::format("  cpu: {}\n", topo.cpu_model.empty() ? "unknown model" : topo.cpu_model);
  text += fmt::format("  {} package(s), {} NUMA node(s), {} core(s), {} PU(s), {:.1f} GiB memory\n",
                      topo.packages, topo.numa_nodes, topo.cores, topo.pus, topo.memory_GiB);
  if (topo.gpus.empty()) text += "  no GPUs\n";
  for (const TopoGpu& gpu : topo.gpus) {
    std::string details = gpu.memory_GiB > 0 ? fmt::format(", {:.1f} GiB", gpu.memory_GiB) : "";
    if (gpu.nvlink_switch_GBps > 0) details += fmt::format(", NVLink {:g} GB/s to NVSwitch", gpu.nvlink_switch_GBps);
    if (gpu.nvlink_gpu_peers > 0) {
      details += fmt::format(", NVLink {:g} GB/s to {} GPU{}", gpu.nvlink_gpu_GBps, gpu.nvlink_gpu_peers,
                            gpu.nvlink_gpu_peers == 1 ? "" : "s");
    }
    text += fmt::format("  GPU {}: {} [{}] {}{}\n", gpu.index, gpu.name,
                        gpu.pci_bus_id.empty() ? "no PCI" : gpu.pci_bus_id,
                        LocalityText(gpu.numa_node, gpu.package), details);
  }
  if (topo.nics.empty()) text += "  no NICs\n";
  for (const TopoNic& nic : topo.nics) {
    std::string speed = nic.speed_Gbps > 0 ? fmt::format("{:g} Gb/s", nic.speed_Gbps) : "speed unknown";
    text += fmt::format("  NIC {}: {}, {} [{}] {}\n", nic.name, nic.kind, speed,
                        nic.pci_bus_id.empty() ? "no PCI" : nic.pci_bus_id,
                        LocalityText(nic.numa_node, nic.package));
  }
  return text;
}

}  // namespace braid
