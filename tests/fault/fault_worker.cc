// fault_worker: one rank of a process-level fault test (tests/fault/process_fault_test.cc and
// leak_test.cc start several of these). It joins a communicator with Comm::CreateFromEnv
// (BRAID_RANK, BRAID_WORLD_SIZE, BRAID_ROOT, BRAID_TIMEOUT) and then misbehaves as told:
//
//   fault_worker allreduce-loop N BYTES  N all-reduces of BYTES (float32 sums, checked); "OK i" each
//   fault_worker die-after K BYTES       K all-reduces, then _exit(9) in the middle of the next one
//   fault_worker stall-after K BYTES     K all-reduces, then SIGSTOP itself (the test kills it)
//   (FAULT_COLLECTIVE=alltoall makes the three modes above run all-to-alls of BYTES per peer,
//   uint8, checked, instead of all-reduces)
//   fault_worker bad-args                invalid calls must return InvalidArgument, then a good one
//   fault_worker p2p-forms N             ranks 0 and 1: N rounds of messages (mostly small, one of
//                                        4 MiB), sent in a group and received one by one, then the
//                                        reverse (checked)
//   fault_worker p2p-torture SEED N R    every rank: N seeds from SEED of the randomised traffic of
//                                        tests/common/p2p_torture.h, R rounds each, on the
//                                        communicator and on a child of it (every byte checked)
//   fault_worker concurrent-torture SEED N R   the same, but the communicator and a child of it
//                                        (every rank, reversed) run at once on two threads
//   fault_worker mismatch                the last rank reduces with max where the others sum; with
//                                        BRAID_CHECK_CALLS=1 every rank must get InvalidArgument,
//                                        then all-reduce correctly
//   fault_worker unmap-after-failure N   N rounds, each on a fresh child communicator: an all-gather
//                                        of 1 MiB per rank whose counts differ by rank (rank 0 comes
//                                        0-300 ms late) must fail; its buffers are unmapped at once,
//                                        then the child destroyed. A send the library still read
//                                        afterwards is a SIGSEGV. Then all-reduces on the parent.
//   fault_worker abort-unmap             An all-to-all of 30,000 bytes per peer (run with
//                                        BRAID_SLICE_BYTES=1: thousands of eager sends in flight)
//                                        that rank 0 aborts from a thread 300 ms in; rank 0 makes
//                                        its buffers PROT_NONE as soon as the call returns and
//                                        tears down (then waits 3 s) while the others run small
//                                        all-reduces for ~2 s on a communicator of their own (split before). A send UCX
//                                        still read is a SIGSEGV. "ALLTOALL: <status>", "DONE".
//   fault_worker group-failure           3 ranks. Rank 2 exits. Rank 0 learns it on a child, then
//                                        in a group sends 1 MiB to rank 1, receives 1 MiB from it,
//                                        and receives from rank 2 (fails at once). Rank 1 sends
//                                        1 MiB to rank 0 from a mapping it unmaps as soon as the
//                                        send returns. Rank 0's still-posted group receive must not
//                                        match that send after rank 1 returned (a SIGSEGV in rank 1).
//   fault_worker bystander HOW LATE_MS   3 ranks, after a barrier. Rank 0 receives 64 bytes from
//                                        rank 1, which sends them LATE_MS later (sleeping outside
//                                        braid until then). Rank 2, which owes neither anything,
//                                        leaves: HOW = die (_exit, no cleanup) or leave (destroys
//                                        its communicator, then exits 0). "DONE" when all held.
//   fault_worker cancelled-transfers     2 ranks. Calls that fail with 4 MiB (rendezvous) transfers
//                                        in flight: groups discarded by an invalid call, sizes
//                                        that differ, a group failed by a mismatch; each on its
//                                        own communicator, then everything destroyed. "DONE"; the
//                                        test reads stderr for UCX's warnings at teardown.
//   fault_worker discard-eager-unmap     2 ranks. Rank 0's group queues 32 eager 64 KiB sends to
//                                        rank 1 (2 MiB: more than rank 1's shared-memory queue
//                                        holds) from a mapping, then an invalid call discards the
//                                        group; rank 0 unmaps the mapping as soon as GroupEnd
//                                        returns. Rank 1 sleeps 300 ms outside braid, then both
//                                        all-reduce. A send UCX still read afterwards is a SIGSEGV.
//   fault_worker send-after-leave HOW FILE   2 ranks. Rank 1 leaves (HOW = leave: destroys its
//                                        communicator, stays alive; exit: exits without cleanup)
//                                        and writes its pid to FILE; rank 0 waits for that (and,
//                                        for exit, the process to be gone), then sends 8 KiB and
//                                        prints "SEND: <status>".
//
// With FAULT_HOLD_S=T set, a rank whose collective failed prints "FAILED" on stdout after its
// error line and keeps its communicator, alive and idle, for T seconds before it exits: its
// partners then cannot learn of the failure from its exit, only from braid itself.
//
// Exit codes (kExit*): 0 success, 2 usage, 3 Comm creation failed, 4 a collective failed,
// 5 a wrong result or an unexpected status, 9 the deliberate death of die-after.
// Every failure prints one line "rank R: <what>: <Status::ToString()>" to stderr, which the tests
// match against.
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "braid/comm.h"
#include "braid/status.h"
#include "braid/types.h"
#include "../common/p2p_torture.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitCreate = 3;
constexpr int kExitCollective = 4;
constexpr int kExitWrong = 5;
constexpr int kExitDeliberate = 9;
// die-after: how long the next all-reduce runs before the process dies (milliseconds): short
// enough to land before a 4 MiB all-reduce of 4 ranks finishes (it takes ~10 ms or more).
constexpr int kDieDelayMs = 2;

