#include "lib/replace_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace braid::tools {
namespace {

namespace fs = std::filesystem;

// The file whose content is replaced: a symbolic link's target (renaming over the link would
// replace the link itself and leave the file it points to stale), followed by hand, since
// weakly_canonical stops at a dangling link where writing through it creates its target.
// Empty (errno ELOOP) for a chain of links that does not end within the kernel's 40 hops.
fs::path Target(const std::string& path) {
  std::error_code ec;
  fs::path target = path;
  for (int hop = 0; fs::is_symlink(fs::symlink_status(target, ec)); ++hop) {
    if (hop == 40) {
      errno = ELOOP;
      return {};
    }
    const fs::path link = fs::read_symlink(target, ec);
    if (ec) return path;
    target = link.is_absolute() ? link : target.parent_path() / link;
  }
  return target;
}

// Creates an empty temporary file beside `target` and returns its descriptor, or -1 with errno
// set. Beside it, so that the rename stays within one file system (and is atomic).
int CreateTemp(const fs::path& target, std::string* temp) {
  if (target.empty()) return -1;  // a loop of links (Target set errno)
  if (target.filename().empty()) {  // "dir/": no file name to write
    errno = EISDIR;
    return -1;
  }
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  *temp = (dir / fmt::format(".{}.XXXXXX", target.filename().string())).string();
  return mkstemp(temp->data());
}

// The mode a new file gets: 0666 less the umask (which can only be read by setting it).
mode_t NewFileMode() {
  const mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

bool WriteAll(int fd, const std::string& text) {
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

// A device or a FIFO (/dev/stdout, /dev/null) cannot be renamed over: it is written in place.
bool IsSpecialFile(const fs::file_status& status) {
  return fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status);
}

// Opens a device or FIFO for writing. A FIFO is opened without blocking: with no reader, open
// would wait for one for ever (ENXIO instead), then writes block as usual.
int OpenInPlace(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string WriteInPlace(const std::string& path, const std::string& text) {
  const int fd = OpenInPlace(path);
  bool ok = fd >= 0 && WriteAll(fd, text);
  int error = errno;
  if (fd >= 0 && close(fd) != 0 && ok) ok = false, error = errno;
  if (ok) return "";
  // ENXIO: a FIFO without a reader, or a socket (/dev/stdout of a service), which cannot be opened.
  struct stat st {};
  const bool fifo = stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
  const std::string why = error == ENXIO && fifo ? "it is a FIFO that no process has open for reading"
                          : error == ENXIO        ? std::string(std::strerror(error)) + " (a socket? write to - instead)"
                                                  : std::strerror(error);
  return fmt::format("writing '{}' failed: {}", path, why);
}

}  // namespace

bool SameFile(const std::string& a, const std::string& b) {
  const auto identity = [](const std::string& path, struct stat* st) {
    return path == "-" ? fstat(STDOUT_FILENO, st) == 0 : stat(path.c_str(), st) == 0;
  };
  struct stat sa {}, sb {};
  if (identity(a, &sa) && identity(b, &sb)) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (a == "-" || b == "-") return false;
  // Not both there yet: the same once "." / ".." and symlinks (dangling ones too) are resolved.
  // A loop of links leads to no file (WritableError names it), so it is the same as nothing.
  const fs::path target_a = Target(a), target_b = Target(b);
  if (target_a.empty() || target_b.empty()) return false;
  std::error_code ec_a, ec_b;
  const fs::path resolved_a = fs::weakly_canonical(fs::absolute(target_a, ec_a), ec_a);
  const fs::path resolved_b = fs::weakly_canonical(fs::absolute(target_b, ec_b), ec_b);
  return !ec_a && !ec_b && resolved_a == resolved_b;
}

std::string WritableError(const std::string& path) {
  auto cannot = [&](const char* why) { return fmt::format("cannot open '{}' for writing: {}", path, why); };
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (fs::is_directory(status)) return cannot("it is a directory");
  // An existing file that its owner made read-only stays refused, as opening it would be.
  if (fs::exists(status) && access(path.c_str(), W_OK) != 0) return cannot(std::strerror(errno));
  // Not opened to probe it: closing a FIFO would end its reader's input (a reader that is not
  // there yet when the output is written is reported then: WriteInPlace).
  if (IsSpecialFile(status)) return "";
  std::string temp;
  const int fd = CreateTemp(Target(path), &temp);
  if (fd < 0) return cannot(std::strerror(errno));
  close(fd);
  unlink(temp.c_str());
  return "";
}

std::string WriteStdout(const std::string& text, const std::string& what) {
  const bool written = std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
  if (std::fflush(stdout) == 0 && written && !std::ferror(stdout)) return "";
  return fmt::format("writing {}{}to stdout failed: {}", what, what.empty() ? "" : " ", std::strerror(errno));
}

std::string WriteOutput(const std::string& path, const std::string& text) {
  return path == "-" ? WriteStdout(text) : ReplaceFile(path, text);
}

std::string ReplaceFile(const std::string& path, const std::string& text) {
  return ReplaceFiles({{path, text}});
}

std::string ReplaceFiles(const std::vector<std::pair<std::string, std::string>>& path_and_text) {
  struct Staged {
    std::string path, temp;
    fs::path target;
  };
  std::vector<Staged> staged;
  auto discard = [&staged] {
    for (const Staged& f : staged) unlink(f.temp.c_str());
  };
  std::vector<const std::pair<std::string, std::string>*> in_place;
  for (const auto& file : path_and_text) {
    const auto& [path, text] = file;
    std::error_code ec;
    if (IsSpecialFile(fs::status(path, ec))) {
      in_place.push_back(&file);
      continue;
    }
    Staged f{path, "", Target(path)};
    const int fd = CreateTemp(f.target, &f.temp);
    if (fd < 0) {
      const int error = errno;
      discard();
      return fmt::format("writing '{}' failed: {}", path, std::strerror(error));
    }
    staged.push_back(f);
    struct stat old {};
    const mode_t mode = stat(f.target.c_str(), &old) == 0 ? old.st_mode & 07777 : NewFileMode();
    // Flushed to the disk before the rename, so that a crash after it cannot leave an empty file.
    bool ok = fchmod(fd, mode) == 0 && WriteAll(fd, text) && fsync(fd) == 0;
    int error = errno;
    if (close(fd) != 0 && ok) ok = false, error = errno;
    if (!ok) {
      discard();
      return fmt::format("writing '{}' failed: {}", path, std::strerror(error));
    }
  }
  for (const auto* file : in_place) {
    if (std::string error = WriteInPlace(file->first, file->second); !error.empty()) {
      discard();
      return error;
    }
  }
  for (size_t i = 0; i < staged.size(); ++i) {
    if (rename(staged[i].temp.c_str(), staged[i].target.c_str()) != 0) {
      const int error = errno;
      for (size_t j = i; j < staged.size(); ++j) unlink(staged[j].temp.c_str());
      return fmt::format("writing '{}' failed: {}", staged[i].path, std::strerror(error));
    }
  }
  return "";
}

}  // namespace braid::tools
