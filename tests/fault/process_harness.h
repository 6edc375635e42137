// Starting and reaping real rank processes for the fault tier. Each child gets a clean copy of the
// environment (no inherited BRAID_* / PMI_* / OMPI_* rank variables) plus the variables the test
// gives, writes stdout and stderr to files in a per-harness temporary folder, and dies with the
// test process (PR_SET_PDEATHSIG). The destructor SIGKILLs and reaps whatever is still running, so
// no test leaves processes behind, whatever path it leaves by.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/port_reservation.h"

extern char** environ;

namespace braid::testing {

// The worker binary: next to this test executable in build/bin (both are runtime outputs).
inline std::string FaultWorkerPath() {
#ifdef BRAID_FAULT_WORKER
  return BRAID_FAULT_WORKER;
#else
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "fault_worker").string();
#endif
}

struct ChildProcess {
  pid_t pid = -1;
  std::string name;  // "rank 2", for messages
  std::string out_path, err_path;
  bool exited = false;
  int wait_status = 0;
  double exit_after_s = 0;  // seconds from Start() to when it was reaped

  // Exit code, or 128 + signal for a killed process (as a shell reports it).
  int ExitCode() const {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return -1;
  }
};

class ProcessHarness {
 public:
  using Clock = std::chrono::steady_clock;

  ProcessHarness() {
    char tmpl[] = "/tmp/braid-fault-XXXXXX";
    dir_ = mkdtemp(tmpl) ? tmpl : "/tmp";
  }
  ~ProcessHarness() {
    KillAll();
    if (dir_ != "/tmp") {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  ProcessHarness(const ProcessHarness&) = delete;
  ProcessHarness& operator=(const ProcessHarness&) = delete;

  // Starts `argv` (argv[0] is the program path) with `env` added to the cleaned environment.
  // Returns the index of the child.
  size_t Start(const std::string& name, const std::vector<std::string>& argv,
               const std::map<std::string, std::string>& env) {
    ChildProcess child;
    child.name = name;
    const size_t index = children_.size();
    child.out_path = dir_ + "/" + std::to_string(index) + ".out";
    child.err_path = dir_ + "/" + std::to_string(index) + ".err";

    // Build argv/envp before fork: the child of a threaded process may only call
    // async-signal-safe functions (no allocation).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      std::string var = *e;
      if (var.rfind("BRAID_", 0) == 0 || var.rfind("PMI_", 0) == 0 ||
          var.rfind("OMPI_", 0) == 0 || var.rfind("NCCL_", 0) == 0)
        continue;
      env_strings.push_back(var);
    }
    for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& s : argv_copy) args.push_back(s.data());
    args.push_back(nullptr);
    const pid_t parent = getpid();

    start_ = children_.empty() ? Clock::now() : start_;
    pid_t pid = fork();
    if (pid == 0) {
      // Die with the test (e.g. ctest's timeout kills it), so no rank outlives it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int out = open(child.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(child.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0) _exit(126);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    child.pid = pid;
    children_.push_back(child);
    return index;
  }

  // Waits until child `i` exits or `timeout_s` seconds pass (from now). True if it exited.
  bool Wait(size_t i, double timeout_s) {
    const Clock::time_point deadline = Clock::now() + ToDuration(timeout_s);
    while (!Reap(i)) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Waits for all children but `except` (SIZE_MAX = none); true if they all exited in time.
  bool WaitAll(double timeout_s, size_t except = size_t(-1)) {
    const Clock::time_point deadline = Clock::now() + ToDuration(timeout_s);
    for (size_t i = 0; i < children_.size(); ++i) {
      if (i == except) continue;
      double left = std::chrono::duration<double>(deadline - Clock::now()).count();
      if (!Wait(i, left > 0 ? left : 0)) return false;
    }
    return true;
  }

  void Kill(size_t i) {
    ChildProcess& c = children_[i];
    if (c.pid > 0 && !c.exited) {
      kill(c.pid, SIGKILL);
      waitpid(c.pid, &c.wait_status, 0);
      c.exited = true;
      c.exit_after_s = SecondsSinceStart();
    }
  }

  void KillAll() {
    for (size_t i = 0; i < children_.size(); ++i) Kill(i);
  }

  const ChildProcess& child(size_t i) const { return children_[i]; }
  size_t size() const { return children_.size(); }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string Stdout(size_t i) const { return ReadFile(children_[i].out_path); }
  std::string Stderr(size_t i) const { return ReadFile(children_[i].err_path); }

  // Everything every child printed, with exit status and timing, for failure messages.
  std::string Report() const {
    std::ostringstream os;
    for (size_t i = 0; i < children_.size(); ++i) {
      const ChildProcess& c = children_[i];
      os << "---- " << c.name << " (pid " << c.pid << "): ";
      if (c.exited)
        os << "exit " << c.ExitCode() << " after " << c.exit_after_s << " s\n";
      else
        os << "still running\n";
      os << "[stdout]\n" << Stdout(i) << "[stderr]\n" << Stderr(i);
    }
    return os.str();
  }

 private:
  static Clock::duration ToDuration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
  double SecondsSinceStart() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }
  // Non-blocking reap; true once child `i` has exited.
  bool Reap(size_t i) {
    ChildProcess& c = children_[i];
    if (c.exited) return true;
    if (waitpid(c.pid, &c.wait_status, WNOHANG) == c.pid) {
      c.exited = true;
      c.exit_after_s = SecondsSinceStart();
    }
    return c.exited;
  }

  std::string dir_;
  std::vector<ChildProcess> children_;
  Clock::time_point start_ = Clock::now();
};

}  // namespace braid::testing
