// Shared between the cluster loaders (not part of the cluster API).
#pragma once

#include <string>

#include "sim/cluster/cluster.h"

namespace braid::sim {

bool ClusterPreset(const std::string& name, ClusterSpec* out);
bool MatchGpuPreset(const std::string& device_name, GpuSpec* out);
ClusterSpec ClusterFromJsonFile(const std::string& path);

}  // namespace braid::sim
