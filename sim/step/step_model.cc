#include "sim/step/step_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <string_view>

#include "sim/common/input_error.h"
#include "sim/workload/layer_work.h"
#include "sim/workload/pipeline_split.h"

namespace braid::sim {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
// Rounds of simulating the pipeline with ZeRO-1's gather waits (StepModel::Simulate).
constexpr int kGatherRounds = 4;
// Pipeline tasks one simulation may run (16x the 1T-parameter, 3072-GPU layout of Table 1): a
// bound on its memory (about 100 bytes per task) and time.
constexpr int kMaxSimulatedTasks = 1 << 20;
// Optimizer step per local parameter, as Megatron-LM runs it (megatron/optimizer): the gradient
// norm for clipping reads the fp32 gradients (4 B); fused Adam reads fp32 master, gradient, m
// and v and writes master, m and v (28 B); a separate pass copies the fp32 master weights into
// the 16-bit model weights (read 4 B, write 2 B).
constexpr double kAdamStepBytesPerParam = 4 + 28 + 6;
// fp16 with loss scaling: the fp32 gradients are unscaled and checked for inf/NaN in place.
constexpr double kUnscaleBytesPerParam = 8;

}  // namespace

StepModel::StepModel(const ModelSpec& model, const ClusterSpec& cluster, const TrainingSpec& training,
                     ComputeModel compute)
    : model_(model), cluster_(cluster), training_(training), compute_(std::move(compute)),
      coster_(cluster_) {
  // A run in a format the GPU cannot compute in is no run (QA, session 53: V100 in bf16 was
  // simulated at its fp16 peak without a word).
  if (!training_.loss_scaling && !cluster_.gpu.bf16) {
    throw InputError(fmt::format("training in bf16 on the {} GPUs of cluster {}, which have no bf16 tensor cores: "
                                 "train in fp16 with loss scaling (--fp16)", cluster_.gpu.name, cluster_.name));
  }
}

// Megatron's rank order: TP fastest, then DP, then PP; GPUs are numbered node-major.
int StepModel::Gpu(const Layout& l, int stage, int dp_rank, int tp_rank) const {
  return stage * l.dp * l.tp + dp_rank * l.tp + tp_rank;
}

std::vector<int> StepModel::ReplicasSharingNodes(const Layout& l, int stage_a, int stage_b) const {
  const int gpn = cluster_.node.gpus;
  std::set<int> nodes;
  for (int stage : {stage_a, stage_b})
    for (int r = 0; r < l.tp; ++r) nodes.insert(Gpu(l, stage, 0, r) / gpn);
  std::vector<int> replicas;
  for (int d = 0; d < l.dp; ++d) {
    bool shares = false;
    for (int stage : {stage_a, stage_b})
      for (int r = 0; r < l.tp && !shares; ++r) shares = nodes.count(Gpu(l, stage, d, r) / gpn) > 0;
    if (shares) replicas.push_back(d);
  }
  return replicas;
}

std::string StepModel::Infeasible(const Layout& l, std::string* rule) const {
  std::string name;
  std::string why = Violation(l, &name);
  if (rule) *rule = name;
  return why;
}

