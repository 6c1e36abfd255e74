// user provision: many users from one CSV or JSONL file, in one recorded ceremony. Passwords go
// from the file straight into Secrets and never reach a log, the transcript or argv; worker
// processes (--jobs) only compute sealed keys, the parent alone writes the keystore and the
// transcript.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "ceremonies/users/password_rules.h"
#include "ceremonies/workspace.h"
#include "core/secure/secret.h"

namespace hsm {

// One row of the file, validated; `line` is where its record starts (1-based).
struct ProvisionRow {
  std::size_t line = 0;
  std::string name, algorithm;
  Secret password;
  std::vector<std::string> groups;
};

// A row that cannot be used, with the reason (never any field but the name).
struct ProvisionRejected {
  std::size_t line = 0;
  std::string name;  // may be empty
  std::string message;
};

struct ProvisionInput {
  std::vector<ProvisionRow> rows;
  std::vector<ProvisionRejected> rejected;
};

// Reads FILE (csv or jsonl; "auto" picks by extension). Refuses (Error(general)) a file that
// is not a regular file owned by this user with no group/other permission bits; a bad header
// or an unknown format is Error(usage). Bad rows are returned in `rejected`, not thrown.
// A password that breaks a rule of ceremonies/users/password_rules.h rejects its row.
ProvisionInput read_provision_file(const std::filesystem::path& file, const std::string& format,
                                   const std::string& default_algorithm,
                                   std::size_t min_password_length = kDefaultMinPasswordLength);

// The parser behind it, on text already read (csv or jsonl; `source` names it in messages). May
// overwrite parts of `text` while it reads. Exposed for the fuzz target.
ProvisionInput parse_provision_text(Secret& text, const std::string& format,
                                    const std::string& default_algorithm, const std::string& source,
                                    std::size_t min_password_length = kDefaultMinPasswordLength);

// What happened to one row.
struct ProvisionResult {
  std::size_t line = 0;
  std::string name, status;  // status: "created", "skipped" (exists) or "failed"
  std::string algorithm, fingerprint, error;
};

// What became of one group named in the groups column: "created" (with `members`), "exists"
// (every user listing it is a member already), "failed" or "deferred" (rows failed), with
// `error` saying why and what to run.
struct ProvisionGroupResult {
  std::string name, status;
  std::vector<std::string> members;
  std::string fingerprint, error;
};

struct ProvisionSummary {
  std::size_t total = 0, created = 0, skipped = 0, failed = 0;
  std::vector<ProvisionGroupResult> groups;
  std::size_t groups_failed = 0;  // failed or deferred
  int jobs = 1;
  double seconds = 0;
  std::string ceremony;
  std::vector<std::size_t> failed_lines;
  // A signal stopped the batch (exit 130): the rows neither stored nor failed, and the signal.
  // Users created before it are kept; running the same command again does the rest.
  bool interrupted = false;
  std::size_t not_done = 0;
  std::string signal;
};

struct ProvisionOptions {
  std::filesystem::path from;
  std::string format = "auto";     // auto, csv, jsonl
  std::string algorithm = "p256";  // for rows without an algo column/value
  std::string kdf_profile = "interactive";
  std::string group_algorithm = "p256";  // for groups the groups column makes
  int jobs = 1;                    // worker processes (1: in this process)
  std::size_t min_password_length = kDefaultMinPasswordLength;
  std::function<void(const ProvisionResult&)> on_result;          // each row, as it ends
  std::function<void(std::size_t done, std::size_t total)> on_progress;
  // Error(usage) for an unknown format, algorithm, group algorithm, KDF profile, or jobs
  // outside 1..64.
  void validate() const;
};

// Creates the users, then the groups the groups column names: each group that does not exist
// is made with every user listing it, once all rows have their users (if a row failed, no
// group is made: the run that finishes the rows makes them, so no listed user is left out of a
// key they could then only join with a member's password). A group that exists is not changed;
// a listed user who is not its member is a failure naming the 'group add' command.
// SIGINT, SIGTERM or SIGHUP stops the batch at the next row or chunk: the workers are stopped,
// the users not yet stored are dropped, ceremony.aborted records the counts, and the summary
// comes back with `interrupted` set (the caller exits 130 after printing it).
ProvisionSummary user_provision(Workspace& ws, const ProvisionOptions& options);

}  // namespace hsm
