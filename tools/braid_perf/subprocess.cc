#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
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

namespace braid::perf {
namespace {

namespace fs = std::filesystem;

// In a forked child before exec: handled termination signals back to their default action, so
// that one arriving before exec ends the child instead of running braid-perf's handler in it.
// Ignored ones stay ignored (nohup), as exec would leave them.
void ResetTerminationHandlers() {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (sigaction(signal_number, nullptr, &current) == 0 && current.sa_handler != SIG_IGN)
      sigaction(signal_number, &default_action, nullptr);
  }
}

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
  // The exec's failure (errno) comes back through this pipe; it closes at a successful exec.
  int exec_fds[2];
  if (pipe2(exec_fds, O_CLOEXEC) != 0) {
    *output = fmt::format("cannot run {}: pipe: {}", argv[0], std::strerror(errno));
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return -1;
  }
  const bool keep[3] = {false, capture != Capture::kStderr, capture != Capture::kStdout};
  ChildWatch watch;  // a termination signal reaches the child (interruption.h)
  const pid_t parent = getpid();
  const pid_t pid = fork();
  const int fork_error = errno;
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. A process group of its own, so that the
    // time limit (and a forwarded signal) also ends what the helper started itself: a wrapper
    // script's program would otherwise run on, holding the pipe. Its input is a file and its
    // output the pipe, so it never needs the terminal. SIGTERM when braid-perf dies, even by
    // SIGKILL, which no handler sees: a calibration's mpiexec went on measuring (and ended its
    // ranks only when it was done; QA, session 57); on SIGTERM it ends its ranks.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // braid-perf died before prctl
    ResetTerminationHandlers();
    sigprocmask(SIG_SETMASK, &watch.child_mask(), nullptr);
    const int in = open(input.c_str(), O_RDONLY);
    const int null_fd = open("/dev/null", O_WRONLY);
    // dup2 leaves O_CLOEXEC behind: the pipes' own descriptors close at exec, so the parent
    // sees the output's end when the child exits.
    bool ready = in >= 0 && null_fd >= 0 && dup2(in, 0) == 0;
    for (int stream : {1, 2}) ready = ready && dup2(keep[stream] ? pipe_fds[1] : null_fd, stream) == stream;
    if (ready) execv(args[0], args.data());
    const int error = errno;
    [[maybe_unused]] const ssize_t sent = write(exec_fds[1], &error, sizeof error);
    _exit(127);
  }
  if (pid > 0) setpgid(pid, pid);  // as the child does: whichever runs first
  watch.Started(pid, /*leads_group=*/true);
  close(pipe_fds[1]);
  close(exec_fds[1]);
  int exec_error = pid < 0 ? fork_error : 0;
  if (pid > 0) {
    ssize_t n;
    do n = read(exec_fds[0], &exec_error, sizeof exec_error);
    while (n < 0 && errno == EINTR);
    if (n != ssize_t(sizeof exec_error)) exec_error = 0;  // closed by the exec: it runs
  }
  close(exec_fds[0]);
  if (exec_error != 0) {
    close(pipe_fds[0]);
    if (pid > 0) watch.Wait();
    *output = fmt::format("cannot run {}: {}", argv[0], std::strerror(exec_error));
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
