#include "p2p_staging.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "backend.h"
#include "device_memory.h"

namespace braid::perf {
namespace {

size_t AlignUp(size_t bytes) {
  return (bytes + kStagingSlotAlignment - 1) / kStagingSlotAlignment * kStagingSlotAlignment;
}

class StagedP2p final : public P2pBackend {
 public:
  StagedP2p(std::unique_ptr<P2pBackend> inner, size_t staging_bytes, const StagingCopies& copies)
      : inner_(std::move(inner)),
        copies_(copies),
        capacity_(staging_bytes),
        outgoing_(static_cast<std::byte*>(copies.allocate(staging_bytes))),
        incoming_(static_cast<std::byte*>(copies.allocate(staging_bytes))) {}

  ~StagedP2p() override {
    inner_.reset();  // nothing of it may still use the staging memory
    copies_.release(outgoing_);
    copies_.release(incoming_);
  }

  std::string Describe() const override {
    return fmt::format("{}; device memory staged through pinned host memory ({})", inner_->Describe(),
                       copies_.description);
  }
  std::string PeerTransports() const override { return inner_->PeerTransports(); }

  void Send(const void* buf, size_t bytes, int peer) override {
    CheckFits(bytes, "a message");
    copies_.to_host(outgoing_, buf, bytes);
    inner_->Send(outgoing_, bytes, peer);
  }
  void Recv(void* buf, size_t bytes, int peer) override {
    CheckFits(bytes, "a message");
    inner_->Recv(incoming_, bytes, peer);
    copies_.to_device(buf, incoming_, bytes);
  }

  void Begin() override {
    outgoing_used_ = incoming_used_ = 0;
    arrivals_.clear();
    inner_->Begin();
  }
  // Each message of a window has its own slot: the layer may still read an earlier send's, or
  // write an earlier receive's, while later ones are posted.
  void PostSend(const void* buf, size_t bytes, int peer) override {
    std::byte* slot = Slot(outgoing_, &outgoing_used_, bytes);
    copies_.to_host(slot, buf, bytes);
    inner_->PostSend(slot, bytes, peer);
  }
  void PostRecv(void* buf, size_t bytes, int peer) override {
    std::byte* slot = Slot(incoming_, &incoming_used_, bytes);
    arrivals_.push_back({buf, slot, bytes});
    inner_->PostRecv(slot, bytes, peer);
  }
  // A received message is in its slot only once the window completed.
  void Complete() override {
    inner_->Complete();
    for (const Arrival& a : arrivals_) copies_.to_device(a.device, a.slot, a.bytes);
    arrivals_.clear();
  }

 private:
  struct Arrival {
    void* device;
    const std::byte* slot;
    size_t bytes;
  };

  void CheckFits(size_t bytes, const char* what) const {
    if (bytes <= capacity_) return;
    FatalError("staging", fmt::format("{} of {} bytes does not fit the {} bytes of staging memory (an "
                                      "internal error: StagingBytes undercounted)", what, bytes, capacity_), 3);
  }

  std::byte* Slot(std::byte* area, size_t* used, size_t bytes) {
    CheckFits(*used + bytes, "a window");
    std::byte* slot = area + *used;
    *used = std::min(capacity_, *used + AlignUp(bytes));
    return slot;
  }

  std::unique_ptr<P2pBackend> inner_;
  const StagingCopies& copies_;
  const size_t capacity_;  // bytes per direction
  std::byte* const outgoing_;
  std::byte* const incoming_;
  size_t outgoing_used_ = 0, incoming_used_ = 0;  // of the current window
  std::vector<Arrival> arrivals_;                 // the current window's receives
};

void* PinnedAllocate(size_t bytes) { return device::AllocatePinned(bytes); }
void PinnedRelease(void* p) { device::FreePinned(p); }
void DeviceToPinned(void* staging, const void* device, size_t bytes) { device::CopyToHost(staging, device, bytes); }
void PinnedToDevice(void* device, const void* staging, size_t bytes) { device::CopyToDevice(device, staging, bytes); }

}  // namespace

const StagingCopies& CudaStagingCopies() {
  static const StagingCopies copies{&PinnedAllocate, &PinnedRelease, &DeviceToPinned, &PinnedToDevice,
                                    "a synchronous cudaMemcpy each way"};
  return copies;
}

size_t StagingBytes(const Options& options) {
  // A window's messages are all one size s <= max_bytes, P2pWindow(s) of them: at most
  // kMaxWindowBytes (and --window messages) in all, or a single message larger than that.
  const size_t largest = options.max_bytes;
  const size_t most_messages = options.suite == P2pSuite::kLatency ? 1 : size_t(options.window);
  const size_t single = size_t(P2pWindow(*options.suite, options.window, largest)) * AlignUp(largest);
  const size_t capped = std::min(most_messages * largest, kMaxWindowBytes) + most_messages * kStagingSlotAlignment;
  return std::max({single, capped, kStagingSlotAlignment});
}

std::unique_ptr<P2pBackend> MakeStagedP2p(std::unique_ptr<P2pBackend> inner, size_t staging_bytes,
                                          const StagingCopies& copies) {
  return std::make_unique<StagedP2p>(std::move(inner), staging_bytes, copies);
}

}  // namespace braid::perf
