// Writing output files the way a ceremony tool must: whole or not at all (temp file, fsync,
// then link to the final name, which refuses to replace anything), with the given mode.
#pragma once

#include <filesystem>
#include <string>

#include "core/bytes.h"

namespace hsm {

// Creates `path` with `data`. An existing path is Error(not_found) ("already exists", exit 7);
// nothing is left behind on failure.
void write_new_file(const std::filesystem::path& path, ByteView data, unsigned mode);
// Reads a whole file; a missing one is Error(not_found) naming `what`.
Bytes read_file(const std::filesystem::path& path, const std::string& what);

}  // namespace hsm
