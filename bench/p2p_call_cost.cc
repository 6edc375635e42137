// The software cost of point-to-point calls, without a wire: one process sends to itself and
// receives, through braid's public API (libbraid.so) or through the raw UCX tag API with the same
// shared-memory transports. Run it under callgrind and subtract two iteration counts, so start-up
// cancels and what is left is instructions per Send + Recv pair (deterministic, unlike timings on
// a shared VM):
//
//   valgrind --tool=callgrind --callgrind-out-file=a p2p_call_cost braid-lone 200000 1
//   valgrind --tool=callgrind --callgrind-out-file=b p2p_call_cost braid-lone 400000 1
//   (Ir of b - Ir of a) / 200000
//
// Modes: braid-lone / ucx-lone (a blocking Send then Recv per iteration), braid-group /
// ucx-group (64 sends then 64 receives per group, all completed together). It also prints the
// loop's wall time per pair. For docs/PERFORMANCE.md; not run by tools/test.
//
// Since session 50 braid keeps a blocking Send to self as a copy for its Recv (a lone message to
// itself could wait for its own Recv when UCX sends it by rendezvous), so braid-lone counts that
// copy and the batch path of the Recv, not the lone-message path a Send to a peer takes: the
// braid-lone counts in docs/PERFORMANCE.md from sessions 8-43 are of the lone path and cannot be
// reproduced with this mode any more. The group modes are unchanged.
//
// braid-peer / ucx-peer count the lone path to a peer: one process holds both ranks of a
// two-rank communicator (raw UCX: two workers of one context) and one thread sends from rank 0,
// then receives on rank 1, over the shared-memory lane. The Send completes eagerly (BYTES up to
// the eager limit), so nothing waits on another thread and the count stays deterministic; the
// Recv finds the message already in its worker (UCX's unexpected path, in both modes alike),
// where a ping-pong's Recv is posted first.
#include <ucp/api/ucp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "braid/comm.h"

namespace {

constexpr int kWindow = 64;  // messages per group in the group modes

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "p2p_call_cost: %s\n", what.c_str());
  std::exit(2);
}

