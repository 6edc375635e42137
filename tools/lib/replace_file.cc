#include "lib/replace_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace braid::tools {
namespace {

namespace fs = std::filesystem;

// The file whose content is replaced: a symbolic link's target (renaming over the link would
// replace the link itself and leave the file it points to stale).
fs::path Target(const std::string& path) {
  std::error_code ec;
  if (!fs::is_symlink(path, ec)) return path;
  fs::path target = fs::weakly_canonical(path, ec);
  return ec ? fs::path(path) : target;
}

// Creates an empty temporary file beside `target` and returns its descriptor, or -1 with errno
// set. Beside it, so that the rename stays within one file system (and is atomic).
int CreateTemp(const fs::path& target, std::string* temp) {
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

std::string WriteInPlace(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  bool ok = fd >= 0 && WriteAll(fd, text);
  int error = errno;
  if (fd >= 0 && close(fd) != 0 && ok) ok = false, error = errno;
  return ok ? "" : fmt::format("writing '{}' failed: {}", path, std::strerror(error));
}

}  // namespace

std::string WritableError(const std::string& path) {
  auto cannot = [&](const char* why) { return fmt::format("cannot open '{}' for writing: {}", path, why); };
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (fs::is_directory(status)) return cannot("it is a directory");
  // An existing file that its owner made read-only stays refused, as opening it would be.
  if (fs::exists(status) && access(path.c_str(), W_OK) != 0) return cannot(std::strerror(errno));
  if (IsSpecialFile(status)) return "";
  std::string temp;
  const int fd = CreateTemp(Target(path), &temp);
  if (fd < 0) return cannot(std::strerror(errno));
  close(fd);
  unlink(temp.c_str());
  return "";
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