void Say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Fail(int rank, const std::string& what, const braid::Status& s) {
  std::fprintf(stderr, "rank %d: %s: %s\n", rank, what.c_str(), s.ToString().c_str());
  std::fflush(stderr);
}

// Runs one float32 sum all-reduce of `bytes` and checks it: rank r contributes r + 1 + i % 7 at
// element i, so the sum is size * (size + 1) / 2 + size * (i % 7), exact in float32.
// `before_call` runs right before AllReduce, after the buffer is ready.
int OneAllReduce(braid::Comm& comm, size_t bytes, int iteration,
                 const std::function<void()>& before_call = {}) {
  const size_t count = bytes / sizeof(float);
  const int n = comm.size();
  std::vector<float> data(count);
  for (size_t i = 0; i < count; ++i) data[i] = float(comm.rank() + 1 + int(i % 7));
  if (before_call) before_call();
  braid::Status s = comm.AllReduce(data.data(), data.data(), count, braid::DataType::kFloat32,
                                   braid::RedOp{braid::RedOpKind::kSum});
  if (!s.ok()) {
    Fail(comm.rank(), "allreduce " + std::to_string(iteration), s);
    return kExitCollective;
  }
  for (size_t i = 0; i < count; ++i) {
    float expected = float(n * (n + 1) / 2 + n * int(i % 7));
    if (data[i] != expected) {
      std::fprintf(stderr, "rank %d: allreduce %d: element %zu is %g, expected %g\n", comm.rank(),
                   iteration, i, double(data[i]), double(expected));
      return kExitWrong;
    }
  }
  Say("OK " + std::to_string(iteration));
  return kExitOk;
}

// Runs one all-to-all of `bytes` per peer and checks it: rank r sends rank d the byte
// (31 r + 7 d + i) mod 251 at offset i of d's block.
int OneAllToAll(braid::Comm& comm, size_t bytes, int iteration, const std::function<void()>& before_call = {}) {
  const int n = comm.size(), me = comm.rank();
  auto value = [](int from, int to, size_t i) { return uint8_t((31 * size_t(from) + 7 * size_t(to) + i) % 251); };
  std::vector<uint8_t> in(bytes * size_t(n)), out(bytes * size_t(n));
  for (int d = 0; d < n; ++d)
    for (size_t i = 0; i < bytes; ++i) in[size_t(d) * bytes + i] = value(me, d, i);
  if (before_call) before_call();
  braid::Status s = comm.AllToAll(in.data(), out.data(), bytes, braid::DataType::kUint8);
  if (!s.ok()) {
    Fail(me, "alltoall " + std::to_string(iteration), s);
    return kExitCollective;
  }
  for (int from = 0; from < n; ++from) {
    for (size_t i = 0; i < bytes; ++i) {
      if (out[size_t(from) * bytes + i] != value(from, me, i)) {
        std::fprintf(stderr, "rank %d: alltoall %d: byte %zu from rank %d is wrong\n", me, iteration, i, from);
        return kExitWrong;
      }
    }
  }
  Say("OK " + std::to_string(iteration));
  return kExitOk;
}

// The counted modes' collective: an all-reduce, or an all-to-all with FAULT_COLLECTIVE=alltoall.
int OneCollective(braid::Comm& comm, size_t bytes, int iteration, const std::function<void()>& before_call = {}) {
  const char* which = std::getenv("FAULT_COLLECTIVE");
  if (which && std::string(which) == "alltoall") return OneAllToAll(comm, bytes, iteration, before_call);
  return OneAllReduce(comm, bytes, iteration, before_call);
}

int Loop(braid::Comm& comm, int n, size_t bytes) {
  for (int i = 0; i < n; ++i) {
    if (int rc = OneCollective(comm, bytes, i); rc != kExitOk) return rc;
  }
  Say("DONE");
  return kExitOk;
}

