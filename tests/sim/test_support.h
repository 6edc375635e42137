// Helpers shared by the sim tier's tests: input-error and tolerance assertions, a temporary
// directory for the files a test writes, and a hand-written host-runtime calibration.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/common/input_error.h"
#include "sim/workload/training.h"

namespace braid::sim {

// `f` must throw InputError whose message contains every one of `parts` (the file, the field,
// the value: what a user needs to find the mistake).
inline testing::AssertionResult ThrowsInputErrorMentioning(const std::function<void()>& f,
                                                           const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const InputError& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) {
      if (message.find(part) == std::string::npos) {
        return testing::AssertionFailure() << "message \"" << message << "\" does not mention \""
                                           << part << "\"";
      }
    }
    return testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return testing::AssertionFailure() << "threw a non-InputError: " << e.what();
  }
  return testing::AssertionFailure() << "did not throw";
}

// A layout from `--layout` keys, e.g. "tp=8,pp=2,zero=1".
inline Layout ParseLayout(const std::string& keys) {
  Layout l;
  std::vector<std::string> pinned;
  ParseLayoutKeys(keys, "test", &l, &pinned);
  return l;
}

// A cluster preset sized to `gpus`, as `--cluster NAME --gpus N` does.
inline ClusterSpec PresetWithGpus(const std::string& name, int gpus) {
  ClusterSpec cluster = LoadCluster(name);
  SizeForGpus(&cluster, gpus);
  return cluster;
}

inline testing::AssertionResult WithinRelative(double actual, double expected, double tolerance) {
  const double error = std::abs(actual - expected) / std::abs(expected);
  if (error <= tolerance) return testing::AssertionSuccess();
  return testing::AssertionFailure() << actual << " differs from " << expected << " by "
                                     << error * 100 << "% (allowed " << tolerance * 100 << "%)";
}

// A fresh directory for the JSON files a test writes; removed afterwards.
class TempDirTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "sim_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

// The example calibration of the cluster-file contract (what `braid-perf calibrate` writes), as
// a ClusterSpec: "shm" within a node, "tcp" between nodes. Units: us, GB/s, bytes.
inline ClusterSpec HostTestCluster(int ranks_per_node, int nodes) {
  ClusterSpec c;
  c.name = "host test";
  c.source = "test";
  c.nodes = nodes;
  c.node.gpus = ranks_per_node;
  c.node.nics = 1;
  HostCalibration h;
  h.ranks_per_node = ranks_per_node;
  h.reduce_GBps = 9.5;
  h.copy_GBps = 6.1;
  h.intra_node = "shm";
  h.inter_node = "tcp";
  h.links["shm"] = {.alpha_us = 0.9, .GBps = 4.4, .bidir_GBps = 2.6,
                    .small_max_bytes = 8192, .small_alpha_us = 0.45, .small_GBps = 1.9, .exchange_points = {}, .streaming_rates = {},
                    .streaming_reduce_rates = {}};
  h.links["tcp"] = {.alpha_us = 12.0, .GBps = 1.2, .bidir_GBps = 0.9,
                    .small_max_bytes = 65536, .small_alpha_us = 9.0, .small_GBps = 0.8, .exchange_points = {}, .streaming_rates = {},
                    .streaming_reduce_rates = {}};
  c.host = h;
  return c;
}

}  // namespace braid::sim
