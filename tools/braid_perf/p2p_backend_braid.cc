// braid's point-to-point calls: Send/Recv outside a group block until done; a window is one
// GroupStart ... GroupEnd, which posts everything at once.
#include <fmt/format.h>

#include "backend.h"
#include "p2p_backend.h"

namespace braid::perf {
namespace {

class BraidP2p final : public P2pBackend {
 public:
  explicit BraidP2p(std::unique_ptr<Comm> comm) : comm_(std::move(comm)) {
    // The limit the communicator resolved (BRAID_P2P_INLINE_BYTES): in a windowed suite, messages
    // up to it travel packed, one transport message per peer per window, which changes the
    // bandwidth of small messages many times over; a result must say which way it ran.
    CommOptions resolved;
    if (Comm::ResolveOptions(CommOptions{}, &resolved).ok()) inline_bytes_ = resolved.p2p_inline_bytes;
  }

  std::string Describe() const override {
    const std::string packing = inline_bytes_ > 0 ? fmt::format("messages <= {} B packed per peer per window", inline_bytes_)
                                                  : std::string("no packing");
    return fmt::format("braid (Comm::Send/Recv over {}; {}, BRAID_P2P_INLINE_BYTES)", comm_->transport_name(), packing);
  }
  std::string PeerTransports() const override { return comm_->transport_description(); }

  void Send(const void* buf, size_t bytes, int peer) override {
    Check(comm_->Send(buf, bytes, DataType::kUint8, peer), "Send", peer);
  }
  void Recv(void* buf, size_t bytes, int peer) override {
    Check(comm_->Recv(buf, bytes, DataType::kUint8, peer), "Recv", peer);
  }
  void Begin() override { Check(comm_->GroupStart(), "GroupStart", -1); }
  void PostSend(const void* buf, size_t bytes, int peer) override { Send(buf, bytes, peer); }
  void PostRecv(void* buf, size_t bytes, int peer) override { Recv(buf, bytes, peer); }
  void Complete() override { Check(comm_->GroupEnd(), "GroupEnd", -1); }

 private:
  static void Check(const Status& s, const char* what, int peer) {
    if (s.ok()) return;
    FatalError(peer >= 0 ? fmt::format("braid {} (peer {})", what, peer) : fmt::format("braid {}", what),
               s.ToString(), 3);
  }
  std::unique_ptr<Comm> comm_;
  long inline_bytes_ = -1;
};

}  // namespace

std::unique_ptr<P2pBackend> MakeBraidP2p(const Options& options) {
  return std::make_unique<BraidP2p>(CreateBraidComm(options));
}

}  // namespace braid::perf
