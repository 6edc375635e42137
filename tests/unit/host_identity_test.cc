// The host identity that decides which ranks share a host (bootstrap/host_identity.h): it names
// the hostname, boot id and namespaces, and a process in another network namespace of this very
// machine gets a different one (it must be treated as another host: tests/net relies on it).
#include "bootstrap/host_identity.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace braid::bootstrap {
namespace {

TEST(HostIdentityTest, JoinsThePartsThatAreKnown) {
  EXPECT_EQ(HostIdentity("vm", "b00t", "net:[1]", "pid:[2]"), "vm boot:b00t net:[1] pid:[2]");
  EXPECT_EQ(HostIdentity("vm", "", "net:[1]", ""), "vm net:[1]");
  EXPECT_EQ(HostIdentity("vm", "", "", ""), "vm");
}

TEST(HostIdentityTest, LocalIdentityNamesHostnameAndNamespacesAndIsStable) {
  const std::string id = LocalHostIdentity();
  EXPECT_EQ(id.rfind(Hostname(), 0), 0u) << id;  // starts with the plain hostname
  EXPECT_NE(id.find(" net:["), std::string::npos) << id;
  EXPECT_NE(id.find(" pid:["), std::string::npos) << id;
  EXPECT_EQ(id, LocalHostIdentity());
}

// The identity a child process computes after moving into a new network namespace, or "" with
// *why set when it cannot (not root, no namespace support).
std::string IdentityInNewNetNamespace(std::string* why) {
  int fds[2];
  if (pipe(fds) != 0) {
    *why = std::string("pipe: ") + std::strerror(errno);
    return "";
  }
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    std::string out = unshare(CLONE_NEWNET) == 0 ? "ok " + LocalHostIdentity()
                                                 : std::string("err ") + std::strerror(errno);
    ssize_t n = write(fds[1], out.data(), out.size());
    _exit(n == ssize_t(out.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) got.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got.rfind("ok ", 0) == 0) return got.substr(3);
  *why = "unshare(CLONE_NEWNET) failed: " + (got.size() > 4 ? got.substr(4) : std::string("no answer"));
  return "";
}

TEST(HostIdentityTest, AnotherNetworkNamespaceIsAnotherHost) {
  std::string why;
  const std::string other = IdentityInNewNetNamespace(&why);
  if (other.empty()) GTEST_SKIP() << why << " (needs root)";
  const std::string mine = LocalHostIdentity();
  EXPECT_NE(other, mine);
  EXPECT_EQ(other.rfind(Hostname(), 0), 0u) << other;  // same hostname, different namespace
}

}  // namespace
}  // namespace braid::bootstrap
