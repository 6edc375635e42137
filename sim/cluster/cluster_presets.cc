// GPU and node presets. Datasheet numbers; sources in each comment.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "sim/cluster/cluster.h"
#include "sim/common/input_error.h"

namespace braid::sim {
namespace {

struct GpuRow {
  const char* key;  // preset key: "chip" or "chip-variant", matched against a discovered name's words
  const char* name;
  double peak_tflops, hbm_GBps, memory_GiB;
  int sms;
  // NVLink per GPU per direction on the part's SXM board (HGX: NVSwitch for 8 GPUs), GB/s; 0 for
  // parts that only come on PCIe cards. NVLink is 12 links x 25 GB/s on A100, 18 x 25 on H100
  // and H200, 6 x 25 on V100 (datasheets).
  double nvlink_GBps;
  // Whether the part's plain name is the SXM one (H100 and H200: the PCIe and NVL cards say so
  // in their names); other parts name SXM explicitly ("A100-SXM4-80GB").
  bool sxm_unless_named;
  bool bf16 = true;  // bf16 tensor cores: Ampere and later; V100 runs fp16 only
  int nominal_GB = 0;  // the marketed size ("80GB"), which discovered names may state
};

// NVIDIA datasheets (dense, without sparsity): A100 SXM 312 TFLOP/s bf16, 2039 GB/s (80 GB);
// A100 PCIe 80GB 1935 GB/s; H100 SXM 989 TFLOP/s, 3350 GB/s; H200 989 TFLOP/s, 4800 GB/s, 141 GB;
// H100 PCIe 756 TFLOP/s, 2000 GB/s, 114 SMs; H100 NVL 835 TFLOP/s (1,671 with sparsity), 3.9 TB/s,
// 94 GB, 16896 CUDA cores = 132 SMs; V100 SXM2 125 TFLOP/s fp16, 900 GB/s; L40S 362
// TFLOP/s bf16 (dense), 864 GB/s. A "-pcie" row matches names that say PCIe, so it precedes its
// SXM row (an H100 PCIe card was simulated at the SXM part's 989 TFLOP/s and 3350 GB/s).
// Memory is what the driver reports as the device's total (nvidia-smi, MiB / 1024), the capacity
// a layout must fit in (less GpuSpec::reserved_GiB): H100 80GB (SXM and PCIe) 81559 MiB, H200
// 143771 MiB, H100 NVL 95830 MiB, A100 80GB 81920 MiB, L40S 46068 MiB (public nvidia-smi outputs). The marketed
// "80 GB" H100 was taken as 80 GiB, 0.35 GiB more than it has (QA, session 55). V100 32 GiB is
// the nominal size, not checked.
constexpr GpuRow kGpus[] = {
    {"h200", "H200", 989, 4800, 143771.0 / 1024, 132, 450, true, true, 141},
    {"h100-pcie", "H100 PCIe 80GB", 756, 2000, 81559.0 / 1024, 114, 0, false, true, 80},
    {"h100-nvl", "H100 NVL 94GB", 835, 3900, 95830.0 / 1024, 132, 0, false, true, 94},
    {"h100", "H100 SXM 80GB", 989, 3350, 81559.0 / 1024, 132, 450, true, true, 80},
    {"a100-pcie", "A100 PCIe 80GB", 312, 1935, 80, 108, 0, false, true, 80},
    {"a100", "A100 SXM 80GB", 312, 2039, 80, 108, 300, false, true, 80},
    {"l40s", "L40S", 362, 864, 46068.0 / 1024, 142, 0, false, true, 48},
    {"v100", "V100 SXM2 32GB", 125, 900, 32, 80, 150, false, /*bf16=*/false, 32},
};

// The variant words a part's name may carry; a name with one the chip has no row for is no preset.
constexpr const char* kVariants[] = {"pcie", "nvl"};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

const GpuRow& Row(const std::string& key) {
  for (const GpuRow& g : kGpus)
    if (key == g.key) return g;
  throw std::logic_error("no GPU row " + key);
}

// An NVSwitch box of eight GPUs with one NIC per GPU.
ClusterSpec Dgx(const char* name, const char* gpu, double nic_Gbps) {
  ClusterSpec c;
  c.name = name;
  c.gpu = GpuPreset(gpu);
  c.node.fabric = IntraNodeFabric::kNVSwitch;
  c.node.intra_GBps = Row(gpu).nvlink_GBps;
  c.node.nics = 8;
  c.node.nic_Gbps = nic_Gbps;
  return c;
}

ClusterSpec PcieA100() {
  // A common PCIe server: 8x A100 PCIe 80GB under two PCIe Gen4 switches (4 GPUs each, one per
  // CPU socket), x16 links (32 GB/s raw per direction, ~80% after protocol overhead), sockets
  // joined by a ~40 GB/s CPU link, 2x 100 Gb/s Ethernet (RoCE) NICs.
  ClusterSpec c;
  c.name = "pcie-a100";
  c.gpu = GpuPreset("a100-pcie");
  c.node.fabric = IntraNodeFabric::kPCIe;
  c.node.intra_GBps = 32;
  c.node.intra_efficiency = 0.80;
  c.node.intra_latency_us = 6;
  c.node.gpus_per_pcie_switch = 4;
  c.node.socket_link_GBps = 40;
  c.node.nics = 2;
  c.node.nic_Gbps = 100;
  c.node.nic_latency_us = 8;
  return c;
}

}  // namespace

std::vector<std::string> GpuPresetNames() {
  std::vector<std::string> names;
  for (const GpuRow& g : kGpus) names.emplace_back(g.key);
  return names;
}

GpuSpec GpuPreset(const std::string& name) {
  const std::string wanted = Lower(name);
  for (const GpuRow& g : kGpus) {
    if (wanted == g.key) {
      GpuSpec s;
      s.name = g.name;
      s.peak_tflops = g.peak_tflops;
      s.hbm_GBps = g.hbm_GBps;
      s.memory_GiB = g.memory_GiB;
      s.sms = g.sms;
      s.bf16 = g.bf16;
      return s;
    }
  }
  throw InputError(fmt::format("GPU \"{}\" is not a preset ({}); describe it in a JSON cluster "
                               "file (gpu: peak_tflops, hbm_GBps, memory_GiB, sms)",
                               name, fmt::join(GpuPresetNames(), ", ")));
}

// Finds the preset a discovered device name ("NVIDIA H100 80GB HBM3", "Tesla V100-SXM2-16GB")
// names, and the NVLink of the board such a part sits on (0: a PCIe card, or an NVL card whose
// bridges join pairs only). The chip must be a word of the name ("GH200" is not an H200), with
// its variant ("PCIe", "NVL") when the name has one, and a stated size must be the row's or a
// known other size of the part: other parts are no preset rather than a different GPU (QA
// session 56: GH200 ran as an H200, H100 NVL as the SXM part, V100 PCIe 16GB with 32 GiB).
bool MatchGpuPreset(const std::string& device_name, GpuSpec* out, double* board_nvlink_GBps) {
  const std::string lower = Lower(device_name);
  std::set<std::string> words;
  int stated_GB = 0;
  for (size_t i = 0; i < lower.size();) {
    size_t j = i;
    while (j < lower.size() && std::isalnum(static_cast<unsigned char>(lower[j]))) ++j;
    if (j > i) {
      const std::string word = lower.substr(i, j - i);
      words.insert(word);
      if (word.size() > 2 && word.compare(word.size() - 2, 2, "gb") == 0 &&
          std::all_of(word.begin(), word.end() - 2, [](unsigned char c) { return std::isdigit(c); }))
        stated_GB = std::atoi(word.c_str());
    }
    i = j + 1;
  }
  const char* variant = nullptr;
  for (const char* v : kVariants)
    if (words.count(v)) variant = v;
  const bool pcie = words.count("pcie") > 0;
  for (const GpuRow& g : kGpus) {
    const std::string key = g.key;
    const size_t dash = key.find('-');
    const std::string chip = key.substr(0, dash);
    const std::string row_variant = dash == std::string::npos ? "" : key.substr(dash + 1);
    if (!words.count(chip) || row_variant != (variant ? variant : "")) continue;
    *out = GpuPreset(key);
    if (stated_GB != 0 && stated_GB != g.nominal_GB) {
      if (chip == "a100" && stated_GB == 40) {
        // The 40 GB A100s ("NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB") carry HBM2 at
        // 1555 GB/s (datasheet) where the 80 GB parts have HBM2e.
        out->name = std::string(g.name).replace(std::string(g.name).find("80GB"), 4, "40GB");
        out->hbm_GBps = 1555;
        out->memory_GiB = 40;
      } else if (chip == "v100" && stated_GB == 16) {
        out->name = "V100 SXM2 16GB";  // the same part with half the HBM2
        out->memory_GiB = 16;
      } else {
        return false;
      }
    }
    const bool named_sxm = lower.find("sxm") != std::string::npos;
    const bool card = pcie || lower.find("nvl") != std::string::npos;
    *board_nvlink_GBps = named_sxm || (g.sxm_unless_named && !card) ? g.nvlink_GBps : 0;
    return true;
  }
  return false;
}

std::vector<std::string> ClusterPresetNames() { return {"dgx-a100", "dgx-h100", "pcie-a100"}; }

bool ClusterPreset(const std::string& name, ClusterSpec* out) {
  // DGX A100: 8x A100 80GB on NVSwitch (600 GB/s bidirectional = 300 per direction per GPU),
  // 8x 200 Gb/s HDR InfiniBand for compute (SC'21 setup; NVIDIA DGX A100 datasheet).
  if (name == "dgx-a100") *out = Dgx("dgx-a100", "a100", 200);
  // DGX H100: 8x H100 SXM on NVSwitch (900 GB/s bidirectional = 450 per direction),
  // 8x 400 Gb/s NDR ConnectX-7 (NVIDIA DGX H100 datasheet).
  else if (name == "dgx-h100") *out = Dgx("dgx-h100", "h100", 400);
  else if (name == "pcie-a100") *out = PcieA100();
  else return false;
  out->source = "preset";
  return true;
}

}  // namespace braid::sim