std::string StepModel::Violation(const Layout& l, std::string* rule) const {
  const ModelSpec& m = model_;
  const int gpus = cluster_.total_gpus();
  if (l.gpus() != gpus) {
    *rule = "gpus";
    return fmt::format("tp*pp*dp = {}*{}*{} = {} but the cluster has {} GPUs", l.tp, l.pp, l.dp,
                       l.gpus(), gpus);
  }
  if (m.heads % l.tp != 0) {
    *rule = "tp-divides-heads";
    return fmt::format("heads ({}) not divisible by tp ({})", m.heads, l.tp);
  }
  if (m.kv_heads % l.tp != 0) {
    // Megatron-core splits the KV groups over the TP ranks (divide() asserts it). Replicating a
    // group on several ranks, as some inference engines do, would also need the replicas'
    // gradients reduced; that is not modelled.
    *rule = "tp-divides-kv-heads";
    return fmt::format("kv_heads ({}) not divisible by tp ({}): each tensor-parallel rank must hold whole KV groups",
                       m.kv_heads, l.tp);
  }
  if (m.ffn_hidden % l.tp != 0) {
    *rule = "tp-divides-ffn";
    return fmt::format("ffn_hidden ({}) not divisible by tp ({})", m.ffn_hidden, l.tp);
  }
  std::string split_why;
  if (LayoutStageLayers(m.layers, l, training_.uneven_pipeline, &split_why).empty()) {
    *rule = "pp-v-split-layers";
    return split_why;
  }
  if (training_.global_batch % (int64_t{l.dp} * l.mb) != 0) {
    *rule = "batch-divisible";
    return fmt::format("global batch ({}) not divisible by dp*mb ({}*{})", training_.global_batch,
                       l.dp, l.mb);
  }
  const int microbatches = MicroBatches(training_, l);
  // Megatron-LM's interleaved schedule refuses pp <= 2 (initialize_model_parallel raises
  // "pipeline-model-parallel size should be greater than 2 with interleaved schedule").
  if (l.v > 1 && l.pp < 3) {
    *rule = "interleave-needs-pp";
    return fmt::format("v={} (interleaving) needs pp >= 3, as Megatron-LM's interleaved schedule does (pp={})",
                       l.v, l.pp);
  }
  if (l.v > 1 && microbatches % l.pp != 0) {
    *rule = "interleave-microbatches";
    return fmt::format("interleaving needs micro-batches per pipeline ({}) divisible by pp ({})",
                       microbatches, l.pp);
  }
  // The simulation runs one task per micro-batch, chunk and pass on each stage of a pipeline.
  if (const double tasks = 2.0 * l.pp * l.v * microbatches; tasks > kMaxSimulatedTasks) {
    *rule = "simulation-size";
    return fmt::format("2*pp*v*micro-batches = 2*{}*{}*{} = {:.0f} tasks, more than the {} one "
                       "simulation handles (use a larger mb, or a smaller global batch)",
                       l.pp, l.v, microbatches, tasks, kMaxSimulatedTasks);
  }
  if (l.sp && l.tp < 2) {
    *rule = "sp-needs-tp";
    return "sp=on needs tp >= 2";
  }
  // Sequence parallelism splits [s, b, h] along s over the TP ranks (Megatron-LM asserts the
  // first dimension divisible by the tensor-parallel size).
  if (l.sp && model_.seq_len % l.tp != 0) {
    *rule = "sp-seq-divisible";
    return fmt::format("sp=on splits the sequence over tp: seq_len ({}) not divisible by tp ({})",
                       model_.seq_len, l.tp);
  }
  if (l.zero >= 2 && l.pp > 1) {
    *rule = "zero-with-pp";
    return fmt::format("zero={} shards gradients per micro-batch, which pipeline gradient "
                       "accumulation does not allow (pp={}; use zero <= 1)", l.zero, l.pp);
  }
  int stage = 0;
  MemoryBreakdown mem = PeakMemory(l, &stage);
  if (mem.total() > cluster_.gpu.memory_GiB * kGiB) {
    *rule = "memory";
    return fmt::format("needs {:.1f} GiB on stage {} (weights {:.1f}, grads {:.1f}, optimizer "
                       "{:.1f}, activations {:.1f}, reserved {:.1f}) > {:.1f} GiB per GPU",
                       mem.total() / kGiB, stage, mem.weights / kGiB, mem.gradients / kGiB,
                       mem.optimizer / kGiB, mem.activations / kGiB, mem.reserved / kGiB,
                       cluster_.gpu.memory_GiB);
  }
  return "";
}

std::vector<int> StepModel::SplitOf(const Layout& l) const {
  std::string why;
  std::vector<int> split = LayoutStageLayers(model_.layers, l, training_.uneven_pipeline, &why);
  if (split.empty()) throw InputError("layout " + LayoutToString(l) + ": " + why);
  return split;
}

double StepModel::StageParameters(const Layout& l, int stage) const {
  const double layers = StageLayerCount(SplitOf(l), l.pp, stage);
  double p = layers * LayerParameters(model_) / l.tp;
  if (stage == 0) p += EmbeddingWork(model_, l, training_).parameters;
  if (stage == l.pp - 1) p += HeadWork(model_, l, training_).parameters;
  return p;
}

MemoryBreakdown StepModel::PeakMemory(const Layout& l, int* worst_stage) const {
  MemoryBreakdown worst;
  const std::vector<int> split = SplitOf(l);
  // Stage 0 holds the most micro-batches in flight, the last stage the logits; with an uneven
  // split stage 1 is the fullest of the middle stages (more layers than stage 0, the most in
  // flight of the rest).
  for (int s : {0, std::min(1, l.pp - 1), l.pp - 1}) {
    double largest_unit = LayerParameters(model_) / l.tp;
    if (s == 0) largest_unit = std::max(largest_unit, EmbeddingWork(model_, l, training_).parameters);
    if (s == l.pp - 1) largest_unit = std::max(largest_unit, HeadWork(model_, l, training_).parameters);
    MemoryBreakdown m = StageMemory(model_, l, training_, cluster_.gpu, s, StageChunkLayers(split, l.pp, s),
                                    StageParameters(l, s), largest_unit, s == l.pp - 1);
    if (m.total() > worst.total()) {
      worst = m;
      if (worst_stage) *worst_stage = s;
    }
  }
  return worst;
}

double StepModel::PassSeconds(const PassWork& pass, const Layout& l, int stage, double* tp_seconds) {
  double seconds = 0;
  for (const Kernel& k : pass.kernels) seconds += compute_.Seconds(k);
  double tp = 0;
  if (l.tp > 1) {
    CollectiveQuery q;
    q.elem_size = training_.bytes_per_value;
    std::vector<int> group;
    for (int r = 0; r < l.tp; ++r) group.push_back(Gpu(l, stage, 0, r));
    q.groups.push_back(group);
    for (const TpCollective& c : pass.tp_collectives) {
      q.collective = c.collective;
      q.bytes = c.bytes;
      double exposed = coster_.Cost(q).seconds;
      // Beside a GEMM only what outlasts it shows. (The GEMM loses the SMs the collective's
      // kernel occupies; no measurement of that slowdown is at hand, so it is not charged.)
      if (c.hidden_by >= 0) exposed = std::max(0.0, exposed - compute_.Seconds(pass.kernels[size_t(c.hidden_by)]));
      tp += exposed;
    }
  }
  if (tp_seconds) *tp_seconds += tp;
  return seconds + tp;
}

