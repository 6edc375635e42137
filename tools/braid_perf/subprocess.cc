#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "interruption.h"

extern char** environ;

namespace braid::perf {
namespace {

namespace fs = std::filesystem;

bool IsExecutableFile(const fs::path& candidate) {
  std::error_code ec;
  return fs::is_regular_file(candidate, ec) && access(candidate.c_str(), X_OK) == 0;
}

// Reads `fd` to its end (the child closed its side, or exited) into *text; false if that did not
// happen within `limit_s` seconds.
bool ReadAll(int fd, double limit_s, std::string* text) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(limit_s));
  char chunk[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, int(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) return true;  // cannot watch it: take what came
    if (ready <= 0) continue;
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    text->append(chunk, size_t(n));
  }
}

}  // namespace

std::string FindInPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return IsExecutableFile(program) ? program : "";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (IsExecutableFile(candidate)) return candidate.string();
  }
  return "";
}

int RunCapturing(const std::vector<std::string>& argv, const std::string& input, Capture capture,
                 std::string* output, double limit_s) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *output = fmt::format("cannot run {}: pipe: {}", argv[0], std::strerror(errno));
    return -1;
  }
  // The child's end of the pipe becomes its captured stream(s); dup2 leaves O_CLOEXEC behind, so
  // the pipe's own descriptors close at exec and the parent sees the end when the child exits.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, input.c_str(), O_RDONLY, 0);
  const bool keep[3] = {false, capture != Capture::kStderr, capture != Capture::kStdout};
  for (int stream : {1, 2}) {
    if (keep[stream]) posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], stream);
    else posix_spawn_file_actions_addopen(&actions, stream, "/dev/null", O_WRONLY, 0);
  }
  ChildWatch watch;  // a termination signal reaches the child (interruption.h)
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setsigmask(&attributes, &watch.child_mask());
  // A process group of its own, so that the time limit (and a forwarded signal) also ends what
  // the helper started itself: a wrapper script's program would otherwise run on, holding the
  // pipe. Its input is a file and its output the pipe, so it never needs the terminal.
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  pid_t pid = 0;
  const int spawn_error = posix_spawn(&pid, args[0], &actions, &attributes, args.data(), environ);
  watch.Started(spawn_error == 0 ? pid : -1, /*leads_group=*/true);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawn_error != 0) {
    close(pipe_fds[0]);
    *output = fmt::format("cannot run {}: {}", argv[0], std::strerror(spawn_error));
    return -1;
  }
  output->clear();
  const bool finished = ReadAll(pipe_fds[0], limit_s, output);
  if (!finished) kill(-pid, SIGKILL);  // not reaped yet, so the group is still the child's
  close(pipe_fds[0]);
  const int status = watch.Wait();
  if (!finished) return kRanOutOfTime;
  if (status == -1) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

std::string DescribeRunStatus(int status) {
  if (status == kRanOutOfTime) return "did not finish within its time limit and was killed";
  if (status < 0) return "could not be run";
  if (status > 128) return fmt::format("killed by signal {} ({})", status - 128, strsignal(status - 128));
  return fmt::format("exit status {}", status);
}

}  // namespace braid::perf
