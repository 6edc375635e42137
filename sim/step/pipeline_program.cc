#include "sim/step/pipeline_program.h"

#include <algorithm>

namespace braid::sim {
namespace {

// Megatron-LM's numbering of a stage's tasks under the 1F1B schedules: the k-th forward (and
// the k-th backward) of a stage. Micro-batches go through chunk 0 in groups of pp, then the same
// group through chunk 1, ...; backward visits the chunks in reverse. With v = 1 the k-th task is
// micro-batch k.
struct OneFOneB {
  int p, v, m, stage;

  int total() const { return m * v; }
  // The chunk of the k-th forward; k may be negative (Megatron counts modulo a group of p * v).
  int ForwardChunk(int k) const {
    const int group = p * v;
    return ((k % group) + group) % group / p;
  }
  int BackwardChunk(int k) const { return v - 1 - ForwardChunk(k); }
  PipelineTask Forward(int k) const { return {true, (k / (p * v)) * p + k % p, ForwardChunk(k)}; }
  PipelineTask Backward(int k) const { return {false, Forward(k).microbatch, BackwardChunk(k)}; }
  // With as many micro-batches as stages Megatron-LM runs every forward first (interleaved).
  bool AllWarmup() const { return v > 1 && m == p; }
  int Warmup() const { return WarmupForwards(p, v, m, stage); }
  bool First() const { return stage == 0; }
  bool Last() const { return stage == p - 1; }
  // Whether a task's result leaves the stage: a forward's activation unless it is the last
  // virtual stage, a backward's gradient unless it is the first.
  bool Sends(const PipelineTask& t) const {
    const int vstage = t.chunk * p + stage;
    return t.forward ? vstage < p * v - 1 : vstage > 0;
  }
};

}  // namespace

ProgramStep ComputeStep(const PipelineTask& t) {
  ProgramStep s;
  s.task = t;
  return s;
}

namespace {

// Appends an exchange unless it has nothing to do.
void Exchange(std::vector<ProgramStep>* program, std::optional<PipelineTask> send_forward,
              std::optional<PipelineTask> send_backward, bool recv_forward, bool recv_backward) {
  if (!send_forward && !send_backward && !recv_forward && !recv_backward) return;
  ProgramStep s;
  s.compute = false;
  s.send_forward = send_forward;
  s.send_backward = send_backward;
  s.recv_forward = recv_forward;
  s.recv_backward = recv_backward;
  program->push_back(s);
}

std::optional<PipelineTask> IfSent(const OneFOneB& o, const PipelineTask& t) {
  return o.Sends(t) ? std::optional<PipelineTask>(t) : std::nullopt;
}

// Megatron-LM's interleaved schedule: warm-up forwards each followed by an exchange with the
// previous and next stage, steady-state steps of one forward and one backward followed by one
// exchange in both directions, cool-down backwards each followed by an exchange. A receive is
// left out where Megatron knows none is due (the first stage's chunk-0 inputs come from the
// data loader, the last stage's last-chunk gradients from its own loss).
std::vector<ProgramStep> Interleaved(const OneFOneB& o) {
  std::vector<ProgramStep> program;
  const int n = o.total(), warmup = o.Warmup(), steady = n - warmup;
  program.reserve(size_t(2 * warmup + 3 * steady + 2 * (n - steady) + 2));  // tasks and exchanges
  Exchange(&program, {}, {}, !o.First(), false);
  for (int k = 0; k < warmup; ++k) {
    const PipelineTask f = o.Forward(k);
    program.push_back(ComputeStep(f));
    const bool recv_forward = !(o.First() && o.ForwardChunk(k + 1) == 0) && k != n - 1;
    const bool first_gradient = k == warmup - 1 && !o.AllWarmup() && !o.Last();
    Exchange(&program, IfSent(o, f), {}, recv_forward, first_gradient);
  }
  for (int k = 0; k < steady; ++k) {
    const PipelineTask f = o.Forward(warmup + k), b = o.Backward(k);
    program.push_back(ComputeStep(f));
    program.push_back(ComputeStep(b));
    // The first stage's next remote input is the one the last stage forwards in this step.
    bool recv_forward = !o.First() || o.ForwardChunk(warmup + k - (o.p - 1)) != o.v - 1;
    const bool recv_backward = !o.Last() || o.BackwardChunk(k - (o.p - 1)) != 0;
    if (k == steady - 1) recv_forward = false;
    Exchange(&program, IfSent(o, f), IfSent(o, b), recv_forward, recv_backward);
  }
  if (o.AllWarmup()) Exchange(&program, {}, {}, false, !o.Last());
  for (int k = steady; k < n; ++k) {
    const PipelineTask b = o.Backward(k);
    program.push_back(ComputeStep(b));
    const bool recv_backward = !(o.Last() && o.BackwardChunk(k + 1) == o.v - 1) && k != n - 1;
    Exchange(&program, {}, IfSent(o, b), false, recv_backward);
  }
  return program;
}

// Megatron-LM's non-interleaved 1F1B: a receive before each warm-up forward and a send after
// it; in the steady state each forward is followed by sending its activation while receiving
// the gradient for the next backward, and each backward by sending its gradient while receiving
// the next forward's input; cool-down backwards receive before and send after.
std::vector<ProgramStep> NonInterleaved(const OneFOneB& o) {
  std::vector<ProgramStep> program;
  const int warmup = o.Warmup(), steady = o.m - warmup;
  program.reserve(size_t(6 * o.m + 1));  // at most two exchanges beside each task
  const bool from_prev = !o.First(), from_next = !o.Last();
  for (int i = 0; i < warmup; ++i) {
    Exchange(&program, {}, {}, from_prev, false);
    program.push_back(ComputeStep(o.Forward(i)));
    Exchange(&program, IfSent(o, o.Forward(i)), {}, false, false);
  }
  if (steady > 0) Exchange(&program, {}, {}, from_prev, false);
  for (int i = 0; i < steady; ++i) {
    const PipelineTask f = o.Forward(warmup + i), b = o.Backward(i);
    program.push_back(ComputeStep(f));
    Exchange(&program, IfSent(o, f), {}, false, from_next);
    program.push_back(ComputeStep(b));
    Exchange(&program, {}, IfSent(o, b), i + 1 < steady && from_prev, false);
  }
  for (int i = 0; i < warmup; ++i) {
    const PipelineTask b = o.Backward(steady + i);
    Exchange(&program, {}, {}, false, from_next);
    program.push_back(ComputeStep(b));
    Exchange(&program, {}, IfSent(o, b), false, false);
  }
  return program;
}

}  // namespace

std::vector<PipelineTask> StageOrder(PipelineSchedule schedule, int p, int v, int m, int stage) {
  std::vector<PipelineTask> order;
  if (schedule == PipelineSchedule::kGPipe) {
    for (int c = 0; c < v; ++c)
      for (int i = 0; i < m; ++i) order.push_back({true, i, c});
    for (int c = v - 1; c >= 0; --c)
      for (int i = 0; i < m; ++i) order.push_back({false, i, c});
    return order;
  }
  const OneFOneB o{p, v, m, stage};
  const int total = o.total(), warmup = o.Warmup();
  int f = 0, b = 0;
  for (; f < warmup; ++f) order.push_back(o.Forward(f));
  while (f < total) {
    order.push_back(o.Forward(f++));
    order.push_back(o.Backward(b++));
  }
  while (b < total) order.push_back(o.Backward(b++));
  return order;
}

double PeakHeldBytes(PipelineSchedule schedule, int p, int v, int m, int stage,
                     const std::vector<double>& held) {
  if (schedule == PipelineSchedule::kGPipe) {  // every forward before the first backward
    double all = 0;
    for (double bytes : held) all += m * bytes;
    return all;
  }
  const OneFOneB o{p, v, m, stage};
  const int total = o.total(), warmup = o.Warmup();
  double live = 0;
  for (int f = 0; f < warmup; ++f) live += held[size_t(o.ForwardChunk(f))];
  double peak = live;
  // Steady state: forward warmup + k, then backward k. What is held after that forward changes
  // by p * (sum of held) - p * (sum of held) = 0 over any pp * v consecutive steps.
  const int steady = std::min(total - warmup, p * v);
  for (int k = 0; k < steady; ++k) {
    live += held[size_t(o.ForwardChunk(warmup + k))];
    peak = std::max(peak, live);
    live -= held[size_t(o.BackwardChunk(k))];
  }
  return peak;
}

std::vector<ProgramStep> StageProgram(int p, int v, int m, int stage) {
  const OneFOneB o{p, v, m, stage};
  return v > 1 ? Interleaved(o) : NonInterleaved(o);
}

}  // namespace braid::sim
