#include "sim/step/pipeline.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>

#include "sim/engine/serial_resource.h"
#include "sim/engine/simulator.h"

namespace braid::sim {
namespace {

class PipelineSim {
 public:
  explicit PipelineSim(const PipelineInput& in)
      : in_(in), exchanges_(in.blocking_sends && in.schedule == PipelineSchedule::kOneFOneB) {
    const int p = in.pp, vs = p * in.v, m = in.microbatches;
    if (int(in.forward.size()) != p || int(in.backward.size()) != p) {
      throw std::invalid_argument("SimulatePipeline: forward/backward must have pp rows");
    }
    if (!in.first_forward.empty() && int(in.first_forward.size()) != p) {
      throw std::invalid_argument("SimulatePipeline: first_forward must be empty or have pp rows");
    }
    stages_.resize(p);
    result_.tasks.resize(p);
    result_.transfers.resize(p);
    result_.stage_end.assign(p, 0);
    result_.stage_busy.assign(p, 0);
    for (int s = 0; s < p; ++s) {
      result_.tasks[s].reserve(size_t(2) * in.v * m);
      result_.transfers[s].reserve(size_t(2) * in.v * m);
      if (exchanges_) {
        stages_[s].program = StageProgram(p, in.v, m, s);
      } else {
        for (const PipelineTask& t : StageOrder(in.schedule, p, in.v, m, s)) stages_[s].program.push_back(ComputeStep(t));
      }
      stages_[s].stream = std::make_unique<SerialResource>(&sim_);
      down_.push_back(std::make_unique<SerialResource>(&sim_));
      up_.push_back(std::make_unique<SerialResource>(&sim_));
    }
    for (Direction& d : directions_) d.queues.resize(p);
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
      if (stages_[s].next != stages_[s].program.size()) {
        throw std::logic_error("SimulatePipeline: schedule deadlocked (stage " + std::to_string(s) + ")");
      }
    }
    return std::move(result_);
  }

 private:
  struct Stage {
    std::vector<ProgramStep> program;
    size_t next = 0;
    bool busy = false;
    int pending = 0;  // operations of the exchange it waits in
    std::unique_ptr<SerialResource> stream;
  };
  // A message posted by its sender, waiting for the receiver's matching receive.
  struct PostedSend {
    int from = 0;
    PipelineTask task;  // whose output it carries
    size_t ready_index = 0;
  };
  // Per receiving stage, the sends posted to it and the number of receives it has posted; they
  // match in order, as NCCL's point-to-point operations between two ranks do.
  struct Queue {
    std::deque<PostedSend> sends;
    int receives = 0;
  };
  struct Direction {
    std::vector<Queue> queues;  // [receiving stage]
  };

  size_t Index(int virtual_stage, int mb) const { return size_t(virtual_stage) * in_.microbatches + mb; }
  int Virtual(int stage, int chunk) const { return chunk * in_.pp + stage; }
  int Last() const { return in_.pp * in_.v - 1; }

  void TryStart(int s) {
    Stage& st = stages_[s];
    if (st.busy || st.next >= st.program.size()) return;
    const ProgramStep& step = st.program[st.next];
    if (!step.compute) {
      Post(s, step);
      return;
    }
    const PipelineTask t = step.task;
    const int vstage = Virtual(s, t.chunk);
    const size_t idx = Index(vstage, t.microbatch);
    // The last virtual stage starts a micro-batch's backward right after its own forward.
    const bool ready = t.forward ? fwd_ready_[idx] : (vstage == Last() ? fwd_finished_[idx] : bwd_ready_[idx]);
    if (!ready) return;
    st.busy = true;
    ++st.next;
    const double d = !t.forward                                    ? in_.backward[s][t.chunk]
                     : t.microbatch == 0 && !in_.first_forward.empty() ? in_.first_forward[s][t.chunk]
                                                                       : in_.forward[s][t.chunk];
    const double start = sim_.Now();
    st.stream->Submit(d, [this, s, t, vstage, start, d] { Finish(s, t, vstage, start, d); });
  }

