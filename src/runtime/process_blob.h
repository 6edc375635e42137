// What each rank contributes to the rendezvous when a communicator is created: its build, host,
// pid and UCX worker address. Every rank decodes every rank's blob, so a rank that runs another
// braid build, or sent something that is not a blob at all, is an error on every rank, named,
// before its bytes ever reach UCX (which may abort on an address it cannot parse).
#pragma once

#include <string>

#include "braid/status.h"
#include "transport/ucx/ucx_transport.h"

namespace braid::runtime {

// What must be the same on every rank besides the build: the communicator's settings that decide
// which messages its ranks exchange ("name=value" lines, as AgreedSettings in comm_create.cc
// writes them). A rank forcing another algorithm or slice, or packing other point-to-point
// sizes, would otherwise fail later with a message about a truncated transfer, or, where the
// sizes happened to match, combine the wrong blocks.
// [u64 magic][u32 n][build identity][u32 n][hostname][u32 n][host identity][u32 n][settings]
// [i32 pid][address].
std::string EncodeProcessBlob(const std::string& build, const std::string& settings,
                              const transport::PeerProcess& self, const std::string& address);

// Decodes rank `rank`'s blob; `my_build` is this process's BuildIdentity(), `my_settings` its
// settings. InvalidUsage when the builds differ (naming both and the rank's host) or a setting
// differs (naming each such setting's two values), RemoteError when the blob is not one.
Status DecodeProcessBlob(const std::string& blob, int rank, const std::string& my_build,
                         const std::string& my_settings, transport::PeerProcess* peer, std::string* address);

}  // namespace braid::runtime