double RunBraid(bool group, long pairs, size_t bytes, std::vector<char>& out, std::vector<char>& in) {
  braid::UniqueId id;
  std::unique_ptr<braid::Comm> comm;
  if (!braid::Comm::GetUniqueId(&id).ok() || !braid::Comm::Create(id, 1, 0, &comm).ok())
    Die("could not create a one-rank communicator");
  auto check = [](const braid::Status& s) {
    if (!s.ok()) Die(s.ToString());
  };
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < pairs; i += group ? kWindow : 1) {
    if (!group) {
      check(comm->Send(out.data(), bytes, braid::DataType::kUint8, 0));
      check(comm->Recv(in.data(), bytes, braid::DataType::kUint8, 0));
      continue;
    }
    check(comm->GroupStart());
    for (int k = 0; k < kWindow; ++k) check(comm->Send(out.data() + k * bytes, bytes, braid::DataType::kUint8, 0));
    for (int k = 0; k < kWindow; ++k) check(comm->Recv(in.data() + k * bytes, bytes, braid::DataType::kUint8, 0));
    check(comm->GroupEnd());
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// braid-peer: rank 0 sends, rank 1 receives, both driven by this thread.
double RunBraidPeer(long pairs, size_t bytes, std::vector<char>& out, std::vector<char>& in) {
  braid::UniqueId id;
  if (!braid::Comm::GetUniqueId(&id).ok()) Die("could not start a rendezvous root");
  std::unique_ptr<braid::Comm> sender, receiver;
  braid::Status receiver_status;
  std::thread joiner([&] { receiver_status = braid::Comm::Create(id, 2, 1, &receiver); });
  const braid::Status sender_status = braid::Comm::Create(id, 2, 0, &sender);
  joiner.join();
  if (!sender_status.ok() || !receiver_status.ok()) Die("could not create a two-rank communicator");
  auto check = [](const braid::Status& s) {
    if (!s.ok()) Die(s.ToString());
  };
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < pairs; ++i) {
    check(sender->Send(out.data(), bytes, braid::DataType::kUint8, 1));
    check(receiver->Recv(in.data(), bytes, braid::DataType::kUint8, 0));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A UCP context over the transports braid's same-host lane uses, with a sending worker and an
// endpoint from it to the receiving worker: the same worker (to itself) or a second one (a peer).
struct UcxWorkers {
  ucp_context_h context = nullptr;
  ucp_worker_h sender = nullptr;
  ucp_worker_h receiver = nullptr;
  ucp_ep_h ep = nullptr;

  explicit UcxWorkers(bool to_peer) {
    ucp_config_t* config = nullptr;
    if (ucp_config_read(nullptr, nullptr, &config) != UCS_OK) Die("ucp_config_read");
    if (!std::getenv("UCX_TLS")) ucp_config_modify(config, "TLS", "posix,sysv,self");
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_TAG;
    ucs_status_t st = ucp_init(&params, config, &context);
    ucp_config_release(config);
    if (st != UCS_OK) Die("ucp_init");
    sender = NewWorker();
    receiver = to_peer ? NewWorker() : sender;
    ucp_address_t* address = nullptr;
    size_t length = 0;
    if (ucp_worker_get_address(receiver, &address, &length) != UCS_OK) Die("ucp_worker_get_address");
    ucp_ep_params_t eparams{};
    eparams.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    eparams.address = address;
    if (ucp_ep_create(sender, &eparams, &ep) != UCS_OK) Die("ucp_ep_create");
    ucp_worker_release_address(receiver, address);
    if (to_peer) WarmUp();
  }

  // A message across the endpoint, then a flush of it, progressing both workers: the wire-up
  // completes here (the loop progresses only the worker it waits on, and a send queued behind an
  // unfinished wire-up would spin there; braid's Create completes its wire-up likewise).
  void WarmUp() {
    char byte = 0;
    std::vector<ucs_status_ptr_t> pending;
    Send(&byte, 1, &pending);
    Recv(&byte, 1, &pending);
    ucp_request_param_t flush{};
    pending.push_back(ucp_ep_flush_nbx(ep, &flush));
    for (ucs_status_ptr_t req : pending) {
      if (req == nullptr) continue;
      if (UCS_PTR_IS_ERR(req)) Die(ucs_status_string(UCS_PTR_STATUS(req)));
      while (ucp_request_check_status(req) == UCS_INPROGRESS) {
        ucp_worker_progress(sender);
        ucp_worker_progress(receiver);
      }
      ucp_request_free(req);
    }
  }

  ucp_worker_h NewWorker() {
    ucp_worker_params_t wparams{};
    wparams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wparams.thread_mode = UCS_THREAD_MODE_SINGLE;
    ucp_worker_h worker = nullptr;
    if (ucp_worker_create(context, &wparams, &worker) != UCS_OK) Die("ucp_worker_create");
    return worker;
  }

  // Progresses `worker` until `req` (null: done at once) completes, then frees it.
  static void Wait(ucp_worker_h worker, ucs_status_ptr_t req) {
    if (req == nullptr) return;
    if (UCS_PTR_IS_ERR(req)) Die(ucs_status_string(UCS_PTR_STATUS(req)));
    while (ucp_request_check_status(req) == UCS_INPROGRESS) ucp_worker_progress(worker);
    ucp_request_free(req);
  }
  void Send(const void* buf, size_t bytes, std::vector<ucs_status_ptr_t>* pending = nullptr) {
    ucp_request_param_t params{};
    ucs_status_ptr_t req = ucp_tag_send_nbx(ep, buf, bytes, 0, &params);
    pending ? pending->push_back(req) : Wait(sender, req);
  }
  void Recv(void* buf, size_t bytes, std::vector<ucs_status_ptr_t>* pending = nullptr) {
    ucp_request_param_t params{};
    ucs_status_ptr_t req = ucp_tag_recv_nbx(receiver, buf, bytes, 0, ~ucp_tag_t(0), &params);
    pending ? pending->push_back(req) : Wait(receiver, req);
  }
};

// Self modes: one worker sends to itself. ucx-peer: a second worker receives.
double RunUcx(bool group, bool to_peer, long pairs, size_t bytes, std::vector<char>& out,
              std::vector<char>& in) {
  UcxWorkers ucx(to_peer);  // left for the process exit to tear down: only the loop is measured
  std::vector<ucs_status_ptr_t> requests;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < pairs; i += group ? kWindow : 1) {
    if (!group) {
      ucx.Send(out.data(), bytes);
      ucx.Recv(in.data(), bytes);
      continue;
    }
    requests.clear();
    for (int k = 0; k < kWindow; ++k) ucx.Send(out.data() + k * bytes, bytes, &requests);
    for (int k = 0; k < kWindow; ++k) ucx.Recv(in.data() + k * bytes, bytes, &requests);
    for (ucs_status_ptr_t req : requests) UcxWorkers::Wait(ucx.sender, req);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4)
    Die("usage: p2p_call_cost braid-lone|braid-group|braid-peer|ucx-lone|ucx-group|ucx-peer PAIRS BYTES");
  const std::string mode = argv[1];
  const long pairs = std::atol(argv[2]);
  const long bytes = std::atol(argv[3]);
  if (pairs < 1 || bytes < 0 || bytes > (1 << 20)) Die("PAIRS must be >= 1 and BYTES in [0, 1048576]");
  const bool group = mode.ends_with("-group");
  const bool to_peer = mode.ends_with("-peer");
  std::vector<char> out(size_t(kWindow) * size_t(bytes) + 1, 1), in(out.size(), 0);
  double seconds = 0;  // the loop only
  if (mode == "braid-peer") seconds = RunBraidPeer(pairs, size_t(bytes), out, in);
  else if (mode == "braid-lone" || mode == "braid-group") seconds = RunBraid(group, pairs, size_t(bytes), out, in);
  else if (mode == "ucx-lone" || mode == "ucx-group" || mode == "ucx-peer")
    seconds = RunUcx(group, to_peer, pairs, size_t(bytes), out, in);
  else Die("unknown mode '" + mode + "'");
  if (bytes > 0 && in[0] != 1) Die("the received bytes are wrong");
  std::printf("%s: %ld pairs of %ld B, %.1f ns per pair (wall time of the loop)\n", mode.c_str(), pairs,
              bytes, seconds * 1e9 / double(pairs));
  return 0;
}
