#include "core/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace braid::input_file {
namespace {

const char* FileTypeName(std::filesystem::file_type type) {
  switch (type) {
    case std::filesystem::file_type::directory: return "a directory";
    case std::filesystem::file_type::fifo: return "a FIFO";
    case std::filesystem::file_type::character: return "a character device";
    case std::filesystem::file_type::block: return "a block device";
    case std::filesystem::file_type::socket: return "a socket";
    default: return "not a plain file";
  }
}

}  // namespace

Status TooLarge(const std::string& path, const Kind& kind) {
  return Status::InvalidArgument(
      fmt::format("{}: larger than the {} bytes {} may have", path, kind.max_bytes, kind.limit_holder));
}

Status Read(const std::string& path, const Kind& kind, std::string* text) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (error) return Status::InvalidArgument(fmt::format("{}: cannot open: {}", path, error.message()));
  const bool pipe = std::filesystem::is_fifo(status);
  if (!pipe && !std::filesystem::is_regular_file(status)) {
    return Status::InvalidArgument(fmt::format("{}: not a regular file ({}; {} is expected)", path,
                                               FileTypeName(status.type()), kind.expected));
  }
  // A pipe is opened without blocking, so that a FIFO nobody writes to reads as empty instead of
  // waiting for ever; then reads block as usual until the writer closes it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (pipe ? O_NONBLOCK : 0));
  if (fd < 0) return Status::InvalidArgument(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  if (pipe) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  // A regular file says its size: one too large is refused before any of it is read (a 3 GB
  // file was read up to the limit first, 256 MiB and a second of work, to be refused; QA).
  if (struct stat opened{}; !pipe && ::fstat(fd, &opened) == 0 && uint64_t(opened.st_size) > kind.max_bytes) {
    ::close(fd);
    return TooLarge(path, kind);
  }
  text->clear();
  char chunk[1 << 16];
  ssize_t got = 0;
  while (text->size() <= kind.max_bytes && (got = ::read(fd, chunk, sizeof chunk)) != 0) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int why = errno;
      ::close(fd);
      return Status::InvalidArgument(fmt::format("{}: cannot read: {}", path, std::strerror(why)));
    }
    text->append(chunk, size_t(got));
  }
  ::close(fd);
  if (text->size() > kind.max_bytes) return TooLarge(path, kind);
  if (pipe && text->empty()) return Status::InvalidArgument(fmt::format("{}: a pipe that nothing was written to", path));
  return Status::Ok();
}

}  // namespace braid::input_file
