// Chrome trace of one simulated step (see report.h).
#include <fmt/format.h>

#include "sim/common/json_fields.h"
#include "sim/report/report.h"

namespace braid::sim {
namespace {

constexpr double kUs = 1e6;  // trace timestamps are microseconds
constexpr int kGroupsPid = 1000000;

nlohmann::json Name(const char* kind, int pid, int tid, const std::string& name) {
  nlohmann::json e = {{"ph", "M"}, {"name", kind}, {"pid", pid}, {"args", {{"name", name}}}};
  if (tid >= 0) e["tid"] = tid;
  return e;
}

nlohmann::json Span(int pid, int tid, const std::string& name, double start, double end,
                    nlohmann::json args = nlohmann::json::object()) {
  return {{"ph", "X"}, {"pid", pid}, {"tid", tid}, {"name", name}, {"ts", start * kUs},
          {"dur", (end - start) * kUs}, {"args", std::move(args)}};
}

}  // namespace

std::string StepTrace(const StepResult& r, const ClusterSpec& cluster) {
  const Layout& l = r.layout;
  // Written event by event: a tree of a million events held ~4 GB to write a 258 MB trace.
  std::string text = "{\"traceEvents\": [";
  struct Events {
    std::string& text;
    bool first = true;
    void push_back(const nlohmann::json& event) {
      text += first ? "\n" : ",\n";
      first = false;
      text += DumpJson(event);
    }
  } events{text};
  events.push_back(Name("process_name", kGroupsPid, -1, "communication groups"));
  for (int s = 0; s < l.pp; ++s) {
    const int gpu = s * l.dp * l.tp;  // TP rank 0 of DP replica 0 (Megatron rank order)
    // One track set per stage: its other TP ranks and DP replicas run the same timeline
    // (StepModel simulates one by symmetry), so the name says how many GPUs it stands for.
    events.push_back(Name("process_name", s, -1,
                          fmt::format("stage {} (GPU {}: node {}, local {}; as every one of the stage's {} GPUs)",
                                      s, gpu, gpu / cluster.node.gpus, gpu % cluster.node.gpus, l.tp * l.dp)));
    events.push_back(Name("thread_name", s, 0, "compute stream"));
    events.push_back(Name("thread_name", s, 1, "DP communication stream"));
    // Four group tracks per stage: its TP group, its PP links to the next and to the previous
    // stage (one direction each: a paired send_forward_recv_backward moves both at once), and its
    // DP group.
    const int tracks = 4 * s;
    events.push_back(Name("thread_name", kGroupsPid, tracks, fmt::format("TP group, stage {}", s)));
    // Activations go to the next stage and gradients to the previous one; with interleaving the
    // last stage's activations wrap around to the first (its next chunk) and the first stage's
    // gradients to the last. Without either there is no link.
    const bool interleaved = l.pp > 1 && l.v > 1;
    if (s + 1 < l.pp || interleaved) {
      events.push_back(Name("thread_name", kGroupsPid, tracks + 1,
                            fmt::format("PP link {} -> {} (activations)", s, (s + 1) % l.pp)));
    }
    if (s > 0 || interleaved) {
      events.push_back(Name("thread_name", kGroupsPid, tracks + 2,
                            fmt::format("PP link {} -> {} (gradients)", s, (s + l.pp - 1) % l.pp)));
    }
    events.push_back(Name("thread_name", kGroupsPid, tracks + 3, fmt::format("DP group, stage {}", s)));
    if (s < int(r.pipeline.tasks.size())) {
      for (const TaskTiming& t : r.pipeline.tasks[s]) {
        const size_t c = size_t(t.task.chunk);
        const double tp = t.task.forward ? r.tp_seconds_forward[s][c] : r.tp_seconds_backward[s][c];
        const double dp = !t.task.forward          ? r.dp_seconds_backward[s][c]
                          : t.task.microbatch == 0 ? r.first_forward_dp_seconds[s][c]
                                                   : r.dp_seconds_forward[s][c];
        std::string name = fmt::format("{} mb{} chunk{}", t.task.forward ? "F" : "B", t.task.microbatch,
                                       t.task.chunk);
        // The task's kernels are its duration less both: the breakdown's compute.
        events.push_back(Span(s, 0, name, t.start, t.end, {{"tp_collectives_us", tp * kUs}, {"dp_waits_us", dp * kUs}}));
        // TP collectives are interleaved with the task's kernels; the group track shows their
        // total, ending with the task.
        if (tp > 0) events.push_back(Span(kGroupsPid, tracks, name + " TP collectives", t.end - tp, t.end));
      }
    }
    if (s < int(r.pipeline.transfers.size())) {
      for (const TaskTiming& t : r.pipeline.transfers[s]) {
        // Stage s sends its forward transfers to the next stage, its backward ones to the previous.
        events.push_back(Span(kGroupsPid, tracks + (t.task.forward ? 1 : 2),
                              fmt::format("{} mb{}", t.task.forward ? "activation" : "gradient", t.task.microbatch),
                              t.start, t.end));
      }
    }
    if (s < int(r.optimizer_spans.size())) {
      const CommSpan& o = r.optimizer_spans[size_t(s)];
      events.push_back(Span(s, 0, o.label, o.start, o.end));
    }
    if (s < int(r.dp_spans.size())) {
      for (const CommSpan& c : r.dp_spans[s]) {
        events.push_back(Span(s, 1, c.label, c.start, c.end));
        events.push_back(Span(kGroupsPid, tracks + 3, c.label, c.start, c.end));
      }
    }
  }
  const nlohmann::json other = {{"layout", LayoutToString(l)}, {"step_time_s", r.step_time_s},
                                 {"simulated", r.simulated}};
  text += "\n], \"displayTimeUnit\": \"ms\", \"otherData\": " + DumpJson(other) + "}\n";
  return text;
}

}  // namespace braid::sim
