// user provision as one ceremony: read and check the file, skip users who exist, seal the rest
// (in this process or in forked workers), and store and record them in chunks: each chunk is
// one user.provisioned event naming its users (line, name, algorithm, fingerprint) and its
// failures, and a few chunks are one keystore transaction, so neither an fdatasync nor a token
// signature is paid per user, nor the keystore's pages written again for every chunk.
#include "ceremonies/users/user_provision.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "ceremonies/groups/group_keys.h"
#include "ceremonies/groups/group_membership.h"
#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "ceremonies/users/user_provision_workers.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/secure/secret_source.h"
#include "core/test_hooks.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

constexpr std::size_t kChunkUsers = 512;
// A chunk's user.provisioned entry stays well under the 64 KiB a log entry may hold
// (tlog::kMaxEntryBytes): the users' part is cut at 56 KiB.
constexpr std::size_t kChunkBytes = 56 * 1024;
// Chunks recorded in one keystore transaction, and the longest that rows wait to be stored
// and reported. A commit writes every page the transaction changed to the WAL: the state's
// digests and buckets (keystore integrity) are spread over the whole table by design, so a
// commit per chunk wrote most of their pages again for every ~220 users.
constexpr std::size_t kChunksPerCommit = 8;
constexpr auto kCommitTime = std::chrono::seconds(1);

// The outcomes waiting to be stored and recorded together.
class Chunk {
 public:
  Chunk(Recorder& rec, keystore::Keystore& ks, const ProvisionOptions& o, ProvisionSummary& sum,
        const std::vector<ProvisionRow>& rows)
      : rec_(rec), ks_(ks), o_(o), sum_(sum), rows_(rows) {}
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;
  ~Chunk() { rec_.transcript().defer_sync(false); }  // an open transaction rolls back

  void add(SealOutcome&& oc) {
    const ProvisionRow& row = rows_.at(oc.index);
    ProvisionResult r{row.line, row.name, oc.ok ? "created" : "failed", row.algorithm, "", ""};
    if (oc.ok) {
      r.fingerprint = crypto::fingerprint(oc.user.public_key);
      users_.push_back(std::move(oc.user));
    } else {
      r.error = fmt::format("line {}: user '{}': {}", row.line, row.name, oc.error);
    }
    // What the row adds to the chunk's entry, a bound: names are plain ASCII (user names are
    // validated), an error's characters may each need an escape.
    bytes_ += 96 + r.name.size() + r.algorithm.size() + r.fingerprint.size() + 2 * r.error.size();
    // A created user is also a state row of the entry: "user/NAME":"<64 hex>" (data.state).
    if (oc.ok) bytes_ += 80 + r.name.size();
    results_.push_back(std::move(r));
    static const std::size_t max_users = test_knob("HSMCTL_TEST_CHUNK_USERS", kChunkUsers);
    static const std::size_t per_commit = test_knob("HSMCTL_TEST_CHUNKS_PER_COMMIT", kChunksPerCommit);
    static const auto max_time = std::chrono::seconds(
        test_knob("HSMCTL_TEST_CHUNK_SECONDS", static_cast<std::size_t>(kCommitTime.count())));
    const bool late = std::chrono::steady_clock::now() - since_ >= max_time;
    if (users_.size() >= max_users || bytes_ >= kChunkBytes || late) record_chunk();
    if (recorded_ >= per_commit || late) commit();
  }

  // Records what waits and commits every chunk recorded.
  void flush() {
    record_chunk();
    commit();
  }

  // After an interrupt, which comes between rows: the chunks already recorded are committed
  // too, so that every user a user.provisioned entry names exists. Not after a failure inside
  // a chunk's own steps: its transaction then rolls back with the chunk.
  void commit_recorded() {
    if (!in_chunk_) commit();
  }

  // Rows stored (created) or recorded as failed so far.
  std::size_t settled() const { return settled_; }

 private:
  // One user.provisioned entry for the rows that wait, their users inserted in the open
  // transaction (begun here if none is), the entry written without waiting for the disk.
  void record_chunk() {
    bytes_ = 0;
    if (results_.empty()) return;
    in_chunk_ = true;
    nlohmann::json created = nlohmann::json::array(), failed = nlohmann::json::array();
    for (const ProvisionResult& r : results_) {
      if (r.status == "created")
        created.push_back({{"line", r.line}, {"name", r.name}, {"algorithm", r.algorithm},
                           {"fingerprint", r.fingerprint}});
      else
        failed.push_back({{"line", r.line}, {"name", r.name}, {"error", r.error}});
    }
    const std::string now = transcript::utc_now_rfc3339();
    if (!tx_) {
      tx_.emplace(ks_);
      rec_.transcript().defer_sync(true);
    }
    for (keystore::UserRecord& u : users_) {
      u.created = now;
      u.rotated = now;
    }
    ks_.insert_users(users_);  // on PostgreSQL a few statements for the chunk, not per user
    rec_.record("user.provisioned", {{"users", std::move(created)}, {"failed", std::move(failed)},
                                     {"escrow", "mk-wrap"}, {"kdf_profile", o_.kdf_profile}});
    ++recorded_;
    for (ProvisionResult& r : results_) unsettled_.push_back(std::move(r));
    users_.clear();
    results_.clear();
    in_chunk_ = false;
  }

