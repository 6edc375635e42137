#include "sim/step/pipeline.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "sim/engine/serial_resource.h"
#include "sim/engine/simulator.h"

namespace braid::sim {

std::vector<PipelineTask> StageOrder(PipelineSchedule schedule, int p, int v, int m, int stage) {
  std::vector<PipelineTask> order;
  if (schedule == PipelineSchedule::kGPipe) {
    for (int c = 0; c < v; ++c)
      for (int i = 0; i < m; ++i) order.push_back({true, i, c});
    for (int c = v - 1; c >= 0; --c)
      for (int i = 0; i < m; ++i) order.push_back({false, i, c});
    return order;
  }
  const int total = m * v;
  // k-th forward (backward) on a stage: micro-batches go in groups of p through chunk 0, then the
  // same group through chunk 1, ... (backward visits chunks in reverse). With v = 1 this is
  // simply micro-batch k.
  auto forward_task = [&](int k) {
    int chunk = (k / p) % v;
    int mb = (k / (p * v)) * p + k % p;
    return PipelineTask{true, mb, chunk};
  };
  auto backward_task = [&](int k) {
    PipelineTask t = forward_task(k);
    t.forward = false;
    t.chunk = v - 1 - t.chunk;
    return t;
  };
  int warmup = v == 1 ? p - stage - 1 : (p - stage - 1) * 2 + (v - 1) * p;
  warmup = std::min(warmup, total);
  int f = 0, b = 0;
  for (; f < warmup; ++f) order.push_back(forward_task(f));
  while (f < total) {
    order.push_back(forward_task(f++));
    order.push_back(backward_task(b++));
  }
  while (b < total) order.push_back(backward_task(b++));
  return order;
}

namespace {

class PipelineSim {
 public:
  explicit PipelineSim(const PipelineInput& in) : in_(in) {
    const int p = in.pp, vs = p * in.v, m = in.microbatches;
    if (int(in.forward.size()) != p || int(in.backward.size()) != p) {
      throw std::invalid_argument("SimulatePipeline: forward/backward must have pp rows");
    }
    stages_.resize(p);
    result_.tasks.resize(p);
    result_.transfers.resize(p);
    result_.stage_end.assign(p, 0);
    result_.stage_busy.assign(p, 0);
    for (int s = 0; s < p; ++s) {
      stages_[s].order = StageOrder(in.schedule, p, in.v, m, s);
      stages_[s].stream = std::make_unique<SerialResource>(&sim_);
      down_.push_back(std::make_unique<SerialResource>(&sim_));
      up_.push_back(std::make_unique<SerialResource>(&sim_));
    }
    // Readiness per (virtual stage, micro-batch): forward input arrived / backward input arrived.
    fwd_ready_.assign(size_t(vs) * m, false);
    bwd_ready_.assign(size_t(vs) * m, false);
    fwd_finished_.assign(size_t(vs) * m, false);
    for (int i = 0; i < m; ++i) fwd_ready_[Index(0, i)] = true;
  }

  PipelineResult Run() {
    for (int s = 0; s < in_.pp; ++s) TryStart(s);
    result_.makespan = sim_.Run();
    result_.events = sim_.EventsProcessed();
    for (int s = 0; s < in_.pp; ++s) {
      if (stages_[s].next != stages_[s].order.size()) {
        throw std::logic_error("SimulatePipeline: schedule deadlocked (stage " + std::to_string(s) + ")");
      }
    }
    return std::move(result_);
  }

 private:
  struct Stage {
    std::vector<PipelineTask> order;
    size_t next = 0;
    bool busy = false;
    std::unique_ptr<SerialResource> stream;
  };

  size_t Index(int virtual_stage, int mb) const { return size_t(virtual_stage) * in_.microbatches + mb; }
  int Virtual(int stage, int chunk) const { return chunk * in_.pp + stage; }

  void TryStart(int s) {
    Stage& st = stages_[s];
    if (st.busy || st.next >= st.order.size()) return;
    const PipelineTask t = st.order[st.next];
    const int vstage = Virtual(s, t.chunk);
    const size_t idx = Index(vstage, t.microbatch);
    const int last = in_.pp * in_.v - 1;
    // The last virtual stage starts a micro-batch's backward right after its own forward.
    const bool ready = t.forward ? fwd_ready_[idx] : (vstage == last ? fwd_finished_[idx] : bwd_ready_[idx]);
    if (!ready) return;
    st.busy = true;
    ++st.next;
    const double d = t.forward ? in_.forward[s][t.chunk] : in_.backward[s][t.chunk];
    const double start = sim_.Now();
    st.stream->Submit(d, [this, s, t, vstage, start, d] { Finish(s, t, vstage, start, d); });
  }


  void Finish(int s, PipelineTask t, int vstage, double start, double d) {
    result_.tasks[s].push_back({t, start, sim_.Now()});
    result_.stage_busy[s] += d;
    result_.stage_end[s] = sim_.Now();
    const int last = in_.pp * in_.v - 1;
    bool sent = false;
    if (t.forward) {
      fwd_finished_[Index(vstage, t.microbatch)] = true;
      if (vstage < last) {
        Send(s, (vstage + 1) % in_.pp, true, vstage + 1, t);
        sent = true;
      }
    } else if (vstage > 0) {
      Send(s, (vstage - 1) % in_.pp, false, vstage - 1, t);
      sent = true;
    }
    // With blocking sends the stage stays busy until its transfer lands (Send releases it).
    if (!sent || !in_.blocking_sends) {
      stages_[s].busy = false;
      TryStart(s);
    }
  }

  // Activation (forward) or gradient (backward) to virtual stage `to_vstage` on stage `to`.
  void Send(int from, int to, bool forward, int to_vstage, PipelineTask t) {
    const size_t idx = Index(to_vstage, t.microbatch);
    SerialResource& link = forward ? *down_[from] : *up_[from];
    const double start = std::max(sim_.Now(), link.FreeAt());
    link.Submit(in_.transfer_seconds, [this, from, to, forward, idx, t, start] {
      result_.transfers[from].push_back({{forward, t.microbatch, t.chunk}, start, sim_.Now()});
      (forward ? fwd_ready_ : bwd_ready_)[idx] = true;
      if (in_.blocking_sends) {
        stages_[from].busy = false;
        result_.stage_end[from] = std::max(result_.stage_end[from], sim_.Now());
        TryStart(from);
      }
      TryStart(to);
    });
  }

  const PipelineInput& in_;
  Simulator sim_;
  std::vector<Stage> stages_;
  std::vector<std::unique_ptr<SerialResource>> down_, up_;  // stage -> next / previous stage
  std::vector<bool> fwd_ready_, bwd_ready_, fwd_finished_;
  PipelineResult result_;
};

}  // namespace

PipelineResult SimulatePipeline(const PipelineInput& input) {
  PipelineSim sim(input);
  return sim.Run();
}

}  // namespace braid::sim
