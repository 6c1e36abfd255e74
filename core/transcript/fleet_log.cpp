// The fleet's transcript table and the fleet lock, over a libpq connection of their own.
#include "core/transcript/fleet_log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/keystore/schema.h"
#include "core/keystore/sqlite.h"

namespace hsm::transcript {

namespace {

// Advisory lock keys beside the keystore's transaction lock (1213418827, postgres.cpp), each
// with hashtext(current_schema()): the transcript's append lock and the fleet's ceremony lock.
constexpr const char* kAppendLock =
    "SELECT pg_advisory_xact_lock(1213418828, hashtext(current_schema()))";
constexpr const char* kFleetTryLock =
    "SELECT pg_try_advisory_lock(1213418829, hashtext(current_schema())) AS taken";

}  // namespace

std::string host_name() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

FleetLog::FleetLog(const std::string& url, std::string node)
    : db_(std::make_unique<keystore::Database>(keystore::PostgresTarget{url})),
      node_(std::move(node)) {}

FleetLog::~FleetLog() = default;

const std::string& FleetLog::server() const noexcept { return db_->path(); }

namespace {
std::mutex g_fleet_locks_mutex;
std::map<std::string, std::weak_ptr<FleetLock>> g_fleet_locks;
}  // namespace

FleetLock::FleetLock(const std::string& url)
    : db_(std::make_unique<keystore::Database>(keystore::PostgresTarget{url})) {}

FleetLock::~FleetLock() = default;

std::shared_ptr<FleetLock> FleetLock::hold(const std::string& url, std::chrono::milliseconds wait,
                                           const std::function<void()>& on_wait) {
  std::lock_guard guard(g_fleet_locks_mutex);
  if (auto held = g_fleet_locks[url].lock()) return held;
  std::shared_ptr<FleetLock> lock(new FleetLock(url));
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (bool told = false;; told = true) {
    keystore::Statement st(*lock->db_, kFleetTryLock);
    if (st.step() && st.integer("taken") != 0) break;
    if (std::chrono::steady_clock::now() >= deadline)
      fail(Category::general,
           fmt::format("another node of the fleet on {} has held the fleet lock for more than {} "
                       "s (one ceremony at a time across the fleet); retry when it has finished",
                       lock->db_->path(),
                       std::chrono::duration_cast<std::chrono::seconds>(wait).count()));
    if (!told && on_wait) on_wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  g_fleet_locks[url] = lock;
  return lock;
}

void FleetLog::ensure_table() {
  Txn txn(*this);  // under the append lock: two nodes never create it at once
  db_->exec(keystore::fleet_transcript_ddl());
  txn.commit();
}

FleetLog::Txn::Txn(FleetLog& log) : log_(log) {
  log_.db_->exec(std::string("BEGIN; ") + kAppendLock);
}

FleetLog::Txn::~Txn() {
  if (!open_) return;
  try {
    log_.db_->exec("ROLLBACK");
  } catch (...) {
  }
}

void FleetLog::Txn::commit() {
  log_.db_->exec("COMMIT");
  open_ = false;
}

std::uint64_t FleetLog::size() {
  keystore::Statement st(*db_, "SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM transcript_entries");
  return st.step() ? static_cast<std::uint64_t>(st.integer("n")) : 0;
}

std::optional<std::string> FleetLog::line(std::uint64_t seq) {
  keystore::Statement st(*db_, "SELECT line FROM transcript_entries WHERE seq = :seq");
  st.bind(":seq", seq);
  if (!st.step()) return std::nullopt;
  return st.text("line");
}

std::vector<std::string> FleetLog::lines_from(std::uint64_t seq, std::uint64_t limit) {
  keystore::Statement st(*db_, "SELECT seq, line FROM transcript_entries WHERE seq >= :seq "
                               "ORDER BY seq LIMIT :limit");
  st.bind(":seq", seq).bind(":limit", limit);
  std::vector<std::string> out;
  while (st.step()) {
    if (static_cast<std::uint64_t>(st.integer("seq")) != seq + out.size())
      fail(Category::integrity,
           fmt::format("the fleet's transcript on {} has no entry {} (a gap in the database's "
                       "sequence); run 'hsmctl doctor'", server(), seq + out.size()));
    out.push_back(st.text("line"));
  }
  return out;
}

void FleetLog::insert(std::uint64_t seq, std::string_view line, std::string_view node) {
  keystore::Statement st(*db_, "INSERT INTO transcript_entries (seq, node, line) "
                               "VALUES (:seq, :node, :line)");
  st.bind(":seq", seq).bind(":node", node).bind(":line", line);
  st.insert(fmt::format("the fleet's transcript on {} already has an entry {}", server(), seq));
}

std::map<std::string, std::uint64_t> FleetLog::entries_per_node() {
  keystore::Statement st(*db_, "SELECT node, count(*) AS n FROM transcript_entries GROUP BY node "
                               "ORDER BY node");
  std::map<std::string, std::uint64_t> out;
  while (st.step()) out[st.text("node")] = static_cast<std::uint64_t>(st.integer("n"));
  return out;
}

}  // namespace hsm::transcript
