// braid::Status: the error value used inside the library and at the C++ API.
// OK is free (no allocation); an error carries a code and a human-readable message
// that names what went wrong (peer rank, field, value, allowed range).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "braid/export.h"

namespace braid {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  // the call had no effect; the communicator stays usable
  kInvalidUsage,     // API misuse (e.g. wrong order of group calls)
  kSystemError,      // OS / network / UCX failure on this rank
  kInternalError,    // a braid bug
  kRemoteError,      // a peer died, closed its connection or reported an error
  kTimeout,          // BRAID_TIMEOUT expired waiting for a peer
  kAborted,          // Comm::Abort() was called
  kUnsupported,      // valid request that this build or transport cannot do
};

BRAID_API const char* StatusCodeName(StatusCode code);

class BRAID_API Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status InvalidUsage(std::string msg) { return {StatusCode::kInvalidUsage, std::move(msg)}; }
  static Status SystemError(std::string msg) { return {StatusCode::kSystemError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternalError, std::move(msg)}; }
  static Status RemoteError(std::string msg) { return {StatusCode::kRemoteError, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {StatusCode::kUnsupported, std::move(msg)}; }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  // The message without the code name; empty for OK.
  const std::string& message() const;
  // "InvalidArgument: count * 4 bytes overflows size_t", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status WithContext(std::string_view context) const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const State> state_;  // null means OK; shared so copies are cheap
};

}  // namespace braid