  // The transcript synced, then the keystore's commit of what it records; only then are the
  // rows reported.
  void commit() {
    since_ = std::chrono::steady_clock::now();
    if (!tx_) return;
    rec_.transcript().sync();  // recorded before the keystore commits it
    test_hook("user-provision.before-commit");
    tx_->commit();
    tx_.reset();
    rec_.transcript().defer_sync(false);
    recorded_ = 0;
    test_hook("user-provision.after-commit");
    settled_ += unsettled_.size();
    for (const ProvisionResult& r : unsettled_) {
      if (r.status == "created") ++sum_.created;
      else { ++sum_.failed; sum_.failed_lines.push_back(r.line); }
      if (o_.on_result) o_.on_result(r);
    }
    unsettled_.clear();
  }

  Recorder& rec_;
  keystore::Keystore& ks_;
  const ProvisionOptions& o_;
  ProvisionSummary& sum_;
  const std::vector<ProvisionRow>& rows_;
  std::vector<keystore::UserRecord> users_;
  std::vector<ProvisionResult> results_;    // the next chunk's rows
  std::vector<ProvisionResult> unsettled_;  // recorded, not yet committed
  std::optional<keystore::Transaction> tx_;
  std::size_t recorded_ = 0;  // chunks in the open transaction
  bool in_chunk_ = false;     // a chunk's insert or entry is under way
  std::size_t settled_ = 0;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
  std::size_t bytes_ = 0;
};

// The groups column, once every row is stored (see user_provision in the header).
void provision_groups(Recorder& rec, keystore::Keystore& ks, const p11::Session& s,
                      const MasterKeys& mk, const ProvisionOptions& o,
                      const std::vector<ProvisionRow>& rows, ProvisionSummary& sum) {
  std::vector<std::string> order;  // as first named in the file
  std::map<std::string, std::vector<std::string>> listed;
  for (const ProvisionRow& row : rows)
    for (const std::string& g : row.groups) {
      auto& users = listed[g];
      if (users.empty()) order.push_back(g);
      users.push_back(row.name);
    }
  for (const std::string& g : order) {
    ProvisionGroupResult r{g, "failed", {}, "", ""};
    if (sum.failed > 0) {
      r.status = "deferred";
      r.error = fmt::format("group '{}' was not made because {} row{} failed; fix them and run "
                            "the same command again", g, sum.failed, sum.failed == 1 ? "" : "s");
    } else if (ks.find_group(g)) {
      std::vector<std::string> missing;
      for (const std::string& u : listed[g])
        if (!ks.find_group_member(g, u)) missing.push_back(u);
      if (missing.empty()) {
        r.status = "exists";
      } else {
        r.error = fmt::format("group '{}' exists and '{}' {} not a member: adding a member needs "
                              "a member's password ('hsmctl group add {} {} --as MEMBER')", g,
                              fmt::join(missing, "', '"), missing.size() == 1 ? "is" : "are", g,
                              missing.front());
      }
    } else {
      try {
        std::vector<keystore::UserRecord> members;
        for (const std::string& u : listed[g]) members.push_back(require_member_candidate(ks, u));
        const GroupResult made = make_group(rec, ks, s, mk, g, o.group_algorithm, members);
        r.status = "created";
        r.members = made.members;
        r.fingerprint = made.fingerprint;
      } catch (const Error& e) {
        r.error = fmt::format("group '{}': {}", g, e.what());
      }
    }
    if (r.status == "failed" || r.status == "deferred") {
      ++sum.groups_failed;
      rec.record("user.provision.group.failed", {{"name", g}, {"status", r.status},
                                                  {"error", r.error}});
    }
    sum.groups.push_back(std::move(r));
  }
}

}  // namespace

void ProvisionOptions::validate() const {
  if (format != "auto" && format != "csv" && format != "jsonl")
    fail(Category::usage, fmt::format("unknown --format '{}': use csv or jsonl", format));
  user_algorithm(algorithm);
  hsm::group_algorithm(group_algorithm);
  kdf::parse_kdf_profile(kdf_profile);
  if (jobs < 1 || jobs > 64)
    fail(Category::usage, fmt::format("--jobs {} is out of range: use 1 to 64", jobs));
}

