#include "transport/peer_liveness.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace braid::transport {

bool LocalProcessExited(int pid) {
  if (pid <= 0) return false;  // unknown identity: nothing to check
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  // kill() succeeds on zombies; the state letter follows the ")" that closes the command name
  // (which may itself contain spaces or parentheses, hence the last ")").
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* paren = strrchr(buf, ')');
  if (!paren || paren[1] != ' ') return false;
  char state = paren[2];
  return state == 'Z' || state == 'X';
}

bool PeerCheckLimiter::Due(int peer) {
  if (peer < 0 || size_t(peer) >= last_.size()) return false;
  Clock::time_point now = Clock::now();
  if (last_[size_t(peer)] != Clock::time_point::min() && now - last_[size_t(peer)] < period_)
    return false;
  last_[size_t(peer)] = now;
  return true;
}

}  // namespace braid::transport
