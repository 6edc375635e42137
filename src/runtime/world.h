// runtime::World: what the communicators of one bootstrap share in a process: the transport, and
// the communicator ids in use (each id names one tag space on that transport).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "collectives/tuner_file.h"
#include "transport/transport.h"

namespace braid::runtime {

// Communicator ids of this process. Split agrees on an id with the other members: each proposes
// one it reserved, all take the largest, and each must be able to claim that one. Several
// threads may split communicators of this process at once (each its own), so a proposal and a
// claim are reservations here, under a mutex, and a claim fails if a concurrent Split of this
// process holds the agreed id; then every member releases and proposes again, higher. Ids are
// not reused, even after their communicator is gone (65536 per process).
class CommIds {
 public:
  // The world communicator's id (the bootstrap's).
  static constexpr uint32_t kWorldId = 1;
  static constexpr uint32_t kLimit = 1u << transport::kTagCommBits;

  // Reserves and returns an id no communicator of this process has or is being given (kLimit
  // or more once they are exhausted).
  uint32_t Propose();
  // After the members agreed on `agreed` (>= every member's proposal, this process's
  // `proposed` included): gives `proposed` back unless it is the agreed one, and reserves
  // `agreed`. False if another Split of this process holds it.
  bool Claim(uint32_t agreed, uint32_t proposed);
  // Gives back a reserved id (a Split that failed or must propose again).
  void Release(uint32_t id);

 private:
  std::mutex mu_;
  uint32_t next_ = kWorldId + 1;  // proposals start here; never decreases
  std::set<uint32_t> reserved_;   // ids below next_ that are taken (given out or proposed)
};

struct World {
  std::unique_ptr<transport::Transport> transport;
  CommIds comm_ids;
  // For the tuner: the host of each world rank (numbered in order of appearance; empty: one
  // host), and the calibration it costs with (CommOptions.tuner_file; null: the built-in model).
  std::vector<int> host_of_rank;
  std::shared_ptr<const coll::TunerCalibration> tuner;
};

}  // namespace braid::runtime
