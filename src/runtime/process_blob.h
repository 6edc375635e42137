// What each rank contributes to the rendezvous when a communicator is created: its build, host,
// pid and UCX worker address. Every rank decodes every rank's blob, so a rank that runs another
// braid build, or sent something that is not a blob at all, is an error on every rank, named,
// before its bytes ever reach UCX (which may abort on an address it cannot parse).
#pragma once

#include <string>

#include "braid/status.h"
#include "transport/ucx/ucx_transport.h"

namespace braid::runtime {

// [u64 magic][u32 n][build identity][u32 n][hostname][u32 n][host identity][i32 pid][address].
std::string EncodeProcessBlob(const std::string& build, const transport::PeerProcess& self,
                              const std::string& address);

// Decodes rank `rank`'s blob; `my_build` is this process's BuildIdentity(). InvalidUsage when the
// builds differ (naming both and the rank's host), RemoteError when the blob is not one.
Status DecodeProcessBlob(const std::string& blob, int rank, const std::string& my_build,
                         transport::PeerProcess* peer, std::string* address);

}  // namespace braid::runtime
