// CommOptions.tuner_file / BRAID_TUNER_FILE, read once per process and path (as the BRAID_*
// knobs are): ResolveOptions checks the file, Create uses it, and a pipe (<(...)) is read once.
#pragma once

#include <memory>
#include <string>

#include "braid/status.h"
#include "collectives/tuner_file.h"

namespace braid::runtime {

// The calibration in `path` (coll::ReadTunerFile), from this process's first successful read of
// it. `source` names where the path came from in the error ("BRAID_TUNER_FILE").
Status LoadTunerFile(const std::string& path, const std::string& source,
                     std::shared_ptr<const coll::TunerCalibration>* out);

}  // namespace braid::runtime
