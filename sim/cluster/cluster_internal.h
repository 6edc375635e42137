// Shared between the cluster loaders (not part of the cluster API).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "sim/cluster/cluster.h"

namespace braid::sim {

bool ClusterPreset(const std::string& name, ClusterSpec* out);
// The preset of a discovered GPU name, and the per-GPU NVLink GB/s of the board that part sits on
// (0: a PCIe card).
bool MatchGpuPreset(const std::string& device_name, GpuSpec* out, double* board_nvlink_GBps);
// A JSON cluster file's document; `path` names it in errors.
ClusterSpec ClusterFromJson(const nlohmann::json& doc, const std::string& path);

// host_calibration.cc: the "calibration" block of cluster file `file`, and written back (every
// field that ReadHostCalibration reads; "measured" is not kept); a multi-node check (an
// InputError naming calibration.inter_node when `nodes` > 1 and no inter-node class was
// calibrated); the lines `plan-sim topo` prints.
HostCalibration ReadHostCalibration(const nlohmann::json& value, const std::string& file);
nlohmann::json HostCalibrationToJson(const HostCalibration& host);
void CheckHostCalibrationSpan(const HostCalibration& host, int nodes, const std::string& origin);
std::string HostCalibrationSummary(const HostCalibration& host);

}  // namespace braid::sim
