#include "runtime/tuner_file_cache.h"

#include <map>
#include <mutex>

namespace braid::runtime {

Status LoadTunerFile(const std::string& path, const std::string& source,
                     std::shared_ptr<const coll::TunerCalibration>* out) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const coll::TunerCalibration>> read;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = read.find(path); it != read.end()) {
    *out = it->second;
    return Status::Ok();
  }
  auto tuner = std::make_shared<coll::TunerCalibration>();
  if (Status s = coll::ReadTunerFile(path, tuner.get()); !s.ok()) return s.WithContext(source);
  *out = read.emplace(path, std::move(tuner)).first->second;
  return Status::Ok();
}

}  // namespace braid::runtime