double StepModel::DpCollectiveSeconds(coll::Collective c, double bytes, const Layout& l, int stage) {
  if (l.dp == 1 || bytes <= 0) return 0;
  CollectiveQuery q;
  q.collective = c;
  q.bytes = bytes;
  q.elem_size = c == coll::Collective::kAllGather ? training_.bytes_per_value : training_.grad_reduce_bytes;
  // The DP groups of all TP ranks of the stage run together and share the nodes' NICs.
  for (int r = 0; r < l.tp; ++r) {
    std::vector<int> group;
    for (int d = 0; d < l.dp; ++d) group.push_back(Gpu(l, stage, d, r));
    q.groups.push_back(group);
  }
  return coster_.Cost(q).seconds;
}

std::vector<std::pair<double, double>> StepModel::GradReductions(const StageCosts& costs, const PipelineResult& p,
                                                                 const Layout& l, int s, bool overlap) const {
  std::vector<std::pair<double, double>> out;  // (issued, bytes)
  // Adds buckets of the gradients `bytes` (in backward order), each reduced once the one that
  // closes it is ready (`ready`, same order).
  auto add_buckets = [&out](const std::vector<double>& ready, const std::vector<double>& bytes, double limit) {
    size_t first = 0;
    for (size_t end : BucketEnds(bytes, limit)) {
      out.push_back({ready[end], std::accumulate(bytes.begin() + first, bytes.begin() + end + 1, 0.0)});
      first = end + 1;
    }
  };
  const double unbounded = std::numeric_limits<double>::infinity();
  const std::vector<ChunkCost>& chunks = costs.chunks[s];
  if (!overlap) {
    // Nothing is gained by buckets: Megatron-LM reduces its whole gradient buffer at once (local
    // DDP, 2021; one bucket per buffer without --overlap-grad-reduce), after the backward.
    std::vector<double> bytes;
    for (const ChunkCost& cc : chunks) bytes.insert(bytes.end(), cc.grad_bytes.begin(), cc.grad_bytes.end());
    add_buckets(std::vector<double>(bytes.size(), p.stage_end[s]), bytes, unbounded);
    return out;
  }
  std::vector<const TaskTiming*> backward;  // the stage's backward tasks in execution order
  for (const TaskTiming& t : p.tasks[s]) {
    if (!t.task.forward) backward.push_back(&t);
  }
  for (int c = 0; c < l.v; ++c) {
    size_t last = 0;  // the chunk's last backward (its last micro-batch's)
    for (size_t i = 0; i < backward.size(); ++i) {
      if (backward[i]->task.chunk == c && (backward[last]->task.chunk != c || backward[i]->end > backward[last]->end)) last = i;
    }
    const ChunkCost& cc = chunks[size_t(c)];
    std::vector<double> ready(cc.grad_bytes.size());
    if (l.v == 1 && s == 0) {
      // A weight's gradient is final when the last micro-batch's backward passes it; the
      // bucket's hooks issue it then.
      double at = backward[last]->start;
      for (size_t i = 0; i < ready.size(); ++i) ready[i] = at += cc.grad_backward[i];
    } else {
      // One bucket per chunk off the first stage's first chunk, issued when its last gradient is
      // final; interleaved, every chunk is issued s backward tasks after its last one, in step
      // across the pipeline (schedules.py's grad_sync_func under --align-grad-reduce, the
      // default), or at the end of the backward.
      const size_t issue = l.v == 1 ? last : std::min(last + size_t(s), backward.size() - 1);
      std::fill(ready.begin(), ready.end(), backward[issue]->end);
    }
    // Megatron-LM buckets only the first stage's first chunk (training.py, DDP's bucket_size).
    add_buckets(ready, cc.grad_bytes, s == 0 && c == 0 ? BucketBytes(training_, l) : unbounded);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::vector<GatherSchedule> StepModel::ParamGathers(const StageCosts& costs, const Layout& l,
                                                    const PipelineResult& timing) const {
  std::vector<GatherSchedule> out;
  for (int s = 0; s < l.pp; ++s) {
    std::vector<std::vector<GatherBucket>> chunks;
    for (const ChunkCost& cc : costs.chunks[s]) chunks.push_back(cc.gather_buckets);
    std::vector<double> first_start(size_t(l.v), 0), forward_starts;  // forwards in execution order
    for (const TaskTiming& t : timing.tasks[s]) {
      if (!t.task.forward) continue;
      forward_starts.push_back(t.start);
      if (t.task.microbatch == 0) first_start[size_t(t.task.chunk)] = t.start;
    }
    out.push_back(ScheduleParamGather(
        chunks, first_start, l.v > 1 ? InterleavedDispatchTimes(forward_starts, l.pp, l.v, s) : std::vector<double>{}));
  }
  return out;
}

double StepModel::TiedEmbeddingSeconds(const Layout& l) {
  if (!model_.gpt_style() || l.pp == 1) return 0;
  CollectiveQuery q;
  q.collective = coll::Collective::kAllReduce;
  q.bytes = VocabShard(model_, l.tp) * model_.hidden * training_.grad_reduce_bytes;
  q.elem_size = training_.grad_reduce_bytes;
  // Every TP rank of a replica pairs its two copies at once, each pair over its GPUs' own NICs,
  // and so do the replicas that share those nodes (one pair was costed where 8 shared 2 NICs).
  for (int d : ReplicasSharingNodes(l, 0, l.pp - 1))
    for (int r = 0; r < l.tp; ++r) q.groups.push_back({Gpu(l, 0, d, r), Gpu(l, l.pp - 1, d, r)});
  return coster_.Cost(q).seconds;
}

double StepModel::ZeroGatherSeconds(const LayerWork& unit, const Layout& l, int stage) {
  if (l.zero < 3) return 0;
  return DpCollectiveSeconds(coll::Collective::kAllGather, unit.parameters * training_.bytes_per_value, l, stage);
}

double StepModel::ZeroReduceSeconds(const LayerWork& unit, const Layout& l, int stage) {
  if (l.zero < 2) return 0;
  return DpCollectiveSeconds(coll::Collective::kReduceScatter, unit.parameters * training_.grad_reduce_bytes, l,
                             stage);
}

StepModel::StageCosts StepModel::Costs(const Layout& l, CostsFor purpose) {
  const bool keep_spans = purpose == CostsFor::kTrace;
  StageCosts costs;
  const LayerWork layer = TransformerLayerWork(model_, l, training_);
  const LayerWork emb = EmbeddingWork(model_, l, training_);
  const LayerWork head = HeadWork(model_, l, training_);
  const std::vector<int> split = SplitOf(l);
  const double layer_grad_bytes = layer.parameters * training_.grad_reduce_bytes;
  const int last_vstage = l.pp * l.v - 1;
  const bool overlap_reduce = OverlapsGradReduce(training_, l);  // ZeRO-2/3 reduce-scatters
  // ZeRO-1 under the next forward (not needed by the closed-form estimate)
  const bool overlap_gather = purpose != CostsFor::kEstimate && OverlapsParamGather(training_, l);
  std::map<std::pair<int, double>, double> gather_seconds;  // by (node offset, parameters)
  static constexpr const char* kLinearNames[] = {"qkv", "proj", "fc1", "fc2"};
  std::array<double, 4> linear_share = LayerLinearParameters(model_);  // each weight's share of a layer's parameters
  for (double& share : linear_share) share /= LayerParameters(model_);
  costs.chunks.resize(l.pp);
  // A layer's cost depends on its stage only through where the stage's TP group sits within a
  // node; compute it once per distinct offset.
  struct LayerCost {
    double forward, backward, forward_tp, backward_tp;
    double gather, reduce;  // its ZeRO collectives (zero_overlap.h), seconds
  };
  std::map<int, LayerCost> by_offset;
  for (int s = 0; s < l.pp; ++s) {
    const int offset = Gpu(l, s, 0, 0) % cluster_.node.gpus;
    auto found = by_offset.find(offset);
    if (found == by_offset.end()) {
      LayerCost lc{0, 0, 0, 0, 0, 0};
      lc.forward = PassSeconds(layer.forward, l, s, &lc.forward_tp);
      lc.backward = PassSeconds(layer.recompute, l, s, &lc.backward_tp) +
                    PassSeconds(layer.backward, l, s, &lc.backward_tp);
      lc.gather = ZeroGatherSeconds(layer, l, s);
      lc.reduce = ZeroReduceSeconds(layer, l, s);
      found = by_offset.emplace(offset, lc).first;
    }
    const LayerCost& lc = found->second;
    for (int c = 0; c < l.v; ++c) {
      const int vstage = c * l.pp + s;
      // The model's number of the chunk's first transformer layer.
      const int first_layer = std::accumulate(split.begin(), split.begin() + vstage, 0);
      const int layers_per_chunk = split[size_t(vstage)];
      ChunkCost cc;
      double ftp = lc.forward_tp * layers_per_chunk, btp = lc.backward_tp * layers_per_chunk;
      // The chunk's units in execution order: forward embedding -> layers -> head, backward the
      // reverse. Units other than the layers add their own TP time to ftp / btp.
      std::vector<ZeroUnit> forward, backward;
      if (vstage == 0) {
        forward.push_back({"embedding", -1, PassSeconds(emb.forward, l, s, &ftp), ZeroGatherSeconds(emb, l, s), 0});
      }
      for (int i = 0; i < layers_per_chunk; ++i) {
        forward.push_back({"layer", first_layer + i, lc.forward, lc.gather, 0});
      }
      if (vstage == last_vstage) {
        forward.push_back({"head", -1, PassSeconds(head.forward, l, s, &ftp), ZeroGatherSeconds(head, l, s), 0});
        backward.push_back({"head", -1, PassSeconds(head.backward, l, s, &btp), ZeroGatherSeconds(head, l, s),
                            ZeroReduceSeconds(head, l, s)});
      }
      for (int i = layers_per_chunk - 1; i >= 0; --i) {
        backward.push_back({"layer", first_layer + i, lc.backward, lc.gather, lc.reduce});
      }
      if (vstage == 0) {
        const double eb = PassSeconds(emb.recompute, l, s, &btp) + PassSeconds(emb.backward, l, s, &btp);
        backward.push_back({"embedding", -1, eb, ZeroGatherSeconds(emb, l, s), ZeroReduceSeconds(emb, l, s)});
      }
      // The gradients in the units DDP buckets, whole parameters: the head and the embedding
      // whole, a layer by weight in the order its backward finishes them (fc2, fc1, proj, qkv),
      // each charged its share of the layer's backward by size. By whole layers, a bucket could
      // not be smaller than a layer: --bucket-mb below one changed nothing (QA, session 53).
      for (const ZeroUnit& u : backward) {
        const std::string_view kind = u.kind;
        if (kind != "layer") {
          cc.grad_backward.push_back(u.compute);
          cc.grad_bytes.push_back((kind == "embedding" ? emb : head).parameters * training_.grad_reduce_bytes);
          continue;
        }
        for (size_t w = linear_share.size(); w-- > 0;) {
          cc.grad_backward.push_back(u.compute * linear_share[w]);
          cc.grad_bytes.push_back(layer_grad_bytes * linear_share[w]);
        }
      }
      if (overlap_gather) {
        // A layer's kernels are charged to its four weights in proportion to their size.
        std::vector<GatherUnit> units;
        for (const ZeroUnit& u : forward) {
          const std::string_view kind = u.kind;
          if (kind != "layer") {
            units.push_back({std::string(kind), u.compute, (kind == "embedding" ? emb : head).parameters});
            continue;
          }
          for (size_t w = 0; w < linear_share.size(); ++w) {
            units.push_back({fmt::format("layer {} {}", u.index, kLinearNames[w]), u.compute * linear_share[w],
                             layer.parameters * linear_share[w]});
          }
        }
        // Megatron-LM buckets only the first stage's first chunk (training.py, DDP's bucket_size).
        const double bucket = s == 0 && c == 0 ? BucketBytes(training_, l) / training_.grad_reduce_bytes
                                               : std::numeric_limits<double>::infinity();
        cc.gather_buckets = BucketUnits(units, bucket);
        for (GatherBucket& b : cc.gather_buckets) {
          auto [it, added] = gather_seconds.try_emplace({offset, b.parameters}, 0.0);
          if (added) {
            it->second = DpCollectiveSeconds(coll::Collective::kAllGather, b.parameters * training_.bytes_per_value, l, s);
          }
          b.gather = it->second;
        }
      }
      ZeroPass f = ScheduleZeroPass(forward, overlap_reduce, keep_spans),
               b = ScheduleZeroPass(backward, overlap_reduce, keep_spans);
      cc.forward = f.seconds;
      cc.forward_dp = f.exposed;
      cc.forward_spans = std::move(f.spans);
      cc.backward = b.seconds;
      cc.backward_dp = b.exposed;
      cc.backward_spans = std::move(b.spans);
      cc.forward_tp = ftp;
      cc.backward_tp = btp;
      costs.chunks[s].push_back(cc);
    }
  }
  // Pipeline messages: one micro-batch's activations (b x s x h), split over the TP ranks
  // (each sends 1/tp, then an all-gather inside the node) when scatter/gather is on. Each
  // boundary on its own GPUs: with tp x dp below a node's GPUs some boundaries stay inside a node
  // and others cross (all were costed as stage 0 -> 1; QA, session 56). The DP replicas whose GPUs
  // share those nodes send at the same moment, through the same NICs.
  if (l.pp > 1) {
    const double bytes = double(l.mb) * model_.seq_len * model_.hidden * training_.bytes_per_value;
    const bool split = training_.pp_scatter_gather && l.tp > 1 && !l.sp;
    for (int s = 0; s < l.pp; ++s) {
      const int next = (s + 1) % l.pp;
      std::vector<std::pair<int, int>> pairs;
      for (int d : ReplicasSharingNodes(l, s, next))
        for (int r = 0; r < l.tp; ++r) pairs.push_back({Gpu(l, s, d, r), Gpu(l, next, d, r)});
      double seconds = coster_.Transfers(pairs, split || l.sp ? bytes / l.tp : bytes);
      if (split) seconds += PassSeconds({{}, {{coll::Collective::kAllGather, bytes}}}, l, next, nullptr);
      costs.transfer_seconds.push_back(seconds);
    }
  }
  // Megatron's count: every pass, recomputation included, attention in full. The model's: forward
  // and backward once, causal attention's masked half left out.
  auto counted = [](const LayerWork& w) {
    return CountedFlops(w.forward) + CountedFlops(w.backward) + CountedFlops(w.recompute);
  };
  auto model = [](const LayerWork& w) { return ModelFlops(w.forward) + ModelFlops(w.backward); };
  costs.counted_flops_per_mb = model_.layers * counted(layer) + counted(emb) + counted(head);
  costs.model_flops_per_mb = model_.layers * model(layer) + model(emb) + model(head);
  return costs;
}

double StepModel::OptimizerSeconds(const Layout& l, int stage) const {
  const double local_params = StageParameters(l, stage) / (l.zero >= 1 ? l.dp : 1);
  // 16-bit gradients are first copied to fp32 ones (read 2 B, write 4 B).
  const double copy = training_.grad_reduce_bytes < 4 ? training_.grad_reduce_bytes + 4 : 0;
  const double unscale = training_.loss_scaling ? kUnscaleBytesPerParam : 0;
  return local_params * (kAdamStepBytesPerParam + copy + unscale) /
         (cluster_.gpu.hbm_GBps * 1e9 * cluster_.gpu.memory_efficiency);
}

double StepModel::EstimateSeconds(const Layout& l) {
  StageCosts c = Costs(l, CostsFor::kEstimate);
  const int m = MicroBatches(training_, l);
  double slowest_stage = 0;  // seconds of one micro-batch through all of a stage's chunks
  for (int s = 0; s < l.pp; ++s) {
    double f = 0;
    for (const ChunkCost& cc : c.chunks[s]) f += cc.forward + cc.backward;
    slowest_stage = std::max(slowest_stage, f);
  }
  // Megatron's formula: (m + (p - 1) / v) micro-batch times of the slowest stage, and a
  // message each way over every boundary of the fill and drain.
  double boundaries = 0;
  for (int s = 0; s + 1 < l.pp; ++s) boundaries += c.transfer_seconds[size_t(s)];
  const double pipeline = (m + double(l.pp - 1) / l.v) * slowest_stage + 2 * boundaries;
  return pipeline + OptimizerSeconds(l, 0) + DpFloorSeconds(l, c);
}

double StepModel::DpFloorSeconds(const Layout& l, const StageCosts& c) {
  // The stage with the most parameters: its gradients reduced in one go (the buckets' sum), of
  // which at most its last micro-batch's backward hides when overlapped (earlier micro-batches
  // only accumulate), and ZeRO-1/2's parameter all-gather when it ends the step. Without it a
  // search on PCIe ranked dp=32 (74% of its step exposed DP) first by estimate and simulated
  // only that: `--top 1` showed a layout 1.5x slower than the best (QA, session 56).
  if (l.dp == 1) return 0;
  int stage = 0;
  for (int s = 1; s < l.pp; ++s)
    if (StageParameters(l, s) > StageParameters(l, stage)) stage = s;
  const double params = StageParameters(l, stage);
  double floor = 0;
  if (l.zero < 2) {
    const coll::Collective op = l.zero >= 1 ? coll::Collective::kReduceScatter : coll::Collective::kAllReduce;
    const double reduce = DpCollectiveSeconds(op, params * training_.grad_reduce_bytes, l, stage);
    double hidden = 0;
    if (OverlapsGradReduce(training_, l))
      for (const ChunkCost& cc : c.chunks[size_t(stage)]) hidden += cc.backward;
    floor += std::max(0.0, reduce - hidden);
  }
  const bool overlap_gather = OverlapsParamGather(training_, l);
  if ((l.zero == 1 || l.zero == 2) && !overlap_gather)
    floor += DpCollectiveSeconds(coll::Collective::kAllGather, params * training_.bytes_per_value, l, stage);
  return floor;
}

StepResult StepModel::Simulate(const Layout& l, bool keep_trace) {
  if (std::string why = Infeasible(l); !why.empty()) {
    // The model's own fields may be what does not fit (heads, ffn_hidden, layers): name its file.
    const std::string model = model_.file.empty() ? model_.name : model_.name + " (" + model_.file + ")";
    throw InputError("layout " + LayoutToString(l) + " of model " + model + ": " + why);
  }
  return SimulateMicroBatches(l, keep_trace, MicroBatches(training_, l));
}

std::optional<double> StepModel::ExtrapolatedSeconds(const Layout& l) {
  const int m = MicroBatches(training_, l);
  // Twice the stages: the pipeline is full for most of it. A multiple of pp, as interleaving needs.
  const int m1 = 2 * l.pp;
  if (m < 4 * m1) return std::nullopt;  // two pipelines of 3 m1 micro-batches in all save 25% or more
  const double t1 = SimulateMicroBatches(l, false, m1).step_time_s;
  const double t2 = SimulateMicroBatches(l, false, 2 * m1).step_time_s;
  return t2 + (t2 - t1) / m1 * (m - 2 * m1);
}

StepResult StepModel::SimulateMicroBatches(const Layout& l, bool keep_trace, int microbatches) {
  StepResult r;
  r.layout = l;
  r.microbatches = microbatches;
  const StageCosts costs = Costs(l, keep_trace ? CostsFor::kTrace : CostsFor::kSimulate);

  PipelineInput in;
  in.schedule = training_.schedule;
  in.pp = l.pp;
  in.v = l.v;
  in.microbatches = r.microbatches;
  in.boundary_transfer_seconds = costs.transfer_seconds;
  in.blocking_sends = !training_.pp_overlap;
  in.forward.resize(l.pp);
  in.backward.resize(l.pp);
  r.tp_seconds_forward.resize(l.pp);
  r.tp_seconds_backward.resize(l.pp);
  r.dp_seconds_forward.resize(l.pp);
  r.dp_seconds_backward.resize(l.pp);
  for (int s = 0; s < l.pp; ++s) {
    for (const ChunkCost& cc : costs.chunks[s]) {
      in.forward[s].push_back(cc.forward);
      in.backward[s].push_back(cc.backward);
      r.tp_seconds_forward[s].push_back(cc.forward_tp);
      r.tp_seconds_backward[s].push_back(cc.backward_tp);
      r.dp_seconds_forward[s].push_back(cc.forward_dp);
      r.dp_seconds_backward[s].push_back(cc.backward_dp);
    }
  }
  // ZeRO-1's overlapped gathers lengthen micro-batch 0's forwards, by how much depends on when
  // those start: simulated first without them.
  const bool overlap_gather = OverlapsParamGather(training_, l);
  std::vector<GatherSchedule> gathers;
  r.pipeline = SimulatePipeline(in);
  // The waits move the forwards they delay, and so the waits: repeated until they settle (two
  // or three rounds; at most kGatherRounds).
  for (int round = 0; overlap_gather && round < kGatherRounds; ++round) {
    gathers = ParamGathers(costs, l, r.pipeline);
    std::vector<std::vector<double>> first_forward;
    for (const GatherSchedule& g : gathers) first_forward.push_back(g.first_forward);
    if (first_forward == in.first_forward) break;
    in.first_forward = std::move(first_forward);
    r.pipeline = SimulatePipeline(in);
  }
  r.first_forward_dp_seconds = r.dp_seconds_forward;
  for (size_t s = 0; s < gathers.size(); ++s)
    for (size_t c = 0; c < gathers[s].exposed.size(); ++c) r.first_forward_dp_seconds[s][c] += gathers[s].exposed[c];
  PipelineInput instant = in;
  instant.transfer_seconds = 0;
  instant.boundary_transfer_seconds.clear();
  const PipelineResult ideal = SimulatePipeline(instant);
  // The same without the gathers' waits: what they add to a stage's idle time is DP time.
  PipelineResult ideal_without_gathers;
  if (overlap_gather) {
    instant.first_forward.clear();
    ideal_without_gathers = SimulatePipeline(instant);
  }

  // DP gradient buckets per stage, on the stage's communication stream.
  r.dp_spans.resize(l.pp);
  double step = 0, critical_work = 0;
  const bool overlap = OverlapsGradReduce(training_, l);
  std::vector<double> reduced_at(size_t(l.pp));  // each stage's end of compute and DP reduction
  // For traces, the overlapped gathers placed by the tasks simulated last.
  std::vector<GatherSchedule> placed;
  if (keep_trace && overlap_gather) placed = ParamGathers(costs, l, r.pipeline);
  for (int s = 0; s < l.pp; ++s) {
    const double compute_end = r.pipeline.stage_end[s];
    double free_at = 0;
    int bucket_index = 0;
    const coll::Collective grad_op = l.zero >= 1 ? coll::Collective::kReduceScatter : coll::Collective::kAllReduce;
    if (l.zero < 2 && l.dp > 1) {  // ZeRO-2/3 reduced per micro-batch already; one replica reduces nothing
      for (const auto& [issued, bytes] : GradReductions(costs, r.pipeline, l, s, overlap)) {
        const double start = std::max(free_at, issued);
        free_at = start + DpCollectiveSeconds(grad_op, bytes, l, s);
        if (free_at > start) r.dp_spans[s].push_back({fmt::format("grad bucket {}", bucket_index++), start, free_at});
      }
    }
    if (keep_trace && overlap_gather) {
      for (const ZeroLinkSpan& z : placed[size_t(s)].spans) r.dp_spans[s].push_back({z.label, z.start, z.end});
    }
    if (keep_trace) {
      // ZeRO-2/3 collectives beside each task's kernels, at their times within the task.
      for (const TaskTiming& t : r.pipeline.tasks[s]) {
        const ChunkCost& cc = costs.chunks[s][size_t(t.task.chunk)];
        for (const ZeroLinkSpan& z : t.task.forward ? cc.forward_spans : cc.backward_spans) {
          r.dp_spans[s].push_back({fmt::format("{} mb{}", z.label, t.task.microbatch), t.start + z.start,
                                   t.start + z.end});
        }
      }
    }
    reduced_at[size_t(s)] = std::max(compute_end, free_at);
  }
  // The tied embedding's gradients are summed once both ends have reduced theirs over DP.
  const double tied_embedding = TiedEmbeddingSeconds(l);
  const double tied_start = std::max(reduced_at.front(), reduced_at.back());
  for (int s = 0; s < l.pp; ++s) {
    const double compute_end = r.pipeline.stage_end[s];
    const double free_at = reduced_at[size_t(s)];
    double tied = 0, waited = 0;  // the all-reduce, and the wait for the other end
    double end = free_at;
    if (tied_embedding > 0 && (s == 0 || s == l.pp - 1)) {
      tied = tied_embedding;
      waited = tied_start - free_at;
      end = tied_start + tied;
      r.dp_spans[s].push_back({"embedding grad all-reduce", tied_start, end});
    }
    const double optimizer = OptimizerSeconds(l, s);
    end += optimizer;
    if (keep_trace) r.optimizer_spans.push_back({"optimizer step", end - optimizer, end});
    double gather = 0;
    if ((l.zero == 1 || l.zero == 2) && !overlap_gather) {
      gather = DpCollectiveSeconds(coll::Collective::kAllGather,
                                   StageParameters(l, s) * training_.bytes_per_value, l, s);
      if (gather > 0) r.dp_spans[s].push_back({"param all-gather", end, end + gather});
      end += gather;
    }
    // This stage's own time, whatever it waited for: kernels, exposed TP and DP, the optimizer.
    double tp = 0, zero_dp = 0;  // inside the stage's tasks
    for (const TaskTiming& t : r.pipeline.tasks[s]) {
      const ChunkCost& cc = costs.chunks[s][size_t(t.task.chunk)];
      tp += t.task.forward ? cc.forward_tp : cc.backward_tp;
      zero_dp += t.task.forward ? cc.forward_dp : cc.backward_dp;
      if (overlap_gather && t.task.forward && t.task.microbatch == 0) zero_dp += gathers[s].exposed[t.task.chunk];
    }
    Breakdown b;
    b.optimizer = optimizer;
    b.tp_exposed = tp;
    b.dp_exposed = (free_at - compute_end) + tied + gather + zero_dp;
    b.compute = r.pipeline.stage_busy[s] - tp - zero_dp;
    const double work = end - waited - (compute_end - r.pipeline.stage_busy[s]);
    step = std::max(step, end);
    if (s == 0 || work > critical_work) {
      critical_work = work;
      r.critical_stage = s;
      r.breakdown = b;
    }
  }
  // The critical stage is the busiest one, the pipeline's bottleneck. (The stage that finishes
  // last is not: with an uneven split it is often a light stage waiting on a heavy one, and its
  // idle time would read as a bubble that more micro-batches could fill.) Its idle time is the
  // rest of the step: as much as the transfer-free schedule leaves idle is bubble (fill, drain,
  // and waiting on other stages), the remainder is exposed pipeline communication. Idle time
  // that other stages' waits for ZeRO-1's overlapped gathers add to the transfer-free schedule
  // is DP communication, not bubble.
  {
    const int s = r.critical_stage;
    Breakdown& b = r.breakdown;
    const double idle = std::max(0.0, step - critical_work);
    auto ideal_idle = [s](const PipelineResult& p) {
      return *std::max_element(p.stage_end.begin(), p.stage_end.end()) - p.stage_busy[s];
    };
    double gather_idle = 0;  // other stages' waits for ZeRO-1 gathers, passed down the pipeline
    double bubble = ideal_idle(ideal);
    if (overlap_gather) {
      bubble = ideal_idle(ideal_without_gathers);
      gather_idle = std::max(0.0, ideal_idle(ideal) - bubble);
    }
    b.bubble = std::min(idle, bubble);
    const double dp = std::min(idle - b.bubble, gather_idle);
    b.dp_exposed += dp;
    b.pp_exposed = idle - b.bubble - dp;
  }
  r.step_time_s = step;
  const double tokens = double(training_.global_batch) * model_.seq_len;
  r.tokens_per_s = tokens / step;
  const double gpus = l.gpus();
  const double mbs_total = double(r.microbatches) * l.dp;  // micro-batches through all stages
  r.tflops_per_gpu = costs.counted_flops_per_mb * l.tp * mbs_total / gpus / step / 1e12;
  r.model_tflops_per_gpu = costs.model_flops_per_mb * l.tp * mbs_total / gpus / step / 1e12;
  r.mfu = r.model_tflops_per_gpu / cluster_.gpu.peak_tflops;
  int stage = 0;
  r.memory = PeakMemory(l, &stage);
  r.memory_gib_per_gpu = r.memory.total() / kGiB;
  const std::vector<int> split = SplitOf(l);
  for (int s = 0; s < l.pp; ++s) r.stage_layers.push_back(StageLayerCount(split, l.pp, s));
  r.simulated = fmt::format(
      "1 pipeline of {} stage(s) x {} chunk(s) (layers per virtual stage: {}), {} micro-batches ({} "
      "tasks, {} events); the other {} DP replica(s) and {} TP rank(s) per stage are identical by "
      "symmetry; collectives replayed on the fabric: {} ({} cached)",
      l.pp, l.v, SplitText(split), r.microbatches, 2 * l.pp * l.v * r.microbatches, r.pipeline.events, l.dp - 1,
      l.tp - 1, coster_.stats().replays, coster_.stats().cache_hits);
  if (!keep_trace) {
    r.pipeline.tasks.clear();
    r.pipeline.transfers.clear();
    r.dp_spans.clear();
    r.optimizer_spans.clear();
  }
  return r;
}

}  // namespace braid::sim