  void Finish(int s, PipelineTask t, int vstage, double start, double d) {
    result_.tasks[s].push_back({t, start, sim_.Now()});
    result_.stage_busy[s] += d;
    result_.stage_end[s] = sim_.Now();
    if (t.forward) fwd_finished_[Index(vstage, t.microbatch)] = true;
    // Outside Megatron's exchanges a task's output leaves as soon as it is computed.
    const bool sent = !exchanges_ && (t.forward ? vstage < Last() : vstage > 0);
    if (sent) Send(s, t.forward, t);
    // With blocking sends the stage stays busy until its transfer lands (Send releases it).
    if (!sent || !in_.blocking_sends) {
      stages_[s].busy = false;
      TryStart(s);
    }
  }

  // The stage a task's output goes to, and where it is recorded as ready there.
  int Receiver(int from, bool forward) const { return (from + (forward ? 1 : in_.pp - 1)) % in_.pp; }
  size_t ReadyIndex(int from, const PipelineTask& t) const {
    return Index(Virtual(from, t.chunk) + (t.forward ? 1 : -1), t.microbatch);
  }

  // One transfer of `t`'s output from stage `from` on its link in that direction; `landed` runs
  // at its end.
  template <typename Landed>
  void Transfer(int from, const PipelineTask& t, Landed landed) {
    SerialResource& link = t.forward ? *down_[from] : *up_[from];
    const double start = std::max(sim_.Now(), link.FreeAt());
    const int boundary = t.forward ? from : (from + in_.pp - 1) % in_.pp;
    const double seconds = in_.boundary_transfer_seconds.empty() ? in_.transfer_seconds
                                                                 : in_.boundary_transfer_seconds[size_t(boundary)];
    link.Submit(seconds, [this, from, t, start, landed] {
      result_.transfers[from].push_back({t, start, sim_.Now()});
      (t.forward ? fwd_ready_ : bwd_ready_)[ReadyIndex(from, t)] = true;
      landed();
    });
  }

  // Outside exchanges: activation (forward) or gradient (backward) to the neighbouring stage.
  void Send(int from, bool forward, PipelineTask t) {
    const int to = Receiver(from, forward);
    Transfer(from, t, [this, from, to] {
      if (in_.blocking_sends) {
        stages_[from].busy = false;
        result_.stage_end[from] = std::max(result_.stage_end[from], sim_.Now());
        TryStart(from);
      }
      TryStart(to);
    });
  }

  // Posts an exchange's operations; the stage resumes when all of them have completed.
  void Post(int s, const ProgramStep& step) {
    Stage& st = stages_[s];
    st.busy = true;
    ++st.next;
    st.pending = int(step.send_forward.has_value()) + int(step.send_backward.has_value()) +
                 int(step.recv_forward) + int(step.recv_backward);
    for (const std::optional<PipelineTask>& sent : {step.send_forward, step.send_backward}) {
      if (!sent) continue;
      const int to = Receiver(s, sent->forward);
      directions_[sent->forward].queues[size_t(to)].sends.push_back({s, *sent, ReadyIndex(s, *sent)});
      Match(sent->forward, to);
    }
    if (step.recv_forward) {
      ++directions_[true].queues[size_t(s)].receives;
      Match(true, s);
    }
    if (step.recv_backward) {
      ++directions_[false].queues[size_t(s)].receives;
      Match(false, s);
    }
  }

  // Starts the transfers whose send and receive are both posted.
  void Match(bool forward, int to) {
    Queue& q = directions_[forward].queues[size_t(to)];
    while (!q.sends.empty() && q.receives > 0) {
      const PostedSend send = q.sends.front();
      q.sends.pop_front();
      --q.receives;
      Transfer(send.from, send.task, [this, from = send.from, to] {
        Completed(from);
        Completed(to);
      });
    }
  }

  void Completed(int s) {
    Stage& st = stages_[s];
    if (--st.pending > 0) return;
    st.busy = false;
    result_.stage_end[s] = std::max(result_.stage_end[s], sim_.Now());
    TryStart(s);
  }

  const PipelineInput& in_;
  const bool exchanges_;  // stages run StageProgram (Megatron's blocking exchanges)
  Simulator sim_;
  std::vector<Stage> stages_;
  std::vector<std::unique_ptr<SerialResource>> down_, up_;  // stage -> next / previous stage
  Direction directions_[2];  // [forward]
  std::vector<bool> fwd_ready_, bwd_ready_, fwd_finished_;
  PipelineResult result_;
};

}  // namespace

PipelineResult SimulatePipeline(const PipelineInput& input) {
  PipelineSim sim(input);
  return sim.Run();
}

}  // namespace braid::sim
