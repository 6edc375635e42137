// braid::Topology <-> JSON, and the human-readable summary. The JSON field names are those of
// the structs in braid/topology.h and are stable: people keep these files to describe hosts.
#include <limits>
#include <set>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "braid/topology.h"

namespace braid {
namespace {

using nlohmann::json;
// Output keeps the fields in declaration order, for people reading it.
using nlohmann::ordered_json;

ordered_json GpuToJson(const TopoGpu& gpu) {
  return {{"index", gpu.index},         {"name", gpu.name},       {"pci_bus_id", gpu.pci_bus_id},
          {"numa_node", gpu.numa_node}, {"package", gpu.package}, {"memory_GiB", gpu.memory_GiB}};
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
    if (error_->ok() && !object_.is_object()) Fail(path_.empty() ? "(top level)" : path_, "expected an object");
  }

  void Int(const char* key, int* value) {
    const json* field = Find(key);
    if (field == nullptr) return;
    bool fits = field->is_number_integer() && field->get<long long>() >= std::numeric_limits<int>::min() &&
                field->get<long long>() <= std::numeric_limits<int>::max();
    if (!fits) return Fail(FieldPath(key), "expected an integer");
    *value = static_cast<int>(field->get<long long>());
  }

  void Double(const char* key, double* value) {
    const json* field = Find(key);
    if (field == nullptr) return;
    if (!field->is_number()) return Fail(FieldPath(key), "expected a number");
    *value = field->get<double>();
  }

  void String(const char* key, std::string* value) {
    const json* field = Find(key);
    if (field == nullptr) return;
    if (!field->is_string()) return Fail(FieldPath(key), "expected a string");
    *value = field->get<std::string>();
  }

  // Calls read_element(element, "key[i]") for each element of the array `key`.
  template <typename ReadElement>
  void Array(const char* key, ReadElement read_element) {
    const json* field = Find(key);
    if (field == nullptr) return;
    if (!field->is_array()) return Fail(FieldPath(key), "expected an array");
    for (size_t i = 0; i < field->size() && error_->ok(); ++i) {
      read_element((*field)[i], fmt::format("{}[{}]", FieldPath(key), i));
    }
  }

  // Rejects a value outside the allowed range, naming the field.
  void Check(bool valid, const char* key, const char* requirement) {
    if (!valid) Fail(FieldPath(key), requirement);
  }

  // Call after reading every known field.
  void RejectUnknownFields() {
    if (!error_->ok()) return;
    for (const auto& [key, value] : object_.items()) {
      if (!read_.contains(key)) return Fail(FieldPath(key.c_str()), "unknown field");
    }
  }

 private:
  const json* Find(const char* key) {
    if (!error_->ok()) return nullptr;
    read_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  std::string FieldPath(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  void Fail(const std::string& field, const char* problem) {
    if (error_->ok()) *error_ = Status::InvalidArgument(fmt::format("{}: {}", field, problem));
  }

  const json& object_;
  std::string path_;
  Status* error_;
  std::set<std::string> read_;
};

void ReadGpu(const json& value, const std::string& path, TopoGpu* gpu, Status* error) {
  ObjectReader reader(value, path, error);
  reader.Int("index", &gpu->index);
  reader.String("name", &gpu->name);
  reader.String("pci_bus_id", &gpu->pci_bus_id);
  reader.Int("numa_node", &gpu->numa_node);
  reader.Int("package", &gpu->package);
  reader.Double("memory_GiB", &gpu->memory_GiB);
  reader.Check(gpu->memory_GiB >= 0, "memory_GiB", "must be >= 0 (0 means unknown)");
  reader.RejectUnknownFields();
}

void ReadNic(const json& value, const std::string& path, TopoNic* nic, Status* error) {
  ObjectReader reader(value, path, error);
  reader.String("name", &nic->name);
  reader.String("kind", &nic->kind);
  reader.Check(nic->kind == "infiniband" || nic->kind == "ethernet" || nic->kind == "other", "kind",
               "must be \"infiniband\", \"ethernet\" or \"other\"");
  reader.Double("speed_Gbps", &nic->speed_Gbps);
  reader.Check(nic->speed_Gbps >= 0, "speed_Gbps", "must be >= 0 (0 means unknown)");
  reader.Int("numa_node", &nic->numa_node);
  reader.Int("package", &nic->package);
  reader.String("pci_bus_id", &nic->pci_bus_id);
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
  reader.Array("gpus", [&](const json& element, const std::string& path) {
    ReadGpu(element, path, &topo->gpus.emplace_back(), error);
  });
  reader.Array("nics", [&](const json& element, const std::string& path) {
    ReadNic(element, path, &topo->nics.emplace_back(), error);
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
  // A topology needs 3 levels; far deeper nesting is refused while parsing, before nlohmann's
  // recursive copies could exhaust the stack (a crash on a 200 KB file of brackets).
  constexpr int kMaxDepth = 64;
  bool too_deep = false;
  json document;
  try {
    document = json::parse(text, [&too_deep](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) too_deep = true;
      return !too_deep;  // stop keeping values once too deep
    });
  } catch (const json::exception& e) {
    // e.what() says where: "parse error at line 3, column 5: syntax error ...".
    return Status::InvalidArgument(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  if (too_deep)
    return Status::InvalidArgument(fmt::format("{}: objects and arrays nested deeper than {} levels", origin, kMaxDepth));
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
    std::string memory = gpu.memory_GiB > 0 ? fmt::format(", {:.1f} GiB", gpu.memory_GiB) : "";
    text += fmt::format("  GPU {}: {} [{}] {}{}\n", gpu.index, gpu.name,
                        gpu.pci_bus_id.empty() ? "no PCI" : gpu.pci_bus_id,
                        LocalityText(gpu.numa_node, gpu.package), memory);
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
