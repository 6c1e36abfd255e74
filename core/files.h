// Writing output files the way a ceremony tool must: whole or not at all (temp file, fsync,
// then link to the final name, which refuses to replace anything), with the given mode.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace hsm {

// The device and inode of a file this process created.
struct CreatedFile {
  std::filesystem::path path;
  dev_t dev = 0;
  ino_t ino = 0;
};

// Creates `path` with `data`. An existing path (a dangling symbolic link too) is
// Error(not_found) ("already exists", exit 7); nothing is left behind on failure. Returns the
// new file's identity, for remove_created_file.
CreatedFile write_new_file(const std::filesystem::path& path, ByteView data, unsigned mode);
// Removes `f.path` only if it is still the file that was created there (same device and
// inode, not a link): a clean-up never deletes what another process put at that path.
// Returns whether it removed it.
bool remove_created_file(const CreatedFile& f) noexcept;
// Replaces `path` with `data` whole (temp file, fsync, rename over it): for state that is
// rewritten, never for outputs. A symlink at a temp name is refused; nothing is left on failure.
void replace_file(const std::filesystem::path& path, std::string_view data, unsigned mode);

// Writes all `n` bytes to `fd`, again after EINTR and after a short write. False when the
// system refuses, with errno saying why (ENOSPC when it wrote nothing).
bool write_fully(int fd, const void* data, std::size_t n) noexcept;

// An exclusive flock on `path` (created 0600), held for the object's life.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// Reads a whole file; a missing one is Error(not_found) naming `what`.
Bytes read_file(const std::filesystem::path& path, const std::string& what);

}  // namespace hsm