// Expects `s` to be InvalidArgument; prints its message (the tests check it is there).
bool ExpectInvalid(int rank, const char* call, const braid::Status& s) {
  if (s.code() == braid::StatusCode::kInvalidArgument && !s.message().empty()) {
    Say(std::string("INVALID ") + call + ": " + s.ToString());
    return true;
  }
  std::fprintf(stderr, "rank %d: %s: expected InvalidArgument, got %s\n", rank, call,
               s.ToString().c_str());
  return false;
}

int BadArgs(braid::Comm& comm) {
  const int rank = comm.rank();
  std::vector<float> buf(16, 1.0f);
  const braid::RedOp sum{braid::RedOpKind::kSum};
  bool ok = true;
  ok &= ExpectInvalid(rank, "null buffers",
                      comm.AllReduce(nullptr, nullptr, 16, braid::DataType::kFloat32, sum));
  ok &= ExpectInvalid(rank, "bad dtype",
                      comm.AllReduce(buf.data(), buf.data(), 16, braid::DataType(99), sum));
  ok &= ExpectInvalid(rank, "bad op",
                      comm.AllReduce(buf.data(), buf.data(), 16, braid::DataType::kFloat32,
                                     braid::RedOp{braid::RedOpKind(42)}));
  ok &= ExpectInvalid(rank, "bad root",
                      comm.Broadcast(buf.data(), buf.data(), 16, braid::DataType::kFloat32,
                                     comm.size() + 3));
  // Partial overlap that is not the in-place layout: recv starts one element after send.
  ok &= ExpectInvalid(rank, "overlap",
                      comm.AllReduce(buf.data(), buf.data() + 1, 8, braid::DataType::kFloat32, sum));
  ok &= ExpectInvalid(rank, "bad peer",
                      comm.Send(buf.data(), 16, braid::DataType::kFloat32, -1));
  if (!ok) return kExitWrong;
  // The communicator must still work after all of the above.
  return Loop(comm, 2, 4096);
}

// Rank 0 sends rank 1 messages of sizes around the inline limit; in even rounds it sends them
// in a group (packets) while rank 1 receives them one blocking Recv at a time, in odd rounds the
// reverse. So blocking receives meet packets, and a group's receives meet lone messages.
// Sizes around the inline limits (4 KiB, and the default 8 KiB), then small ones up to 32 within
// it, which makes the sender's first packet leave full; then a 4 MiB message (rendezvous over UCX) and small ones
// after it, whose packet arrives while the receiver still waits for the 4 MiB one alone and is
// read then (P2pEngine::ReadStrayPacket).
std::vector<size_t> P2pFormSizes() {
  std::vector<size_t> sizes = {1, 8, 0, 100, 3000, 4096, 64, 2500, 4097, 8192, 8193};
  sizes.insert(sizes.end(), 22, 16);
  sizes.push_back(size_t(4) << 20);
  sizes.insert(sizes.end(), {16, 700, 0});
  return sizes;
}

int P2pForms(braid::Comm& comm, int rounds) {
  const std::vector<size_t> kSizes = P2pFormSizes();
  for (int round = 0; round < rounds; ++round) {
    const bool sender_groups = round % 2 == 0;
    const bool grouped = comm.rank() == 0 ? sender_groups : !sender_groups;
    std::vector<std::vector<char>> bufs;
    for (size_t n : kSizes) bufs.push_back(std::vector<char>(n, comm.rank() == 0 ? char(round + n) : 'x'));
    braid::Status s = grouped ? comm.GroupStart() : braid::Status::Ok();
    for (auto& b : bufs) {
      if (!s.ok()) break;
      s = comm.rank() == 0 ? comm.Send(b.data(), b.size(), braid::DataType::kUint8, 1)
                           : comm.Recv(b.data(), b.size(), braid::DataType::kUint8, 0);
    }
    if (s.ok() && grouped) s = comm.GroupEnd();
    if (!s.ok()) {
      Fail(comm.rank(), "p2p round " + std::to_string(round), s);
      return kExitCollective;
    }
    for (size_t k = 0; k < bufs.size() && comm.rank() == 1; ++k) {
      for (char c : bufs[k]) {
        if (c == char(round + kSizes[k])) continue;
        std::fprintf(stderr, "rank 1: round %d message %zu: wrong bytes\n", round, k);
        return kExitWrong;
      }
    }
  }
  Say("DONE");
  return kExitOk;
}

// The torture's outcome on one communicator.
struct TortureOutcome {
  std::string error;
  size_t messages = 0, bytes = 0;
};

// Runs `seed` on `comm` and adds to `out` (stops recording at its first error).
void TortureSeed(braid::Comm& comm, uint64_t seed, const braid::testing::TortureOptions& options,
                 TortureOutcome* out) {
  if (!out->error.empty()) return;
  braid::testing::TortureRank torture(comm, seed, options);
  out->error = torture.Run();
  out->messages += torture.messages_checked();
  out->bytes += torture.bytes_checked();
}

