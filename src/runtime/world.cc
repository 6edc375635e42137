#include "runtime/world.h"

#include <algorithm>

namespace braid::runtime {

uint32_t CommIds::Propose() {
  std::lock_guard<std::mutex> lock(mu_);
  const uint32_t id = next_;
  if (id < kLimit) {
    reserved_.insert(id);
    next_ = id + 1;
  }
  return id;
}

bool CommIds::Claim(uint32_t agreed, uint32_t proposed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (agreed == proposed) return true;
  reserved_.erase(proposed);
  if (agreed >= kLimit || reserved_.count(agreed) != 0) return false;
  reserved_.insert(agreed);
  next_ = std::max(next_, agreed + 1);
  return true;
}

void CommIds::Release(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  reserved_.erase(id);
}

}  // namespace braid::runtime
