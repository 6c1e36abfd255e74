// An output file written in pieces (a streamed encryption or decryption) that appears whole or
// not at all: the pieces go to a temp file beside it, opened O_EXCL, and commit() fsyncs it and
// links it to the final name, which refuses to replace anything. Destroyed uncommitted, the
// temp file is removed: a refused or failed command leaves nothing behind.
#pragma once

#include <filesystem>

#include "core/bytes.h"
#include "core/files.h"

namespace hsm {

class OutputFile {
 public:
  // Error(not_found) ("already exists", exit 7) when `path` exists; Error(general) when the
  // temp file cannot be made.
  OutputFile(std::filesystem::path path, unsigned mode);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(ByteView data);
  // Makes the file appear under its name; Error(not_found) if something appeared there since.
  CreatedFile commit();

 private:
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
};

// Error(not_found) ("already exists", exit 7) when `path` exists (a dangling link too).
void refuse_existing_output(const std::filesystem::path& path);

}  // namespace hsm