// p2p-torture: each seed runs on the communicator, then on a child of it (split by rank parity,
// ranks in reverse order, so child and world ranks differ), whose traffic shares the transport
// under its own tags. concurrent-torture: the communicator and a child of every rank (reversed)
// run their seeds at once on two threads, sharing this process's UCX worker. Over UCX a blocking
// Send to self is kept as a copy for its Recv, so self messages may be blocking calls too.
int P2pTorture(braid::Comm& comm, uint64_t first_seed, int seeds, int rounds, bool concurrent) {
  braid::testing::TortureOptions options;
  options.rounds = rounds;
  options.blocking_self = true;
  std::unique_ptr<braid::Comm> child;
  if (braid::Status s = comm.Split(concurrent ? 0 : comm.rank() % 2, -comm.rank(), &child); !s.ok()) {
    Fail(comm.rank(), "split", s);
    return kExitCollective;
  }
  const uint64_t end = first_seed + uint64_t(seeds);
  TortureOutcome parent, side;
  if (concurrent) {
    std::thread thread([&] {
      for (uint64_t seed = first_seed; seed < end; ++seed) TortureSeed(*child, seed + 1000, options, &side);
    });
    for (uint64_t seed = first_seed; seed < end; ++seed) TortureSeed(comm, seed, options, &parent);
    thread.join();
  } else {
    for (uint64_t seed = first_seed; seed < end && parent.error.empty() && side.error.empty(); ++seed) {
      TortureSeed(comm, seed, options, &parent);
      if (parent.error.empty()) TortureSeed(*child, seed, options, &side);
    }
  }
  for (const TortureOutcome* o : {&parent, &side}) {
    if (o->error.empty()) continue;
    std::fprintf(stderr, "rank %d%s: %s\n", comm.rank(), o == &parent ? "" : " (child communicator)", o->error.c_str());
    return kExitWrong;
  }
  Say("DONE: " + std::to_string(parent.messages + side.messages) + " messages received, " +
      std::to_string(parent.bytes + side.bytes) + " bytes checked" + (concurrent ? " on two threads" : ""));
  return kExitOk;
}

// FAULT_HOLD_S: see the header comment.
void HoldAfterFailure() {
  const char* hold = std::getenv("FAULT_HOLD_S");
  if (!hold) return;
  Say("FAILED");
  std::this_thread::sleep_for(std::chrono::duration<double>(std::strtod(hold, nullptr)));
}

int Mismatch(braid::Comm& comm) {
  std::vector<float> v(256, 1.0f);
  const bool odd_one = comm.rank() == comm.size() - 1;
  braid::Status s = comm.AllReduce(v.data(), v.data(), v.size(), braid::DataType::kFloat32,
                                   braid::RedOp{odd_one ? braid::RedOpKind::kMax : braid::RedOpKind::kSum});
  if (!ExpectInvalid(comm.rank(), "mismatch", s)) return kExitWrong;
  return Loop(comm, 2, 4096);
}

// Maps `bytes` of fresh memory that munmap can take away again (a freed std::vector may stay
// mapped, so a late read would go unnoticed).
float* MapFloats(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<float*>(p);
}

int UnmapAfterFailure(braid::Comm& comm, int rounds) {
  const int rank = comm.rank(), n = comm.size();
  const size_t count = (size_t(1) << 18) + size_t(rank);  // floats: above the 128 KiB rendezvous size
  const size_t bytes = (count + size_t(n)) * sizeof(float) * size_t(n);
  for (int round = 0; round < rounds; ++round) {
    std::unique_ptr<braid::Comm> child;
    braid::Status s = comm.Split(0, rank, &child);
    if (!s.ok()) {
      Fail(rank, "split " + std::to_string(round), s);
      return kExitCollective;
    }
    float* in = MapFloats(bytes);
    float* out = MapFloats(bytes);
    if (!in || !out) return kExitWrong;
    std::fill(in, in + count, 1.0f);
    if (rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(150 * (round % 3)));
    s = child->AllGather(in, out, count, braid::DataType::kFloat32);
    munmap(in, bytes);
    munmap(out, bytes);
    if (s.ok()) {
      std::fprintf(stderr, "rank %d: round %d: an all-gather of differing counts succeeded\n", rank, round);
      return kExitWrong;
    }
    child.reset();
    Say("ROUND " + std::to_string(round) + " failed as it should: " + s.ToString());
  }
  return Loop(comm, 2, 4096);
}

