// A GPT-style decoder-only transformer: the fields a layout planner needs, presets for published
// models, and loading from a JSON file with the same field names.
#pragma once

#include <array>

#include <string>
#include <vector>

namespace braid::sim {

enum class Activation { kGelu, kSwiglu };

// Architecture family conventions implied by the activation, as in the published models:
// gelu   -> GPT-2/3 and Megatron: biases, LayerNorm, learned positions, tied input/output embedding,
//           dropout (0.1: GPT-3, Megatron-LM's default) after attention and each residual branch;
// swiglu -> Llama: no biases, RMSNorm, rotary positions, untied output embedding, no dropout.
struct ModelSpec {
  std::string name;
  std::string file;  // the JSON file it was read from; empty for a preset
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;    // == heads for multi-head attention; fewer for grouped-query attention
  int ffn_hidden = 0;  // MLP inner size (per branch for swiglu)
  Activation activation = Activation::kGelu;
  int seq_len = 0;
  int vocab = 0;

  int head_dim() const { return hidden / heads; }
  bool gpt_style() const { return activation == Activation::kGelu; }
  bool has_dropout() const { return gpt_style(); }  // dropout kernels run and keep 1-byte masks
};

// Preset names, in a stable order (for --help and errors).
std::vector<std::string> ModelPresetNames();

// A preset name, or a path to a JSON file with the fields of ModelSpec ("activation" is "gelu" or
// "swiglu"; "name" optional). Throws InputError naming the file/field/constraint.
ModelSpec LoadModel(const std::string& name_or_path);

// Throws InputError if fields are inconsistent (hidden % heads, heads % kv_heads, ranges).
void ValidateModel(const ModelSpec& model, const std::string& origin);

// Weights of one transformer layer / of the embeddings (input + output unless tied), in elements.
double LayerParameters(const ModelSpec& model);
// A layer's weights by the linear layer that holds them, in forward order (QKV, attention output,
// FC1, FC2), each with its biases and the norm applied before it (as Megatron-LM's Transformer
// Engine layers fuse it): the tensors a data-parallel bucket holds whole. Sums to LayerParameters.
std::array<double, 4> LayerLinearParameters(const ModelSpec& model);
double EmbeddingParameters(const ModelSpec& model);
double TotalParameters(const ModelSpec& model);

// Megatron-LM pads the vocabulary with dummy tokens to a multiple of
// --make-vocab-size-divisible-by (default 128) x tp, so every TP rank holds an equal shard of
// the embedding and the logits (megatron/training/vocab_utils.py): Llama 3's 128256 becomes
// 129024 at tp=8. The padding is real work (logits GEMM, loss, gradients) and real memory.
inline constexpr int kVocabPaddingMultiple = 128;
int PaddedVocab(const ModelSpec& model, int tp);
// The vocabulary entries one TP rank holds: PaddedVocab / tp.
double VocabShard(const ModelSpec& model, int tp);

const char* ActivationName(Activation a);

}  // namespace braid::sim
