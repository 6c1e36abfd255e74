// What a fleet's node does with the fleet's transcript (docs/design.md "PostgreSQL keystore",
// "The fleet"): join it (a recorded ceremony on the new node), export it for auditors (the JSONL
// and, if asked, its tiles), and count the entries each node appended. Export works on any
// workspace: from the database on a fleet, from DIR/transcript.jsonl otherwise. Never writes
// over an existing file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "ceremonies/workspace.h"

namespace hsm {

struct JoinResult {
  std::string node;
  std::uint64_t seq = 0;  // the fleet.join entry
  std::uint64_t entries = 0;
};

// Records fleet.join on the fleet's transcript from this workspace: the replica is caught up and
// checked first (Recorder), the token must hold the fleet's master (exit 4 otherwise) and its
// escrowed transcript key. Error(usage) when the workspace has no PostgreSQL store.
JoinResult join_fleet(Workspace& ws);

struct ExportOptions {
  std::filesystem::path out;                  // the JSONL file, created (never over one)
  std::optional<std::filesystem::path> tiles;  // C2SP tlog-tiles, up to the last checkpoint
  void validate() const;  // Error(usage) for an empty --out; Error(not_found) when it exists
};

struct ExportResult {
  std::uint64_t entries = 0;
  std::string head;
  bool from_database = false;
  std::optional<std::uint64_t> tiles_size;  // entries the tiles cover
};

ExportResult export_transcript(Workspace& ws, const ExportOptions& options);

// Entries per node in the fleet's transcript (empty for an SQLite workspace).
std::map<std::string, std::uint64_t> fleet_nodes(Workspace& ws);

}  // namespace hsm