int AbortUnmap(std::unique_ptr<braid::Comm> comm) {
  const int rank = comm->rank(), n = comm->size();
  // Long enough that the abort 300 ms in always finds it running: alone, on the 2-core VM beside a
  // build, one took 1.2 s with process start (30000 per peer: 0.55-0.75 s; session 63).
  constexpr size_t kPerPeer = 45000;
  const size_t bytes = kPerPeer * size_t(n);
  // The other ranks keep driving the shared transport afterwards, on a communicator of their own.
  std::unique_ptr<braid::Comm> others;
  if (braid::Status s = comm->Split(rank == 0 ? -1 : 0, rank, &others); !s.ok()) {
    Fail(rank, "split", s);
    return kExitCollective;
  }
  auto* in = static_cast<uint8_t*>(static_cast<void*>(MapFloats(bytes)));
  auto* out = static_cast<uint8_t*>(static_cast<void*>(MapFloats(bytes)));
  if (!in || !out) return kExitWrong;
  std::fill(in, in + bytes, uint8_t(rank));
  if (braid::Status s = comm->Barrier(); !s.ok()) {
    Fail(rank, "barrier", s);
    return kExitCollective;
  }
  std::thread aborter;
  if (rank == 0) {
    aborter = std::thread([&comm] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      comm->Abort();
    });
  }
  braid::Status s = comm->AllToAll(in, out, kPerPeer, braid::DataType::kUint8);
  if (rank == 0) {
    mprotect(in, bytes, PROT_NONE);
    mprotect(out, bytes, PROT_NONE);
  }
  if (aborter.joinable()) aborter.join();
  Say("ALLTOALL: " + s.ToString());
  if (others) {
    // Progress that frees room in these ranks' queues while rank 0 tears down: small all-reduces
    // for about 2 s however loaded the machine is (a fixed 1000 of 4 KiB, in 1-byte slices, took
    // 25 s beside a parallel ctest, past the test's deadline; session 53). Each carries every
    // rank's stop vote, so all stop after the same one.
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0;; ++i) {
      constexpr int kValues = 16;
      float values[kValues];
      values[0] = std::chrono::steady_clock::now() - start > std::chrono::seconds(2) ? 1.0f : 0.0f;
      for (int j = 1; j < kValues; ++j) values[j] = float(j);
      if (braid::Status r = others->AllReduce(values, values, kValues, braid::DataType::kFloat32,
                                              braid::RedOp{braid::RedOpKind::kSum});
          !r.ok()) {
        Fail(rank, "allreduce " + std::to_string(i), r);
        return kExitCollective;
      }
      for (int j = 1; j < kValues; ++j) {
        if (values[j] != float(j * others->size())) {
          std::fprintf(stderr, "rank %d: allreduce %d: element %d is %g, expected %d\n", rank, i, j,
                       double(values[j]), j * others->size());
          return kExitWrong;
        }
      }
      if (values[0] > 0) break;
    }
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    comm.reset();
    // Alive until the others are done: a rank that exits while they run fails them by design
    // (Transport::HostPeersHealth).
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
  others.reset();
  comm.reset();
  munmap(in, bytes);
  munmap(out, bytes);
  Say("DONE");
  return kExitOk;
}

int GroupFailure(braid::Comm& world) {
  const int rank = world.rank();
  constexpr size_t kBytes = size_t(1) << 20;  // above the 128 KiB rendezvous size
  std::unique_ptr<braid::Comm> child;
  if (braid::Status s = world.Split(0, rank, &child); !s.ok()) {
    Fail(rank, "split", s);
    return kExitCollective;
  }
  if (rank == 2) _exit(kExitOk);
  if (rank == 0) {
    char byte = 0;
    Say("child recv from the exited rank: " + child->Recv(&byte, 1, braid::DataType::kUint8, 2).ToString());
    std::vector<char> out(kBytes, 1), in(kBytes), lost(kBytes);
    (void)world.GroupStart();
    (void)world.Send(out.data(), kBytes, braid::DataType::kUint8, 1);
    (void)world.Recv(in.data(), kBytes, braid::DataType::kUint8, 1);
    Say("group recv from the exited rank: " + world.Recv(lost.data(), kBytes, braid::DataType::kUint8, 2).ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the caller's own work
    Say("group end: " + world.GroupEnd().ToString());
    std::this_thread::sleep_for(std::chrono::seconds(2));  // rank 1 tears down meanwhile
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    float* buf = MapFloats(kBytes);
    if (!buf) return kExitWrong;
    std::fill(buf, buf + kBytes / sizeof(float), 7.0f);
    Say("send to rank 0: " + world.Send(buf, kBytes, braid::DataType::kUint8, 0).ToString());
    munmap(buf, kBytes);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    child.reset();
  }
  Say("DONE");
  return kExitOk;
}

int Bystander(std::unique_ptr<braid::Comm> world, const std::string& how, int late_ms) {
  const int rank = world->rank();
  if (braid::Status s = world->Barrier(); !s.ok()) {
    Fail(rank, "barrier", s);
    return kExitCollective;
  }
  if (rank == 2) {
    if (how == "die") _exit(kExitDeliberate);
    world.reset();
    // desert: gone from braid (its transport said farewell) but alive for late_ms.
    if (how == "desert") std::this_thread::sleep_for(std::chrono::milliseconds(late_ms));
    Say("DONE");
    return kExitOk;
  }
  if (how == "desert") {  // an all-reduce that needs rank 2: it cannot complete
    std::vector<float> sum(64, 1.0f);
    braid::Status s = world->AllReduce(sum.data(), sum.data(), sum.size(), braid::DataType::kFloat32,
                                       braid::RedOp{braid::RedOpKind::kSum});
    if (s.ok()) return kExitWrong;
    Fail(rank, "allreduce", s);
    Say("FAILED");
    return kExitCollective;
  }
  std::vector<char> buf(64, char(rank));
  braid::Status s;
  if (rank == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(late_ms));
    s = world->Send(buf.data(), buf.size(), braid::DataType::kUint8, 0);
  } else {
    s = world->Recv(buf.data(), buf.size(), braid::DataType::kUint8, 1);
  }
  if (!s.ok()) {
    Fail(rank, rank == 1 ? "send" : "recv", s);
    Say("FAILED");
    return kExitCollective;
  }
  if (buf.back() != char(1)) return kExitWrong;
  Say("DONE");
  return kExitOk;
}

