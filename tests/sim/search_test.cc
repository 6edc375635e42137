// plan-sim's search: the layouts it ranks by simulation must hold the best one it can find,
// whatever --top asks for, and micro-batches of every size that divides a replica's batch.
#include <gtest/gtest.h>

#include <string>

#include "sim/search/search.h"
#include "test_support.h"

namespace braid::sim {
namespace {

SearchResult SearchFor(const std::string& model, const std::string& cluster_name, int gpus, int batch, int top,
                       const TrainingSpec& base = {}) {
  ClusterSpec cluster = LoadCluster(cluster_name);
  SizeForGpus(&cluster, gpus);
  TrainingSpec training = base;
  training.global_batch = batch;
  StepModel step(LoadModel(model), cluster, training, ComputeModel(cluster.gpu));
  SearchOptions options;
  options.top = top;
  return Search(step, options);
}

// On the PCIe preset the estimate left out DP communication, so a layout with 74% of its step in
// exposed gradient reduction ranked first by estimate and `--top 1` showed it, 1.5x slower than
// the best the default table found (QA, session 56). The best row no longer depends on --top.
TEST(Search, TheBestRowDoesNotDependOnTop) {
  const SearchResult one = SearchFor("megatron-3.6b", "pcie-a100", 32, 32, 1);
  const SearchResult ten = SearchFor("megatron-3.6b", "pcie-a100", 32, 32, 10);
  ASSERT_FALSE(one.best.empty());
  ASSERT_FALSE(ten.best.empty());
  EXPECT_EQ(LayoutToString(one.best[0].layout), LayoutToString(ten.best[0].layout));
  EXPECT_LT(one.best[0].breakdown.dp_exposed, 0.5 * one.best[0].step_time_s);
}

// A replica's batch of 24 sequences: micro-batches of 3 (and 6, 12, 24) are tried, not only
// powers of two (the best at mb=3 was 11% faster than the best shown; QA, session 56).
TEST(Search, MicroBatchesOfEveryDivisorAreTried) {
  const SearchResult r = SearchFor("megatron-1.7b", "dgx-a100", 8, 24, 1);
  ASSERT_FALSE(r.best.empty());
  EXPECT_EQ(r.best[0].layout.mb, 3) << LayoutToString(r.best[0].layout);
}

}  // namespace
}  // namespace braid::sim
