// The Chrome trace of a simulated step (sim/report/trace.cc): every span sits on a named track,
// and the pipeline links are the ones the layout has.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "sim/report/report.h"
#include "sim/step/step_model.h"
#include "tests/sim/test_support.h"

namespace braid::sim {
namespace {

struct TraceTracks {
  std::map<std::pair<int, int>, std::string> names;  // (pid, tid) -> thread name
  std::map<std::pair<int, int>, int> spans;          // (pid, tid) -> complete events
};

// Megatron's 1.7B on four DGX A100 nodes, small enough to simulate in milliseconds.
nlohmann::json TraceOf(const std::string& layout) {
  const ClusterSpec cluster = PresetWithGpus("dgx-a100", 32);
  TrainingSpec t;
  t.global_batch = 64;
  StepModel m(LoadModel("megatron-1.7b"), cluster, t, ComputeModel(cluster.gpu));
  return StepTrace(m.Simulate(ParseLayout(layout), true), cluster);
}

TraceTracks Tracks(const std::string& layout) {
  TraceTracks tracks;
  const nlohmann::json trace = TraceOf(layout);
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") {
      tracks.names[{e["pid"].get<int>(), e["tid"].get<int>()}] = e["args"]["name"].get<std::string>();
    } else if (e["ph"] == "X") {
      ++tracks.spans[{e["pid"].get<int>(), e["tid"].get<int>()}];
    }
  }
  return tracks;
}

std::set<std::string> PipelineLinks(const TraceTracks& tracks) {
  std::set<std::string> links;
  for (const auto& [track, name] : tracks.names) {
    if (name.rfind("PP link", 0) == 0) links.insert(name);
  }
  return links;
}

void ExpectEverySpanOnANamedTrack(const TraceTracks& tracks) {
  for (const auto& [track, count] : tracks.spans) {
    EXPECT_TRUE(tracks.names.count(track)) << count << " spans on unnamed track pid " << track.first
                                           << " tid " << track.second;
  }
}

TEST(StepTrace, OneLinkPerPairOfNeighbouringStages) {
  const TraceTracks tracks = Tracks("tp=1,pp=4,dp=8,mb=1,v=1,recompute=full");
  EXPECT_EQ(PipelineLinks(tracks), (std::set<std::string>{"PP link 0 -> 1", "PP link 1 -> 2", "PP link 2 -> 3"}));
  ExpectEverySpanOnANamedTrack(tracks);
}

// Interleaved, the last stage sends its chunks' activations on to the first stage's next chunk.
TEST(StepTrace, InterleavingWrapsTheLastLinkToTheFirstStage) {
  const TraceTracks tracks = Tracks("tp=1,pp=4,dp=8,mb=1,v=2,recompute=full");
  EXPECT_EQ(PipelineLinks(tracks),
            (std::set<std::string>{"PP link 0 -> 1", "PP link 1 -> 2", "PP link 2 -> 3", "PP link 3 -> 0"}));
  ExpectEverySpanOnANamedTrack(tracks);
}

// Each stage's tracks stand for all of its TP ranks and DP replicas, and say so.
TEST(StepTrace, StageTracksNameTheGpusTheyStandFor) {
  std::set<std::string> stages;
  const nlohmann::json trace = TraceOf("tp=2,pp=4,dp=4,mb=1,recompute=full");
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name" && e["pid"] < 1000) stages.insert(e["args"]["name"]);
  }
  EXPECT_EQ(stages.size(), 4u);
  EXPECT_TRUE(stages.count("stage 1 (GPU 8: node 1, local 0; as every one of the stage's 8 GPUs)"));
}

TEST(StepTrace, NoPipelineNoLinks) {
  const TraceTracks tracks = Tracks("tp=1,pp=1,dp=32,mb=1,recompute=full");
  EXPECT_TRUE(PipelineLinks(tracks).empty());
  ExpectEverySpanOnANamedTrack(tracks);
}

// The trace covers the whole step: its last span (the optimizer step, or the ZeRO parameter
// gather after it) ends at the step time, and every stage's compute stream ends with the optimizer.
TEST(StepTrace, EndsWithTheOptimizerAtTheStepTime) {
  for (const char* layout : {"tp=1,pp=4,dp=8,mb=1,recompute=full", "tp=1,pp=1,dp=32,mb=1,zero=1,recompute=full"}) {
    const nlohmann::json trace = TraceOf(layout);
    double last_end = 0;
    std::map<int, std::string> last_on_compute;  // stage -> the span ending last on its compute stream
    std::map<int, double> compute_end;
    for (const nlohmann::json& e : trace["traceEvents"]) {
      if (e["ph"] != "X") continue;
      const double end = (e["ts"].get<double>() + e["dur"].get<double>()) / 1e6;
      last_end = std::max(last_end, end);
      const int pid = e["pid"].get<int>();
      if (e["tid"] == 0 && pid < 1000 && end >= compute_end[pid]) {
        compute_end[pid] = end;
        last_on_compute[pid] = e["name"].get<std::string>();
      }
    }
    EXPECT_NEAR(last_end, trace["otherData"]["step_time_s"].get<double>(), 1e-9) << layout;
    for (const auto& [stage, name] : last_on_compute) EXPECT_EQ(name, "optimizer step") << layout << " stage " << stage;
  }
}

}  // namespace
}  // namespace braid::sim
