// What braid sets on the shared-memory lane's UCP context: its transports, eager/rendezvous
// switch, receive FIFO, segment size and receive-buffer growth. Each comes from braid's default
// or a BRAID_UCX_LOCAL_* knob, and yields to the user's own UCX_* variable for it. The network
// lane takes UCX's configuration as it is.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "braid/status.h"

namespace braid::transport::ucx_internal {

// Transports of the shared-memory lane unless BRAID_UCX_LOCAL_TLS or UCX_TLS say otherwise.
// Without cma: in UCX 1.13 a peer that dies during a CMA transfer aborts the process when the
// endpoint has no error handling (ucx_transport.h).
constexpr const char* kDefaultLocalTls = "posix,sysv,self";

// Eager/rendezvous switch of the shared-memory lane (bytes) unless BRAID_UCX_LOCAL_RNDV_THRESH
// or UCX_RNDV_THRESH say otherwise. Without cma the lane has no zero-copy transport, so a
// rendezvous moves the same copies as eager plus a handshake; UCX's automatic threshold still
// switched between 8 and 16 KiB here, which sent braid's 64 KiB packets (runtime/p2p_packet.h)
// through that handshake. Above this size eager is not used, so a receiver never buffers large
// unexpected messages.
constexpr size_t kDefaultLocalRndvThreshBytes = 128 << 10;

// Receive FIFO of each shared-memory transport of that lane (elements: one eager fragment each,
// shared by every same-host sender): BRAID_UCX_LOCAL_FIFO_SIZE when set, else UCX's own (64, or
// UCX_{MM,POSIX,SYSV,XPMEM}_FIFO_SIZE, which also win over the knob). Not raised by default: 256
// took 8 KiB bibw from 0.87 to 0.95 of raw UCX, but cost 64 B bibw (1.6 -> 0.9) and gave erratic
// losses at other sizes, and 128 was no steadier (docs/PERFORMANCE.md, session 38). UCX takes a
// power of two above 1; past the maximum a FIFO only costs memory (one receive segment, below,
// per element).
constexpr long kMaxLocalFifoSize = 1 << 16;

// The lane's segment (UCX's MM_SEG_SIZE, bytes): the most one eager fragment carries, and the size
// of each receive buffer in the FIFO. UCX's default, 8256, cut braid's packets of up to 64 KiB
// into eight fragments and every larger message into 8 KiB pieces; each fragment costs the
// sender and the receiver a pass of their own, and those passes, not the copies, bounded the
// lane (docs/PERFORMANCE.md, session 66: 1-8 KiB windows 1.5-2.5x, 16 KiB-4 MiB ping-pong about
// 2x faster). At most kMaxLocalSegBytes: UCX 1.13 (and UCX's master of 2026) keeps a fragment's
// length in a 16-bit field of the FIFO element, so with a larger segment a message that fills it
// arrives truncated (a 64 KiB message as 0 bytes). 64 KiB less a cache line keeps the buffers
// line-aligned. The cost: an unexpected eager message holds a whole segment until it is
// received (UCX keeps the fragment in its receive buffer), 64 KiB instead of about 8 KiB.
// BRAID_UCX_LOCAL_SEG_SIZE lowers it; UCX_{MM,POSIX,SYSV,XPMEM}_SEG_SIZE win over both.
constexpr size_t kDefaultLocalSegBytes = (64 << 10) - 64;
constexpr size_t kMinLocalSegBytes = 1024;
constexpr size_t kMaxLocalSegBytes = 65535;
// UCX's own FIFO size (elements), when neither BRAID_UCX_LOCAL_FIFO_SIZE nor UCX says another.
constexpr size_t kUcxDefaultFifoSize = 64;
// Receive buffers UCX adds to the lane's pool at a time (MM_RX_BUFS_GROW): the FIFO's elements
// plus one, which is what UCX takes at start (one per element and a spare), so the start maps one
// addition: 65 segments of 64 KiB, 4.2 MiB per process, about UCX's own 512 x 8256 bytes. UCX's
// 512 segments of 64 KiB would map 32 MiB per process at start, which a container's default
// 64 MiB /dev/shm cannot give 8 ranks; 64 at a time made the start two additions (8.4 MiB).
// Later additions come only with messages that wait unexpected (each holds a segment).

// One setting applied to a lane's UCP configuration (ucp_config_modify).
struct LaneSetting {
  const char* key;     // UCP's name: "TLS", "MM_SEG_SIZE"
  std::string value;
  const char* source;  // named in errors
};

// The shared-memory lane's settings, and how each was decided, for the log and Describe().
struct LocalLaneSettings {
  std::vector<LaneSetting> settings;  // what braid applies over UCX's configuration
  std::string tls;                    // the transports, or "UCX_TLS"
  std::string rndv;                   // the rendezvous threshold as set, or "UCX_RNDV_THRESH"
  // Sends below this many bytes may go eager (the threshold; kDefaultLocalRndvThreshBytes when it
  // is UCX's "auto" or unreadable; SIZE_MAX for "inf").
  size_t eager_below = 0;
  std::string fifo;     // elements, "UCX default", or the UCX variable that set it
  std::string segment;  // bytes, or the UCX variable that set it
  bool user_tls = false;   // UCX_TLS is set (braid's BRAID_UCX_LOCAL_TLS not applied)
  bool user_rndv = false;  // UCX_RNDV_THRESH is set (BRAID_UCX_LOCAL_RNDV_THRESH not applied)
  bool segment_applied = false;  // braid's segment (the knob's or the default) went to UCX
};

// Reads the BRAID_UCX_LOCAL_* knobs (once per process) and the user's UCX_* variables (each
// call). InvalidArgument naming a knob or UCX variable set to a value the lane cannot use.
Status ResolveLocalLane(LocalLaneSettings* out);

// Whether a transport list in UCX_TLS's syntax ("posix,sysv,self", "^tcp", "tcp,sm") lets the lane
// use a shared-memory transport: only those read the MM_ settings, and UCX warns of a setting
// that no transport took ("invalid configurations: MM_SEG_SIZE=...").
bool UsesSharedMemory(const std::string& tls);

}  // namespace braid::transport::ucx_internal
