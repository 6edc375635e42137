#include "sim/workload/model.h"

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>

#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"

namespace braid::sim {
namespace {

struct Preset {
  const char* name;
  int layers, hidden, heads, kv_heads, ffn_hidden;
  Activation activation;
  int seq_len, vocab;
};

// Sources: GPT-3 (Brown et al. 2020, Table 2.1; vocab padded to 51200 as Megatron does);
// Megatron SC'21 Table 1 (Narayanan et al. 2021; ffn 4h, seq 2048, vocab 51200);
// Llama 2 (Touvron et al. 2023, and the released config.json files); Llama 3 (Meta 2024, "The
// Llama 3 Herd of Models", Table 3, and config.json).
constexpr Preset kPresets[] = {
    {"gpt3-175b", 96, 12288, 96, 96, 49152, Activation::kGelu, 2048, 51200},
    {"megatron-1.7b", 24, 2304, 24, 24, 9216, Activation::kGelu, 2048, 51200},
    {"megatron-3.6b", 30, 3072, 32, 32, 12288, Activation::kGelu, 2048, 51200},
    {"megatron-7.5b", 36, 4096, 32, 32, 16384, Activation::kGelu, 2048, 51200},
    {"megatron-18b", 40, 6144, 48, 48, 24576, Activation::kGelu, 2048, 51200},
    {"megatron-39b", 48, 8192, 64, 64, 32768, Activation::kGelu, 2048, 51200},
    {"megatron-76b", 60, 10240, 80, 80, 40960, Activation::kGelu, 2048, 51200},
    {"megatron-146b", 80, 12288, 96, 96, 49152, Activation::kGelu, 2048, 51200},
    {"megatron-310b", 96, 16384, 128, 128, 65536, Activation::kGelu, 2048, 51200},
    {"megatron-530b", 105, 20480, 128, 128, 81920, Activation::kGelu, 2048, 51200},
    {"megatron-1t", 128, 25600, 160, 160, 102400, Activation::kGelu, 2048, 51200},
    {"llama-2-7b", 32, 4096, 32, 32, 11008, Activation::kSwiglu, 4096, 32000},
    {"llama-2-13b", 40, 5120, 40, 40, 13824, Activation::kSwiglu, 4096, 32000},
    {"llama-2-70b", 80, 8192, 64, 8, 28672, Activation::kSwiglu, 4096, 32000},
    {"llama-3-8b", 32, 4096, 32, 8, 14336, Activation::kSwiglu, 8192, 128256},
    {"llama-3-70b", 80, 8192, 64, 8, 28672, Activation::kSwiglu, 8192, 128256},
    {"llama-3-405b", 126, 16384, 128, 8, 53248, Activation::kSwiglu, 8192, 128256},
};

ModelSpec FromPreset(const Preset& p) {
  ModelSpec m;
  m.name = p.name;
  m.layers = p.layers;
  m.hidden = p.hidden;
  m.heads = p.heads;
  m.kv_heads = p.kv_heads;
  m.ffn_hidden = p.ffn_hidden;
  m.activation = p.activation;
  m.seq_len = p.seq_len;
  m.vocab = p.vocab;
  return m;
}

ModelSpec FromJson(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  JsonFields f(doc, path);
  f.RejectUnknown({"name", "layers", "hidden", "heads", "kv_heads", "ffn_hidden", "activation",
                   "seq_len", "vocab"});
  ModelSpec m;
  m.name = f.Has("name") ? f.String("name") : std::filesystem::path(path).stem().string();
  m.file = path;
  m.layers = f.Int("layers", 1, 100000);
  m.hidden = f.Int("hidden", 1, 1 << 20);
  m.heads = f.Int("heads", 1, 1 << 16);
  m.kv_heads = f.Int("kv_heads", 1, 1 << 16, m.heads);
  m.ffn_hidden = f.Int("ffn_hidden", 1, 1 << 24);
  m.activation = f.Choice("activation", {"gelu", "swiglu"}) == "gelu" ? Activation::kGelu
                                                                      : Activation::kSwiglu;
  m.seq_len = f.Int("seq_len", 1, 1 << 24);
  m.vocab = f.Int("vocab", 1, 1 << 24);
  ValidateModel(m, path);
  return m;
}

}  // namespace

std::vector<std::string> ModelPresetNames() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.emplace_back(p.name);
  return names;
}

ModelSpec LoadModel(const std::string& name_or_path) {
  for (const Preset& p : kPresets) {
    if (name_or_path == p.name) return FromPreset(p);
  }
  if (name_or_path.find(".json") != std::string::npos || std::filesystem::exists(name_or_path)) {
    return FromJson(name_or_path);
  }
  throw InputError(fmt::format("--model: \"{}\" is neither a preset ({}) nor a JSON file",
                               name_or_path, fmt::join(ModelPresetNames(), ", ")));
}

void ValidateModel(const ModelSpec& m, const std::string& origin) {
  if (m.hidden % m.heads != 0) {
    throw InputError(fmt::format("{}: hidden ({}) must be divisible by heads ({})", origin,
                                 m.hidden, m.heads));
  }
  if (m.kv_heads > m.heads || m.heads % m.kv_heads != 0) {
    throw InputError(fmt::format("{}: heads ({}) must be a multiple of kv_heads ({})", origin,
                                 m.heads, m.kv_heads));
  }
}

std::array<double, 4> LayerLinearParameters(const ModelSpec& m) {
  const double h = m.hidden, f = m.ffn_hidden;
  const double kv = double(m.kv_heads) * m.head_dim();
  const double qkv = h * (h + 2 * kv);
  const double out = h * h;
  const double fc1 = (m.activation == Activation::kSwiglu ? 2 : 1) * h * f;  // gate and up for swiglu
  const double fc2 = f * h;
  if (m.gpt_style()) {
    // biases of QKV, out, FC1, FC2 and two LayerNorms (gain + bias): Megatron's 13h for f = 4h.
    return {qkv + (h + 2 * kv) + 2 * h, out + h, fc1 + f + 2 * h, fc2 + h};
  }
  return {qkv + h, out, fc1 + h, fc2};  // two RMSNorm gains
}

double LayerParameters(const ModelSpec& m) {
  const std::array<double, 4> linear = LayerLinearParameters(m);
  return linear[0] + linear[1] + linear[2] + linear[3];
}

double EmbeddingParameters(const ModelSpec& m) {
  const double h = m.hidden;
  if (m.gpt_style()) return (double(m.vocab) + m.seq_len) * h;  // tied output, learned positions
  return 2.0 * m.vocab * h + h;                                   // untied output + final norm
}

double TotalParameters(const ModelSpec& m) {
  return m.layers * LayerParameters(m) + EmbeddingParameters(m);
}

int PaddedVocab(const ModelSpec& m, int tp) {
  const int64_t multiple = int64_t{kVocabPaddingMultiple} * tp;
  return static_cast<int>((m.vocab + multiple - 1) / multiple * multiple);
}

double VocabShard(const ModelSpec& m, int tp) { return double(PaddedVocab(m, tp)) / tp; }

const char* ActivationName(Activation a) { return a == Activation::kGelu ? "gelu" : "swiglu"; }

}  // namespace braid::sim
