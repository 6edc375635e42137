// The fuzz tier for `braid-perf plot`'s reader (plot_series.cc): braid-perf --json results of both
// kinds, mutated at random, must load or be refused with PlotInputError naming the file
// (tests/common/input_fuzzer.h has the engine and its knobs).
#include <string>

#include "plot_series.h"
#include "tests/common/input_fuzzer.h"

namespace braid::perf {
namespace {

using test::InputFuzz;

// PlotInputError is the reader's own refusal; the engine counts InputError as that.
void LoadPlotInput(const std::string& path) {
  try {
    for (CollectiveMetric metric : {CollectiveMetric::kBusBw, CollectiveMetric::kTime})
      (void)LoadSeries(path, metric);
  } catch (const PlotInputError& e) {
    throw test::InputError(e.what());
  }
}

TEST_F(InputFuzz, PointToPointResults) {
  // A latency result timed with --versus ucx, as braid-perf --json writes one (the parts plot reads).
  const std::string seed = R"({"suite": "latency", "backend": "braid", "nranks": 2, "context": {"host": "h"},
  "rows": [{"size": 1, "latency_us": 2.5, "ratio": 1.2}, {"size": 64, "latency_us": 2.7, "ratio": null},
           {"size": 4096, "latency_us": 4.0, "ratio": 1.1}],
  "versus": {"backend": "ucx", "rows": [{"size": 1, "latency_us": 2.0}, {"size": 64, "latency_us": 2.2},
                                        {"size": 4096, "latency_us": 3.6}]}})";
  Fuzz("p2p.json", seed, 11, [&](const std::string& text) { LoadPlotInput(Write("p2p.json", text)); });
}

TEST_F(InputFuzz, CollectiveResults) {
  const std::string seed = R"({"collective": "allreduce", "backend": "braid", "nranks": 4, "host": "h",
  "rows": [{"size": 8, "count": 2, "oop": {"time_us": 10.5, "algbw": 0.001, "busbw": 0.0015, "wrong": 0},
            "ip": {"time_us": 12.5, "algbw": 0.0009, "busbw": 0.0013, "wrong": 0}},
           {"size": 1048576, "count": 262144, "oop": {"time_us": 900, "algbw": 1.1, "busbw": 1.7, "wrong": 0},
            "ip": null}], "avg_busbw": 1.0})";
  Fuzz("collective.json", seed, 12, [&](const std::string& text) { LoadPlotInput(Write("collective.json", text)); });
}

}  // namespace
}  // namespace braid::perf
