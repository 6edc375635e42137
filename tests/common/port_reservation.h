// A TCP port on 127.0.0.1 that no other bind(0) can take while a test uses it.
//
// The socket stays bound (SO_REUSEADDR, never listening) for the reservation's life: a braid root
// (which also sets SO_REUSEADDR) may still listen on the port, a connection with no root there is
// refused as at any unused port, and the kernel's ephemeral choice skips it. Closing a probe
// socket at once, as these tests did, left the port to whichever parallel test bound next
// before the rank bound it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace braid::testing {

class PortReservation {
 public:
  PortReservation() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // CLOEXEC: ranks started later do not hold it
    if (fd_ < 0) return;
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port_ = ntohs(addr.sin_port);
  }
  ~PortReservation() {
    if (fd_ >= 0) close(fd_);
  }
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;

  // The reserved port, or -1 when none could be had.
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = -1;
};

}  // namespace braid::testing
