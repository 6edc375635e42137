// What braid-perf's subcommands that run other programs (calibrate's mpiexec jobs, plot's
// gnuplot) do when SIGINT, SIGTERM or SIGHUP arrives while a ScratchDir exists: pass the signal to
// the running child, so the job ends too (unless the terminal sent it to the job as well; a
// second signal sends SIGTERM, a third SIGKILL); remove the scratch directory; then die of the same
// signal, so the shell sees an interrupted command (exit status 128 + N). An interrupted run
// leaves neither temporary files nor an orphaned job behind.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace braid::perf {

// A private directory under $TMPDIR (else /tmp) for a command's intermediate files, named
// `prefix`-PID-XXXXXX. Removed when destroyed, and by a termination signal while it exists (its
// files only: it must stay flat). While one exists the termination signals are handled as above;
// a signal the process ignored (nohup) stays ignored. One at a time. SIGKILL cannot be handled,
// so creating one first removes this user's `prefix` directories whose process has exited.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix);  // throws std::runtime_error saying why
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
  struct sigaction previous_[3];
};

// Starting a child so that a termination signal reaches it. Construct it before creating the
// child: it holds the termination signals back, so none can arrive between the child's creation
// and Started(), which would leave the child running unseen. The child must set its signal mask
// back to child_mask() (posix_spawnattr_setsigmask, or sigprocmask after fork).
class ChildWatch {
 public:
  ChildWatch();
  ~ChildWatch();  // lets the signals through again if Started() was never called
  ChildWatch(const ChildWatch&) = delete;
  ChildWatch& operator=(const ChildWatch&) = delete;

  const sigset_t& child_mask() const { return original_mask_; }
  // Records the child (pid < 0: none was created) and lets the signals through; one that came
  // meanwhile is passed on now. `leads_group`: the child leads a process group of its own, and
  // signals are passed to the whole group (what it started itself included).
  void Started(pid_t pid, bool leads_group = false);
  // Waits for the child (retrying interrupted waits) and returns its waitpid status. If a
  // termination signal arrived while it ran, the process ends here, as described above.
  int Wait();

 private:
  sigset_t original_mask_;
  pid_t pid_ = -1;
  bool blocked_ = true;
};

}  // namespace braid::perf
