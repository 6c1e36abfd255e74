// A static copy of the log in the C2SP tlog-tiles layout: DIR/checkpoint, DIR/tile/<L>/<N>
// (and .p/<W> for partial tiles), DIR/tile/entries/<N> (uint16 length-prefixed entries).
// Written incrementally (full tiles and bundles are immutable: an existing one is kept) and
// atomically file by file, the checkpoint last, so a reader never sees a checkpoint whose
// tiles are missing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "core/tlog/merkle.h"

namespace hsm::tlog {

// "tile/0/x001/x234/067" or "tile/2/005.p/17" (width < 256 makes a partial tile).
std::string tile_path(unsigned level, std::uint64_t n, unsigned width = 256);
std::string entries_path(std::uint64_t n, unsigned width = 256);

struct PublishStats {
  std::uint64_t tiles_written = 0, bundles_written = 0, kept = 0;
};

// Publishes the first `size` entries of `tree` with `checkpoint_note` (whose size is `size`)
// into `dir`. `entry(seq)` returns entry seq's bytes (its transcript line, no newline).
PublishStats publish_tiles(HashSource& tree, std::uint64_t size,
                           const std::function<std::string(std::uint64_t)>& entry,
                           const std::string& checkpoint_note, const std::filesystem::path& dir);

}  // namespace hsm::tlog