ProvisionSummary user_provision(Workspace& ws, const ProvisionOptions& o) {
  o.validate();
  const kdf::KdfProfile profile = kdf::parse_kdf_profile(o.kdf_profile);
  ProvisionInput in = read_provision_file(o.from, o.format, o.algorithm,
                                           o.min_password_length);
  keystore::Keystore& ks = ws.keystore();  // holds the workspace lock from here on

  ProvisionSummary sum;
  sum.total = in.rows.size() + in.rejected.size();
  const std::vector<std::string> names = ks.user_names();
  const std::set<std::string> existing(names.begin(), names.end());
  std::vector<std::size_t> todo;
  std::vector<ProvisionResult> early;  // rejected and skipped rows, reported before the work
  nlohmann::json rejected = nlohmann::json::array(), skipped = nlohmann::json::array();
  for (const ProvisionRejected& r : in.rejected) {
    early.push_back({r.line, r.name, "failed", "", "", r.message});
    rejected.push_back({{"line", r.line}, {"error", r.message}});
  }
  for (std::size_t i = 0; i < in.rows.size(); ++i) {
    const ProvisionRow& row = in.rows[i];
    if (existing.count(row.name) == 0) {
      todo.push_back(i);
      continue;
    }
    early.push_back({row.line, row.name, "skipped", row.algorithm, "", ""});
    skipped.push_back(row.name);
  }

  // Workers are forked now, before this process loads the PKCS#11 module, and wait for start().
  std::unique_ptr<ProvisionWorkers> workers;
  sum.jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(o.jobs),
                                                    std::max<std::size_t>(todo.size(), 1)));
  if (sum.jobs > 1) {
    Secret pin = read_secret(ws.options().pin_source, "user PIN of the token");
    workers = std::make_unique<ProvisionWorkers>(ws.options(), in.rows, todo, profile, sum.jobs,
                                                 pin);
    ws.use_pin(std::move(pin));
  }

  const nlohmann::json params{{"from", o.from.filename().string()}, {"rows", sum.total},
                              {"kdf_profile", o.kdf_profile}, {"jobs", sum.jobs}};
  try {
    run_ceremony(ws, "user.provision", params, [&](Recorder& rec) {
      sum.ceremony = rec.ceremony_id();
      const p11::Session& s = ws.login();
      const MasterKeys mk = require_master(s);
      if (!rejected.empty()) rec.record("user.provision.rejected", {{"rows", rejected}});
      if (!skipped.empty()) rec.record("user.provision.skipped", {{"users", skipped}});
      for (const ProvisionResult& r : early) {
        if (r.status == "skipped") ++sum.skipped;
        else { ++sum.failed; sum.failed_lines.push_back(r.line); }
        if (o.on_result) o.on_result(r);
      }

      const auto t0 = std::chrono::steady_clock::now();
      Chunk chunk(rec, ks, o, sum, in.rows);
      std::size_t done = 0;
      auto accept = [&](SealOutcome&& oc) {
        test_hook("user-provision.sealed");
        chunk.add(std::move(oc));
        if (o.on_progress) o.on_progress(++done, todo.size());
      };
      try {
        if (workers) {
          workers->start();
          workers->collect(accept);
        } else {
          const std::string label = ws.token().label;
          for (std::size_t i : todo) {
            check_interrupt();  // between rows: a row's Argon2 is the longest wait
            SealOutcome oc = seal_new_user(s, mk, in.rows[i], profile, label);
            oc.index = i;
            accept(std::move(oc));
          }
        }
        chunk.flush();
      } catch (const Error& e) {
        if (e.category() != Category::interrupted && interrupt_signal() == 0) throw;
        chunk.commit_recorded();
        workers.reset();  // stopped (SIGTERM) and reaped before the abort is recorded
        sum.interrupted = true;
        sum.signal = signal_name(interrupt_signal());
        sum.not_done = todo.size() - chunk.settled();
        std::sort(sum.failed_lines.begin(), sum.failed_lines.end());
        sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rec.progress("create users", {{"created", sum.created}, {"skipped", sum.skipped},
                                      {"failed", sum.failed}, {"not_done", sum.not_done},
                                      {"total", sum.total},
                                      {"rerun", "the same 'user provision' command: users that "
                                                "exist are skipped"}});
        rec.on_abort_say(fmt::format("{} user{} created and kept, {} skipped, {} failed, {} not "
                                     "done (no group was made); run the same command again to "
                                     "finish: users already created are skipped", sum.created,
                                     sum.created == 1 ? "" : "s", sum.skipped, sum.failed,
                                     sum.not_done));
        throw;
      }
      provision_groups(rec, ks, s, mk, o, in.rows, sum);
      std::sort(sum.failed_lines.begin(), sum.failed_lines.end());
      sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rec.record("user.provision.done", {{"created", sum.created}, {"skipped", sum.skipped},
                                         {"failed", sum.failed}, {"total", sum.total},
                                         {"groups_failed", sum.groups_failed}});
    });
  } catch (const Error&) {
    if (!sum.interrupted) throw;  // recorded as ceremony.aborted: the caller prints the summary
  }
  return sum;
}

}  // namespace hsm