// Sends rank 0 -> 1 `send` bytes that rank 1 receives into `recv` bytes (the sizes may differ);
// a failure is printed, not fatal to the worker.
void MismatchedPair(braid::Comm& comm, size_t send, size_t recv, const std::string& what) {
  std::vector<char> buf(std::max(send, recv), char(comm.rank()));
  const braid::Status s = comm.rank() == 0 ? comm.Send(buf.data(), send, braid::DataType::kUint8, 1)
                                           : comm.Recv(buf.data(), recv, braid::DataType::kUint8, 0);
  Say(what + ": " + s.ToString());
}

int DiscardEagerUnmap(braid::Comm& comm) {
  const int rank = comm.rank();
  if (comm.size() != 2) return kExitUsage;
  constexpr size_t kMessage = 64 << 10;  // eager: below the lane's 128 KiB rendezvous size
  constexpr int kMessages = 32;
  if (rank == 0) {
    const size_t bytes = kMessage * kMessages;
    void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return kExitUsage;
    char* out = static_cast<char*>(mapping);
    std::memset(out, 1, bytes);
    (void)comm.GroupStart();
    for (int i = 0; i < kMessages; ++i) (void)comm.Send(out + i * kMessage, kMessage, braid::DataType::kUint8, 1);
    (void)comm.Send(out, 1, braid::DataType::kUint8, 7);  // no such rank: the group is discarded
    Say("discarded group: " + comm.GroupEnd().ToString());
    munmap(mapping, bytes);
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  float one = 1, sum = 0;
  const braid::Status s = comm.AllReduce(&one, &sum, 1, braid::DataType::kFloat32, {});
  if (!s.ok()) {
    Fail(rank, "allreduce", s);
    return kExitCollective;
  }
  Say("DONE");
  return sum == 2 ? kExitOk : kExitWrong;
}

// Every rank discards a group whose Send was queued before an invalid call, then exchanges again:
// the second group's receives must get the second group's data, at a packed, a tagged eager and
// a rendezvous size. (Sends used to leave as they were called, so the discarded send reached the
// next receive: the stale data came back as OK, or a size error or a timeout followed.)
int DiscardedSendsStayHome(braid::Comm& world) {
  const int rank = world.rank(), n = world.size(), next = (rank + 1) % n, prev = (rank + n - 1) % n;
  constexpr braid::DataType kInt = braid::DataType::kInt32;
  for (size_t count : {size_t(10), size_t(2000), size_t(50000)}) {
    // A child per size: each starts its message numbering afresh.
    std::unique_ptr<braid::Comm> child;
    if (const braid::Status s = world.Split(0, rank, &child); !s.ok()) {
      Fail(rank, "split", s);
      return kExitCollective;
    }
    braid::Comm& comm = *child;
    std::vector<int32_t> stale(count, 100 + rank), fresh(count, 200 + rank), got(count, -1), unused(count);
    (void)comm.GroupStart();
    (void)comm.Send(stale.data(), count, kInt, next);
    (void)comm.AllReduce(nullptr, got.data(), count, kInt, {});  // no send buffer: the group is discarded
    (void)comm.Recv(unused.data(), count, kInt, prev);
    const braid::Status discarded = comm.GroupEnd();
    if (discarded.code() != braid::StatusCode::kInvalidArgument) {
      Fail(rank, "discarded group", discarded);
      return kExitCollective;
    }
    (void)comm.GroupStart();
    (void)comm.Send(fresh.data(), count, kInt, next);
    (void)comm.Recv(got.data(), count, kInt, prev);
    if (const braid::Status s = comm.GroupEnd(); !s.ok()) {
      Fail(rank, "group after the discarded one", s);
      return kExitCollective;
    }
    for (size_t i = 0; i < count; ++i) {
      if (got[i] != 200 + prev) {
        Say("WRONG at " + std::to_string(count) + " values: got[" + std::to_string(i) + "] = " + std::to_string(got[i]));
        return kExitWrong;
      }
    }
  }
  Say("DONE");
  return kExitOk;
}

int CancelledTransfers(std::unique_ptr<braid::Comm> world) {
  const int rank = world->rank(), peer = 1 - rank;
  if (world->size() != 2) return kExitUsage;
  constexpr size_t kBig = size_t(4) << 20;  // above the 128 KiB rendezvous size of the shared-memory lane
  std::vector<char> out(kBig, char(rank)), in(2 * kBig);
  // A child per case: a failed one stays failed, and a discarded group's numbering is its own.
  auto child = [&](std::unique_ptr<braid::Comm>* c) {
    const braid::Status s = world->Split(0, rank, c);
    if (!s.ok()) Fail(rank, "split", s);
    return s.ok();
  };
  // Groups discarded by an invalid call after their large sends (and receives) were posted: the
  // sends' rendezvous requests reach the peer after (or while) it cancels its own group.
  for (int with_recv = 0; with_recv < 2; ++with_recv) {
    std::unique_ptr<braid::Comm> c;
    if (!child(&c)) return kExitCollective;
    (void)c->GroupStart();
    (void)c->Send(out.data(), kBig, braid::DataType::kUint8, peer);
    if (with_recv) (void)c->Recv(in.data(), kBig, braid::DataType::kUint8, peer);
    (void)c->Send(out.data(), kBig, braid::DataType::kUint8, 7);  // no such rank
    Say("discarded group: " + c->GroupEnd().ToString());
  }
  // Sizes that differ (the receiver's failure notice reaches a sender whose call succeeded).
  for (size_t recv : {kBig / 2, 2 * kBig}) {
    std::unique_ptr<braid::Comm> c;
    if (!child(&c)) return kExitCollective;
    MismatchedPair(*c, kBig, recv, "mismatch " + std::to_string(recv));
  }
  // A group that fails on a mismatch (rank 1 expects less) with both ranks' large sends in flight.
  {
    std::unique_ptr<braid::Comm> c;
    if (!child(&c)) return kExitCollective;
    (void)c->GroupStart();
    (void)c->Send(out.data(), kBig, braid::DataType::kUint8, peer);
    (void)c->Recv(in.data(), rank == 1 ? kBig / 2 : kBig, braid::DataType::kUint8, peer);
    Say("failed group: " + c->GroupEnd().ToString());
  }
  // Destroyed here, before the buffers go: a cancelled send's buffer may be read until then.
  world.reset();
  Say("DONE");
  return kExitOk;
}

// Whether process `pid` is gone: no such process, or a zombie (the test reaps it later) whose
// other threads are gone too. (The main thread turns zombie while UCX's threads may still hold
// the process's memory, its shared-memory segments included.)
bool ProcessGone(int pid) {
  if (kill(pid, 0) != 0) return true;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::FILE* f = std::fopen((proc + "/stat").c_str(), "r");
  if (!f) return true;
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  const char* paren = std::strrchr(buf, ')');
  if (n == 0 || !paren || (paren[2] != 'Z' && paren[2] != 'X')) return false;
  int threads = 0;
  if (DIR* dir = opendir((proc + "/task").c_str())) {
    while (const dirent* entry = readdir(dir)) threads += entry->d_name[0] != '.';
    closedir(dir);
  }
  return threads <= 1;
}

int SendAfterLeave(std::unique_ptr<braid::Comm> world, const std::string& how, const std::string& file) {
  const int rank = world->rank();
  char byte = 1;
  // One message each way first: the endpoints are connected, as in a job that ran a while.
  braid::Status s = rank == 0 ? world->Send(&byte, 1, braid::DataType::kUint8, 1)
                              : world->Recv(&byte, 1, braid::DataType::kUint8, 0);
  if (s.ok()) s = rank == 1 ? world->Send(&byte, 1, braid::DataType::kUint8, 0)
                            : world->Recv(&byte, 1, braid::DataType::kUint8, 1);
  if (!s.ok()) {
    Fail(rank, "warm-up", s);
    return kExitCollective;
  }
  if (rank == 1) {
    if (how == "leave") world.reset();
    const std::string tmp = file + ".tmp";  // renamed: rank 0 never reads half a pid
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return kExitWrong;
    std::fprintf(f, "%d\n", int(getpid()));
    std::fclose(f);
    std::rename(tmp.c_str(), file.c_str());
    if (how == "exit") _exit(kExitOk);
    std::this_thread::sleep_for(std::chrono::seconds(10));  // alive, without braid
    return kExitOk;
  }
  int pid = 0;
  for (int i = 0; i < 1000 && pid == 0; ++i) {  // 10 s at most
    if (std::FILE* f = std::fopen(file.c_str(), "r")) {
      if (std::fscanf(f, "%d", &pid) != 1) pid = 0;
      std::fclose(f);
    }
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (pid == 0) return kExitWrong;
  for (int i = 0; i < 1000 && how == "exit" && !ProcessGone(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Above the inline limit: one tagged message, which UCX copies into rank 1's shared memory.
  std::vector<char> buf(8192, 2);
  s = world->Send(buf.data(), buf.size(), braid::DataType::kUint8, 1);
  Say("SEND: " + s.ToString());
  return kExitOk;
}

int Usage() {
  std::fprintf(stderr,
               "usage: fault_worker allreduce-loop N BYTES | die-after K BYTES | "
               "stall-after K BYTES | bad-args | p2p-forms N | p2p-torture SEED N R | "
               "concurrent-torture SEED N R | mismatch | unmap-after-failure N | abort-unmap | group-failure | "
               "bystander die|leave|desert LATE_MS | cancelled-transfers | discard-eager-unmap | "
               "send-after-leave leave|exit FILE\n");
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string mode = argv[1];
  const bool counted = mode == "allreduce-loop" || mode == "die-after" || mode == "stall-after";
  const bool rounds = mode == "p2p-forms" || mode == "unmap-after-failure";
  const bool torture = mode == "p2p-torture" || mode == "concurrent-torture";
  const bool plain =
      mode == "bad-args" || mode == "mismatch" || mode == "group-failure" || mode == "cancelled-transfers" ||
      mode == "discard-eager-unmap" || mode == "discarded-sends-stay-home" || mode == "abort-unmap";
  const bool bystander = mode == "bystander";
  const bool leaver = mode == "send-after-leave";
  if (!counted && !torture && !rounds && !plain && !bystander && !leaver) return Usage();
  if ((counted && argc != 4) || (rounds && argc != 3) || (torture && argc != 5)) return Usage();
  const std::string how = argc > 2 ? argv[2] : "";
  if (bystander && (argc != 4 || (how != "die" && how != "leave" && how != "desert"))) return Usage();
  if (leaver && (argc != 4 || (how != "leave" && how != "exit"))) return Usage();
  const int n = counted ? std::atoi(argv[2]) : 0;
  const size_t bytes = counted ? size_t(std::strtoull(argv[3], nullptr, 10)) : 0;

  std::unique_ptr<braid::Comm> comm;
  braid::Status s = braid::Comm::CreateFromEnv(&comm);
  if (!s.ok()) {
    const char* rank = std::getenv("BRAID_RANK");
    std::fprintf(stderr, "rank %s: create: %s\n", rank ? rank : "?", s.ToString().c_str());
    return kExitCreate;
  }
  Say("CREATED rank " + std::to_string(comm->rank()) + " of " + std::to_string(comm->size()));

  if (mode == "allreduce-loop") {
    const int rc = Loop(*comm, n, bytes);
    if (rc == kExitCollective) HoldAfterFailure();
    return rc;
  }
  if (mode == "bad-args") return BadArgs(*comm);
  if (mode == "mismatch") return Mismatch(*comm);
  if (mode == "p2p-forms") return P2pForms(*comm, std::atoi(argv[2]));
  if (mode == "unmap-after-failure") return UnmapAfterFailure(*comm, std::atoi(argv[2]));
  if (mode == "abort-unmap") return AbortUnmap(std::move(comm));
  if (mode == "group-failure") return GroupFailure(*comm);
  if (bystander) return Bystander(std::move(comm), argv[2], std::atoi(argv[3]));
  if (mode == "cancelled-transfers") return CancelledTransfers(std::move(comm));
  if (mode == "discard-eager-unmap") return DiscardEagerUnmap(*comm);
  if (mode == "discarded-sends-stay-home") return DiscardedSendsStayHome(*comm);
  if (leaver) return SendAfterLeave(std::move(comm), how, argv[3]);
  if (torture) {
    return P2pTorture(*comm, std::strtoull(argv[2], nullptr, 10), std::atoi(argv[3]), std::atoi(argv[4]),
                      mode == "concurrent-torture");
  }
  for (int i = 0; i < n; ++i) {
    if (int rc = OneCollective(*comm, bytes, i); rc != kExitOk) return rc;
  }
  if (mode == "stall-after") {
    Say("STALLING");
    raise(SIGSTOP);
    // Continued by mistake: keep stalling, the test must kill us.
    for (;;) pause();
  }
  // die-after: start the next all-reduce and die while it runs, without any cleanup.
  Say("DYING");
  std::thread killer;
  OneCollective(*comm, bytes, n, [&killer] {
    killer = std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(kDieDelayMs));
      _exit(kExitDeliberate);
    });
  });
  // It finished before the killer fired (small messages): say so, and wait for the killer.
  Say("FINISHED BEFORE DYING");
  killer.join();
  return kExitDeliberate;
}
