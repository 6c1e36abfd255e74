// The fleet's transcript in PostgreSQL (docs/design.md "PostgreSQL keystore", "The fleet"): the
// table transcript_entries of the keystore's database holds every entry of the one transcript
// that all nodes on the database sign, in the order the database accepted them; each node's
// DIR/transcript.jsonl is a replica written from it in seq order (Transcript does that). Also
// the fleet lock, held by a node for a whole ceremony. Never holds or logs a secret: entries
// are public facts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hsm::keystore {
class Database;
}

namespace hsm::transcript {

class FleetLog {
 public:
  // Connects (a connection of its own: an append commits on its own, whatever the keystore's
  // transaction does); Error(token) naming the server when it cannot.
  FleetLog(const std::string& url, std::string node);
  ~FleetLog();
  FleetLog(const FleetLog&) = delete;
  FleetLog& operator=(const FleetLog&) = delete;

  const std::string& node() const noexcept { return node_; }
  const std::string& server() const noexcept;

  // Creates transcript_entries if the database has none yet (after the keystore's migration).
  void ensure_table();

  // One append or catch-up: BEGIN and the transcript's transaction lock, held until commit()
  // or, rolled back, the destructor.
  class Txn {
   public:
    explicit Txn(FleetLog& log);
    ~Txn();
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    void commit();

   private:
    FleetLog& log_;
    bool open_ = true;
  };

  std::uint64_t size();                         // entries in the database (next seq)
  std::optional<std::string> line(std::uint64_t seq);
  // Up to `limit` lines from `seq` on, in seq order.
  std::vector<std::string> lines_from(std::uint64_t seq, std::uint64_t limit);
  void insert(std::uint64_t seq, std::string_view line, std::string_view node);
  // How many entries each node appended.
  std::map<std::string, std::uint64_t> entries_per_node();

 private:
  std::unique_ptr<keystore::Database> db_;
  std::string node_;
};

// The fleet lock: a session-level advisory lock on a connection of its own, so one ceremony at a
// time runs across the nodes of a database. Within one process it is shared, like DirLock (a
// ceremony such as clone opens two workspaces on one directory): the first holder takes it, the
// last one to let go releases it. Waits up to `wait` (calling `on_wait` once), then
// Error(general).
class FleetLock {
 public:
  static std::shared_ptr<FleetLock> hold(const std::string& url, std::chrono::milliseconds wait,
                                         const std::function<void()>& on_wait);
  ~FleetLock();  // closing the connection releases the lock
  FleetLock(const FleetLock&) = delete;
  FleetLock& operator=(const FleetLock&) = delete;

 private:
  explicit FleetLock(const std::string& url);
  std::unique_ptr<keystore::Database> db_;
};

// The name of this machine (gethostname), for a node that names none.
std::string host_name();

}  // namespace hsm::transcript
