// Tile and entry bundle files, written through a temporary name and renamed into place.
#include "core/tlog/tiles.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "core/tlog/tree_store.h"

namespace hsm::tlog {

namespace {

std::string index_path(std::uint64_t n) {
  std::string out = fmt::format("{:03}", n % 1000);
  for (n /= 1000; n > 0; n /= 1000) out = fmt::format("x{:03}/", n % 1000) + out;
  return out;
}

std::string suffix(unsigned width) { return width == 256 ? "" : fmt::format(".p/{}", width); }

void write_atomically(const std::filesystem::path& path, const std::string& data) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) fail(Category::general, fmt::format("cannot create '{}'", path.parent_path().string()),
               ec.message());
  replace_file(path, data, 0644);
}

}  // namespace

std::string tile_path(unsigned level, std::uint64_t n, unsigned width) {
  return fmt::format("tile/{}/{}{}", level, index_path(n), suffix(width));
}

std::string entries_path(std::uint64_t n, unsigned width) {
  return fmt::format("tile/entries/{}{}", index_path(n), suffix(width));
}

PublishStats publish_tiles(HashSource& tree, std::uint64_t size,
                           const std::function<std::string(std::uint64_t)>& entry,
                           const std::string& checkpoint_note, const std::filesystem::path& dir) {
  if (size > tree.size())
    fail(Category::general, "internal: publishing beyond the tree");
  PublishStats stats;
  auto put = [&](const std::string& rel, unsigned width, const std::function<std::string()>& make,
                 std::uint64_t& counter) {
    const auto path = dir / rel;
    if (width == 256 && std::filesystem::exists(path)) {  // immutable once full
      ++stats.kept;
      return;
    }
    write_atomically(path, make());
    ++counter;
  };
  for (unsigned level = 0; (size >> (kTileHeight * level)) > 0; ++level) {
    const std::uint64_t hashes = size >> (kTileHeight * level);
    for (std::uint64_t n = 0; n * kTileWidth < hashes; ++n) {
      const auto width = static_cast<unsigned>(std::min<std::uint64_t>(kTileWidth, hashes - n * kTileWidth));
      put(tile_path(level, n, width), width, [&] {
        std::vector<Hash> row(width);
        tree.read(kTileHeight * level, n * kTileWidth, row);
        return std::string(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(Hash));
      }, stats.tiles_written);
      if (level == 0)
        put(entries_path(n, width), width, [&] {
          std::string bundle;
          for (std::uint64_t i = n * kTileWidth; i < n * kTileWidth + width; ++i) {
            const std::string e = entry(i);
            if (e.size() > kMaxEntryBytes)
              fail(Category::general, fmt::format("entry {} is longer than a bundle can hold", i));
            bundle.push_back(static_cast<char>(e.size() >> 8));
            bundle.push_back(static_cast<char>(e.size() & 0xff));
            bundle += e;
          }
          return bundle;
        }, stats.bundles_written);
    }
  }
  write_atomically(dir / "checkpoint", checkpoint_note);
  return stats;
}

}  // namespace hsm::tlog
