#include "interruption.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace braid::perf {
namespace {

namespace fs = std::filesystem;

constexpr int kTerminationSignals[3] = {SIGINT, SIGTERM, SIGHUP};

// What the signal handler reads. Only async-signal-safe state: the handler cannot take locks or
// allocate, so the scratch directory's path is a fixed buffer, written with the signals held back.
volatile sig_atomic_t g_pending_signal = 0;
volatile sig_atomic_t g_child = 0;  // the running child's pid, 0 when none
volatile sig_atomic_t g_child_leads_group = 0;  // 1: signals go to the child's whole process group
volatile sig_atomic_t g_signals_seen = 0;  // termination signals while a child ran
pid_t g_owner = 0;                  // the process that made the scratch directory
char g_scratch_path[PATH_MAX] = "";

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kTerminationSignals) sigaddset(&set, sig);
  return set;
}

// Removes the scratch directory's files and the directory with system calls only (safe inside a
// signal handler). Unlinking while reading a directory may skip entries, so it reads again until
// nothing is left; a few passes suffice for the handful of files a run writes.
void RemoveScratchSignalSafe() {
  if (g_scratch_path[0] == '\0') return;
  for (int pass = 0; pass < 8 && rmdir(g_scratch_path) != 0; ++pass) {
    const int fd = open(g_scratch_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    alignas(dirent64) char entries[4096];
    for (ssize_t n; (n = getdents64(fd, entries, sizeof entries)) > 0;) {
      for (ssize_t offset = 0; offset < n;) {
        const auto* entry = reinterpret_cast<const dirent64*>(entries + offset);
        const char* name = entry->d_name;
        const bool dot = name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
        if (!dot) unlinkat(fd, name, 0);
        offset += entry->d_reclen;
      }
    }
    close(fd);
  }
  g_scratch_path[0] = '\0';
}

// Ends the process as `sig` does by default.
[[noreturn]] void RaiseDefault(int sig) {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigaction(sig, &default_action, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  raise(sig);
  _exit(128 + sig);  // not reached: the default action of every termination signal ends the process
}

// Ends the process as `sig` would have, once the scratch directory is gone.
[[noreturn]] void DieOfSignal(int sig) {
  RemoveScratchSignalSafe();
  RaiseDefault(sig);
}

extern "C" void OnTerminationSignal(int sig, siginfo_t* info, void*) {
  if (getpid() != g_owner) RaiseDefault(sig);  // a forked child that has not exec'd yet: not its to clean
  const int saved_errno = errno;
  const pid_t child = g_child;
  if (child > 0) {
    // The job goes first; ChildWatch::Wait finishes once it has. The first signal is passed on,
    // unless the terminal sent it (si_code SI_KERNEL) to our process group, the job's too: the
    // job has it already (a second SIGINT makes Open MPI's mpirun kill its job outright). A
    // second signal means the job did not end: SIGTERM; a third, SIGKILL.
    const int seen = g_signals_seen;
    g_signals_seen = seen + 1;
    const bool job_has_it = info && info->si_code == SI_KERNEL && getpgid(child) == getpgrp();
    const pid_t target = g_child_leads_group ? -child : child;
    if (seen == 0 && !job_has_it) kill(target, sig);
    if (seen == 1) kill(target, SIGTERM);
    if (seen >= 2) kill(target, SIGKILL);
    if (g_pending_signal == 0) g_pending_signal = sig;
    errno = saved_errno;
    return;
  }
  DieOfSignal(sig);
}

// Removes `prefix`-PID-XXXXXX directories under `temp` that this user owns and whose process no
// longer exists (one killed by SIGKILL, which no handler sees). A pid reused since is taken as
// alive: at worst a directory stays.
void RemoveAbandoned(const fs::path& temp, const std::string& prefix) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(temp, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + 8 || name.compare(0, prefix.size() + 1, prefix + "-") != 0) continue;
    const std::string middle = name.substr(prefix.size() + 1, name.size() - prefix.size() - 8);  // PID
    if (name[name.size() - 7] != '-' || middle.empty() || middle.size() > 9 ||
        middle.find_first_not_of("0123456789") != std::string::npos)
      continue;
    struct stat st {};
    if (lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) continue;
    const pid_t pid = pid_t(std::stol(middle));
    if (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH) continue;
    fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

ScratchDir::ScratchDir(const std::string& prefix) {
  if (g_scratch_path[0] != '\0') throw std::logic_error("ScratchDir: one at a time");
  std::error_code ec;
  const fs::path temp = fs::temp_directory_path(ec);
  if (ec) {
    const char* tmpdir = std::getenv("TMPDIR");
    throw std::runtime_error(fmt::format("no directory for temporary files: TMPDIR='{}' ({})",
                                         tmpdir ? tmpdir : "", ec.message()));
  }
  RemoveAbandoned(temp, prefix);
  std::string pattern = (temp / fmt::format("{}-{}-XXXXXX", prefix, getpid())).string();
  if (pattern.size() >= sizeof g_scratch_path)
    throw std::runtime_error(fmt::format("temporary directory path too long: {}", pattern));
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(fmt::format("cannot create a temporary directory {}: {}", pattern, std::strerror(errno)));
  path_ = pattern;
  const sigset_t set = TerminationSet();
  sigset_t before;
  pthread_sigmask(SIG_BLOCK, &set, &before);
  std::memcpy(g_scratch_path, pattern.c_str(), pattern.size() + 1);
  g_owner = getpid();
  for (int i = 0; i < 3; ++i) {
    sigaction(kTerminationSignals[i], nullptr, &previous_[i]);
    if (previous_[i].sa_handler == SIG_IGN) continue;  // nohup and the like: stays ignored
    struct sigaction action {};
    action.sa_sigaction = OnTerminationSignal;
    action.sa_mask = set;           // one termination signal at a time
    action.sa_flags = SA_RESTART | SA_SIGINFO;  // reads and waits go on; the code sees the signal when the child ends
    sigaction(kTerminationSignals[i], &action, nullptr);
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

ScratchDir::~ScratchDir() {
  // Removed while the handler still covers it: a signal now finishes the removal and ends the process.
  std::error_code ignored;
  fs::remove_all(path_, ignored);
  const sigset_t set = TerminationSet();
  sigset_t before;
  pthread_sigmask(SIG_BLOCK, &set, &before);
  for (int i = 0; i < 3; ++i) sigaction(kTerminationSignals[i], &previous_[i], nullptr);
  g_scratch_path[0] = '\0';
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

ChildWatch::ChildWatch() {
  const sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, &original_mask_);
}

ChildWatch::~ChildWatch() {
  if (blocked_) pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
  if (pid_ > 0 && g_child == pid_) g_child = 0;  // left without Wait (an exception): not ours to signal
}

void ChildWatch::Started(pid_t pid, bool leads_group) {
  pid_ = pid;
  g_child_leads_group = leads_group ? 1 : 0;
  if (pid > 0) g_child = pid;
  blocked_ = false;
  pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
}

int ChildWatch::Wait() {
  int status = -1;
  if (pid_ > 0) {
    // Wait for the exit without reaping, so the pid cannot be reused while a signal handler may
    // still pass a signal to it; forget the child with the signals held back; then reap.
    siginfo_t info{};
    while (waitid(P_PID, id_t(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    const sigset_t set = TerminationSet();
    sigset_t before;
    pthread_sigmask(SIG_BLOCK, &set, &before);
    g_child = 0;
    while (waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) {
        status = -1;
        break;
      }
    }
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
  }
  if (const int sig = g_pending_signal) DieOfSignal(sig);
  return status;
}

}  // namespace braid::perf
