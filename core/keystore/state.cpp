// The keystore's state commitment: a digest of every security-relevant row ("state row") and a
// root over all of them, which the transcript records with each change (docs/design.md,
// "Keystore integrity"). State rows: user/NAME (the users row), group/NAME (the groups row and
// its members' layers), key/LABEL (the keys row and its revocations), master (the master row,
// every share set, share group and custodian). The derived tables state_digests, state_buckets and
// state_pages let one row be checked against a root by reading O(1) rows: 4096 buckets of rows
// (by SHA-256 of the row key), 64 pages of 64 buckets, and the root over the 64 pages.

#include <array>
#include <memory>
#include <algorithm>
#include <set>

#include <openssl/evp.h>

#include "core/error.h"
#include "core/keystore/keystore.h"
#include "core/keystore/postgres.h"

namespace hsm::keystore {

namespace {

constexpr std::uint32_t kBuckets = Keystore::kStateBuckets, kPerPage = 64, kPages = kBuckets / kPerPage;
using Digest = std::array<std::uint8_t, 32>;

// The bytes to hash are gathered and hashed once: a row's digest is about a hundred small
// fields, and OpenSSL 3 costs more per EVP_DigestUpdate call than per byte of them (measured:
// a third of a provisioning run's parent process went into such calls).
class Hasher {
 public:
  Hasher& add(const void* p, std::size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    return *this;
  }
  Hasher& add(std::string_view s) { return add(s.data(), s.size()); }
  Hasher& add(ByteView b) { return add(b.data(), b.size()); }
  Hasher& add_u64(std::uint64_t v) {
    std::uint8_t be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
    return add(be, 8);
  }
  // A length-prefixed field: no two different sequences of fields hash alike.
  Hasher& field(std::string_view s) { return add_u64(s.size()).add(s); }
  void reserve(std::size_t n) { buf_.reserve(n); }
  // SHA-256 through one digest context per thread, set up again for each hash: a provisioning
  // chunk hashes every new row's key (its bucket), the row, and the buckets and pages it
  // changed, and a context made and freed per hash (EVP_Digest) cost more than hashing the
  // short inputs themselves.
  Digest finish() {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                              EVP_MD_CTX_free);
    Digest d{};
    if (md == nullptr || ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), buf_.data(), buf_.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), d.data(), nullptr) != 1)
      fail(Category::general, "OpenSSL cannot compute SHA-256");
    return d;
  }

 private:
  std::string buf_;
};

bool g_state_upkeep = true;

const Digest& empty_bucket() {
  static const Digest d = Hasher().finish();  // SHA-256 of nothing: a bucket with no rows
  return d;
}

const Digest& empty_page() {
  static const Digest d = [] {
    Hasher h;
    for (std::uint32_t i = 0; i < kPerPage; ++i) h.add(empty_bucket().data(), 32);
    return h.finish();
  }();
  return d;
}

std::uint32_t bucket_of(std::string_view row_key) {
  const Digest d = Hasher().add(row_key).finish();
  return ((std::uint32_t{d[0]} << 8) | d[1]) % kBuckets;
}

Digest to_digest(ByteView b) {
  Digest d{};
  if (b.size() != d.size()) fail(Category::integrity, "a keystore state hash is not 32 bytes");
  std::copy(b.begin(), b.end(), d.begin());
  return d;
}

// The state root over the page hashes.
std::string root_of(const std::array<Digest, kPages>& pages) {
  Hasher h;
  h.field("hsmctl-keystore-state/v1");
  for (const Digest& d : pages) h.add(d.data(), d.size());
  const Digest root = h.finish();
  return to_hex(ByteView(root.data(), root.size()));
}

// A page's hash over its bucket hashes.
Digest page_of(const std::array<Digest, kPerPage>& buckets) {
  Hasher h;
  for (const Digest& d : buckets) h.add(d.data(), d.size());
  return h.finish();
}

// Every column of the row `st` is on, by name, type and value, into `h`.
void hash_row(Hasher& h, const Statement& st) {
  for (int i = 0; i < st.column_count(); ++i) {
    h.field(st.column_name_view(i));
    const ColumnType type = st.column_type(i);
    const std::uint8_t tag = static_cast<std::uint8_t>(type);
    h.add(&tag, 1);
    if (type == ColumnType::integer) h.add_u64(static_cast<std::uint64_t>(st.integer_at(i)));
    else if (type == ColumnType::blob) {
      const ByteView b = st.blob_view_at(i);
      h.add_u64(b.size()).add(b);
    } else if (type != ColumnType::null) {
      h.field(st.text_view_at(i));
    }
  }
}

// Every row `st` returns, into `h`: the table's name, each row, their count.
std::uint64_t hash_rows(Hasher& h, Statement& st, std::string_view table) {
  h.field(table);
  std::uint64_t rows = 0;
  while (st.step()) {
    ++rows;
    hash_row(h, st);
  }
  h.add_u64(rows);
  return rows;
}

// The start of every row digest: the domain and the row's key.
Hasher row_hasher(std::string_view row_key) {
  Hasher h;
  h.reserve(1024);  // a users row is a few hundred bytes: no regrowth while it is gathered
  h.field("hsmctl-keystore-row/v1").field(row_key);
  return h;
}

// The digests in one B-tree keyed by (bucket, row key), WITHOUT ROWID: a bucket's rows are one
// range of it, and a write is one B-tree insert (a row-key table with a bucket index beside it
// cost two per new row).
constexpr const char* kStateTables = R"sql(
CREATE TABLE IF NOT EXISTS state_digests (
  bucket  INTEGER NOT NULL,
  row_key TEXT NOT NULL,
  digest  BLOB NOT NULL,
  PRIMARY KEY (bucket, row_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_buckets (bucket INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_pages (page INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_root (id INTEGER PRIMARY KEY CHECK (id = 1), root TEXT NOT NULL);
)sql";

// The stored (row key, digest) pairs of one bucket, in row-key order.
constexpr const char* kBucketRows =
    "SELECT row_key, digest FROM state_digests WHERE bucket = :b ORDER BY row_key";

}  // namespace

// Called when the outermost transaction ends: the root this process expects moves only with
// what was committed.
void Keystore::on_commit() { committed_root_ = expected_root_; }

void Keystore::on_rollback() { rolled_back_ = true; }

Keystore::~Keystore() {
  db_.on_before_commit(nullptr);
  db_.on_savepoint_rollback(nullptr);
  db_.on_commit(nullptr);
  db_.on_rollback(nullptr);
}

void Keystore::set_state_upkeep(StateUpkeep upkeep) noexcept {
  g_state_upkeep = upkeep == StateUpkeep::on;
}

bool Keystore::state_upkeep_on() noexcept { return g_state_upkeep; }

void Keystore::open_state() {
  if (!g_state_upkeep) return;
  db_.on_commit([this] { on_commit(); });
  db_.on_rollback([this] { on_rollback(); });
  // The digests a transaction changed go into the bucket, page and root tables in its own
  // commit (one fsync for both; a separate flush later would be a second one).
  db_.on_before_commit([this] { flush_pending(); });
  db_.on_savepoint_rollback([this] {
    bucket_rows_.clear();
    for (auto& [key, digest] : changed_rows_) digest = row_digest(key);
  });
  // Earlier layouts (state_rows, a rowid table with two indexes; state_digests keyed by row key
  // with a bucket index) are derived data: dropped and rebuilt from the rows. One transaction for the check and the tables, so that processes
  // opening a new workspace at once never see each other's half-made layout.
  {
    Transaction tx(db_);
    bool old_layout = false;
    if (!db_.is_postgres()) {
      Statement st(db_, "SELECT count(*) AS stale FROM sqlite_master "
                        "WHERE name IN ('state_rows', 'state_digests_by_bucket')");
      old_layout = st.step() && st.integer("stale") > 0;
    }
    if (old_layout)
      db_.exec("DROP TABLE IF EXISTS state_rows; DROP TABLE IF EXISTS state_digests; "
               "DROP TABLE IF EXISTS state_root");
    db_.exec(db_.ddl(kStateTables));
    tx.commit();
  }
  if (stored_root().empty()) rebuild_state();
}

std::string Keystore::stored_root() {
  Statement st(db_, "SELECT root FROM state_root WHERE id = 1");
  return st.step() ? st.text("root") : std::string();
}

void Keystore::set_stored_root(const std::string& root) {
  Statement st(db_, "INSERT INTO state_root (id, root) VALUES (1, :r) "
                    "ON CONFLICT (id) DO UPDATE SET root = excluded.root");
  st.bind(":r", root).run();
}

std::string Keystore::row_digest(std::string_view row_key) {
  Hasher h = row_hasher(row_key);
  const auto slash = row_key.find('/');
  const std::string kind(row_key.substr(0, slash));
  const std::string name(slash == std::string_view::npos ? "" : row_key.substr(slash + 1));
  bool exists = false;
  // The first table is the row itself: it exists when that table has a row.
  auto one = [&](const std::string& table, const std::string& sql, bool first = false) {
    Statement st(db_, sql);
    if (sql.find(":k") != std::string::npos) st.bind(":k", name);
    const std::uint64_t n = hash_rows(h, st, table);
    if (first) exists = n > 0;
  };
  if (kind == "user") {
    one("users", "SELECT * FROM users WHERE name = :k", true);
  } else if (kind == "group") {
    one("groups", "SELECT * FROM groups WHERE name = :k", true);
    one("group_members", "SELECT m.* FROM group_members m JOIN groups g ON g.id = m.group_id "
                         "WHERE g.name = :k ORDER BY m.user_id");
    // Kept old key versions (encryption groups after a removal) only when there are any, so a
    // group without them hashes as it did before they existed.
    Statement kept(db_, "SELECT count(*) FROM group_old_keys k JOIN groups g ON g.id = k.group_id "
                        "WHERE g.name = :k");
    kept.bind(":k", name);
    if (kept.step() && kept.integer_at(0) > 0) {
      one("group_old_keys", "SELECT k.* FROM group_old_keys k JOIN groups g ON g.id = k.group_id "
                            "WHERE g.name = :k ORDER BY k.key_version");
      one("group_old_layers", "SELECT l.* FROM group_old_layers l JOIN groups g ON "
                              "g.id = l.group_id WHERE g.name = :k ORDER BY l.key_version, "
                              "l.user_id");
    }
    // The minimum decryption version (group retire) only once set: a group that never retired
    // hashes as before, and deleting the row to un-retire changes the digest.
    Statement floor(db_, "SELECT count(*) FROM group_min_versions v JOIN groups g ON "
                         "g.id = v.group_id WHERE g.name = :k");
    floor.bind(":k", name);
    if (floor.step() && floor.integer_at(0) > 0)
      one("group_min_versions", "SELECT v.* FROM group_min_versions v JOIN groups g ON "
                                "g.id = v.group_id WHERE g.name = :k");
  } else if (kind == "key") {
    one("keys", "SELECT * FROM keys WHERE label = :k", true);
    one("revocations", "SELECT r.* FROM revocations r JOIN keys k ON k.id = r.issuer "
                       "WHERE k.label = :k ORDER BY r.serial");
  } else if (kind == "master" && name.empty()) {
    one("master", "SELECT * FROM master", true);
    one("share_sets", "SELECT * FROM share_sets ORDER BY generation");
    one("share_groups", "SELECT * FROM share_groups ORDER BY generation, group_index");
    one("custodians", "SELECT * FROM custodians ORDER BY generation, group_index, member_index");
    // Only two-level share sets have group names: the digests of the others stay as they were.
    Statement named(db_, "SELECT EXISTS (SELECT 1 FROM share_group_names) AS any_name");
    if (named.step() && named.integer("any_name") != 0)
      one("share_group_names", "SELECT * FROM share_group_names ORDER BY generation, group_index");
  } else {
    fail(Category::general, "internal error: no keystore state row '" + std::string(row_key) + "'");
  }
  if (!exists) return {};
  const Digest d = h.finish();
  return to_hex(ByteView(d.data(), d.size()));
}

void Keystore::touch(const std::string& row_key) {
  if (!g_state_upkeep) return;
  record_digest(row_key, row_digest(row_key));
}

void Keystore::touch_inserted(const std::string& row_key, std::string_view table,
                              Statement& returned) {
  if (!g_state_upkeep) return;
  record_digest(row_key, inserted_digest(row_key, table, returned));
}

std::string Keystore::inserted_digest(const std::string& row_key, std::string_view table,
                                      Statement& returned) {
  // What row_digest computes for a state row that is this one row of `table`.
  Hasher h = row_hasher(row_key);
  h.field(table);
  hash_row(h, returned);
  h.add_u64(1);
  const Digest d = h.finish();
  return to_hex(ByteView(d.data(), d.size()));
}

void Keystore::record_digests(const std::vector<std::pair<std::string, std::string>>& digests) {
  if (digests.empty()) return;
  if (!db_.is_postgres()) {
    // One statement for every row, in (bucket, row key) order: each B-tree page they land on
    // is found and changed once in a row, not at random.
    std::vector<std::pair<std::uint32_t, std::size_t>> order;
    order.reserve(digests.size());
    for (std::size_t i = 0; i < digests.size(); ++i) order.emplace_back(bucket_of(digests[i].first), i);
    std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : digests[a.second].first < digests[b.second].first;
    });
    Statement st(db_, "INSERT INTO state_digests (bucket, row_key, digest) VALUES (:b, :k, :d) "
                      "ON CONFLICT (bucket, row_key) DO UPDATE SET digest = excluded.digest");
    bool first = true;
    for (const auto& [bucket, i] : order) {
      const auto& [key, digest] = digests[i];
      const Bytes bytes = from_hex(digest);
      if (!first) st.reset();
      first = false;
      st.bind(":b", bucket).bind(":k", key).bind(":d", bytes).run();
      remember_digest(bucket, key, digest, bytes);
    }
    return;
  }
  pg::ArrayLiteral buckets, keys, values;
  std::vector<Bytes> bytes;
  std::vector<std::uint32_t> at;
  bytes.reserve(digests.size());
  at.reserve(digests.size());
  for (const auto& [key, digest] : digests) {
    bytes.push_back(from_hex(digest));
    at.push_back(bucket_of(key));
    buckets.add(std::int64_t{at.back()});
    keys.add(key);
    values.add(ByteView(bytes.back()));
  }
  Statement st(db_, "INSERT INTO state_digests (bucket, row_key, digest) "
                    "SELECT * FROM unnest(:b::bigint[], :k::text[], :d::bytea[]) "
                    "ON CONFLICT (bucket, row_key) DO UPDATE SET digest = excluded.digest");
  st.bind(":b", buckets.str()).bind(":k", keys.str()).bind(":d", values.str()).run();
  for (std::size_t i = 0; i < digests.size(); ++i)
    remember_digest(at[i], digests[i].first, digests[i].second, bytes[i]);
}

void Keystore::load_buckets(const std::vector<std::string>& row_keys) {
  if (!g_state_upkeep) return;
  std::bitset<kBuckets> wanted;
  for (const std::string& key : row_keys) wanted.set(bucket_of(key));
  load_buckets(wanted);
}

void Keystore::load_buckets(const std::bitset<kStateBuckets>& buckets) {
  if (bucket_rows_.empty()) bucket_rows_.resize(kBuckets);
  std::vector<std::uint32_t> wanted;
  for (std::uint32_t b = 0; b < kBuckets; ++b)
    if (buckets.test(b) && !bucket_rows_[b]) wanted.push_back(b);
  if (wanted.empty()) return;
  if (!db_.is_postgres()) {  // one statement, run once per bucket (no round trips to save)
    Statement st(db_, kBucketRows);
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      if (i > 0) st.reset();
      BucketRows& rows = bucket_rows_[wanted[i]].emplace();
      st.bind(":b", wanted[i]);
      while (st.step()) rows.emplace_back(st.text_at(0), st.blob_at(1));
    }
    return;
  }
  pg::ArrayLiteral list;
  for (const std::uint32_t b : wanted) list.add(std::int64_t{b});
  Statement st(db_, "SELECT bucket, row_key, digest FROM state_digests "
                    "WHERE bucket = ANY (:b::bigint[]) ORDER BY bucket, row_key");
  st.bind(":b", list.str());
  for (const std::uint32_t b : wanted) bucket_rows_[b].emplace();
  while (st.step())
    bucket_rows_[static_cast<std::uint32_t>(st.integer("bucket"))]->emplace_back(
        st.text("row_key"), st.blob("digest"));
}

void Keystore::store_hashes(bool pages,
                            const std::vector<std::pair<std::uint32_t, Digest>>& hashes) {
  if (hashes.empty()) return;
  if (!db_.is_postgres()) {
    Statement up(db_, pages ? "INSERT INTO state_pages (page, hash) VALUES (:p, :h) "
                              "ON CONFLICT (page) DO UPDATE SET hash = excluded.hash"
                            : "INSERT INTO state_buckets (bucket, hash) VALUES (:p, :h) "
                              "ON CONFLICT (bucket) DO UPDATE SET hash = excluded.hash");
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      if (i > 0) up.reset();
      const auto& [at, d] = hashes[i];
      up.bind(":p", at).bind(":h", ByteView(d.data(), d.size())).run();
    }
    return;
  }
  pg::ArrayLiteral at, hash;
  for (const auto& [n, d] : hashes) {
    at.add(std::int64_t{n});
    hash.add(ByteView(d.data(), d.size()));
  }
  Statement up(db_, pages ? "INSERT INTO state_pages (page, hash) "
                            "SELECT * FROM unnest(:p::bigint[], :h::bytea[]) "
                            "ON CONFLICT (page) DO UPDATE SET hash = excluded.hash"
                          : "INSERT INTO state_buckets (bucket, hash) "
                            "SELECT * FROM unnest(:p::bigint[], :h::bytea[]) "
                            "ON CONFLICT (bucket) DO UPDATE SET hash = excluded.hash");
  up.bind(":p", at.str()).bind(":h", hash.str()).run();
}

void Keystore::record_digest(const std::string& row_key, const std::string& digest) {
  const std::uint32_t bucket = bucket_of(row_key);
  const Bytes digest_bytes = digest.empty() ? Bytes() : from_hex(digest);
  if (digest.empty()) {
    Statement st(db_, "DELETE FROM state_digests WHERE bucket = :b AND row_key = :k");
    st.bind(":b", bucket).bind(":k", row_key).run();
  } else {
    Statement st(db_, "INSERT INTO state_digests (bucket, row_key, digest) VALUES (:b, :k, :d) "
                      "ON CONFLICT (bucket, row_key) DO UPDATE SET digest = excluded.digest");
    st.bind(":b", bucket).bind(":k", row_key).bind(":d", digest_bytes).run();
  }
  remember_digest(bucket, row_key, digest, digest_bytes);
}

void Keystore::remember_digest(std::uint32_t bucket, const std::string& row_key,
                               const std::string& digest, const Bytes& digest_bytes) {
  if (!bucket_rows_.empty() && bucket_rows_[bucket]) {
    auto& rows = *bucket_rows_[bucket];
    const auto at = std::lower_bound(rows.begin(), rows.end(), row_key,
                                     [](const auto& r, const std::string& k) { return r.first < k; });
    const bool present = at != rows.end() && at->first == row_key;
    if (digest.empty()) {
      if (present) rows.erase(at);
    } else if (present) {
      at->second = digest_bytes;
    } else {
      rows.emplace(at, row_key, digest_bytes);
    }
  }
  dirty_buckets_.set(bucket);
  changed_rows_[row_key] = digest;
  own_rows_.insert(row_key);
}

namespace {

// The hash of bucket `b` from (row key, digest) pairs in row-key order.
Digest bucket_hash(const std::vector<std::pair<std::string, Bytes>>& rows) {
  if (rows.empty()) return empty_bucket();
  Hasher h;
  for (const auto& [key, digest] : rows) h.field(key).add(digest);
  return h.finish();
}

}  // namespace

std::string Keystore::flush_dirty() {
  // Inside a caller's transaction (the usual case: just before its commit) no savepoint of its
  // own: a failure here fails that whole transaction.
  std::optional<Transaction> tx;
  if (!db_.in_transaction()) tx.emplace(db_);
  load_buckets(dirty_buckets_);  // PostgreSQL: one read, not one per bucket (rebuild_state)
  std::set<std::uint32_t> pages;
  std::vector<std::pair<std::uint32_t, Digest>> hashes;
  for (std::uint32_t b = 0; b < kBuckets; ++b) {
    if (!dirty_buckets_.test(b)) continue;
    const Digest d = bucket_hash(stored_bucket_rows(b));
    hashes.emplace_back(b, d);
    pages.insert(b / kPerPage);
    // The checked copy of this page's bucket hashes follows what is stored.
    if (auto c = certified_buckets_.find(b / kPerPage); c != certified_buckets_.end())
      c->second[b % kPerPage] = d;
  }
  store_hashes(/*pages=*/false, hashes);  // before page_hash reads them back
  hashes.clear();
  for (const std::uint32_t p : pages) {
    Digest d{};
    if (auto c = certified_buckets_.find(p); c != certified_buckets_.end()) {
      d = page_of(c->second);
    } else {
      d = page_hash(p, std::nullopt);
    }
    hashes.emplace_back(p, d);
    if (certified_pages_) (*certified_pages_)[p] = d;
  }
  store_hashes(/*pages=*/true, hashes);
  std::string root;
  if (certified_pages_) {
    root = root_of(*certified_pages_);
  } else {
    root = root_over_pages(std::nullopt);
  }
  set_stored_root(root);
  if (tx) tx->commit();
  dirty_buckets_.reset();
  return root;
}

std::string Keystore::state_root() {
  if (!g_state_upkeep) return {};
  if (rolled_back_) {  // a transaction with this connection's changes was undone
    rolled_back_ = false;
    own_rows_.clear();
    bucket_rows_.clear();
    expected_root_ = committed_root_;
    certified_pages_.reset();
    certified_buckets_.clear();
    for (auto& [key, digest] : changed_rows_) digest = row_digest(key);
  }
  flush_pending();
  if (expected_root_) return *expected_root_;
  return stored_root();
}

void Keystore::flush_pending() {
  if (dirty_buckets_.none()) return;
  const std::string root = flush_dirty();
  if (expected_root_) expected_root_ = root;  // what this process made on top of it
}

std::array<Digest, kPerPage> Keystore::stored_buckets(std::uint32_t page) {
  std::array<Digest, kPerPage> buckets;
  buckets.fill(empty_bucket());
  Statement st(db_, "SELECT bucket, hash FROM state_buckets WHERE bucket BETWEEN :lo AND :hi");
  st.bind(":lo", page * kPerPage).bind(":hi", page * kPerPage + kPerPage - 1);
  while (st.step())
    buckets[static_cast<std::uint32_t>(st.integer("bucket")) % kPerPage] = to_digest(st.blob("hash"));
  return buckets;
}

std::array<std::uint8_t, 32> Keystore::page_hash(
    std::uint32_t page, const std::optional<std::pair<std::uint32_t, Digest>>& replace) {
  std::array<Digest, kPerPage> buckets = stored_buckets(page);
  if (replace) buckets[replace->first % kPerPage] = replace->second;
  return page_of(buckets);
}

std::array<Digest, kPages> Keystore::stored_pages() {
  std::array<Digest, kPages> pages;
  pages.fill(empty_page());
  Statement st(db_, "SELECT page, hash FROM state_pages");
  while (st.step())
    if (const auto p = static_cast<std::uint32_t>(st.integer("page")); p < kPages)
      pages[p] = to_digest(st.blob("hash"));
  return pages;
}

std::string Keystore::root_over_pages(
    const std::optional<std::pair<std::uint32_t, Digest>>& replace) {
  std::array<Digest, kPages> pages = stored_pages();
  if (replace) pages[replace->first] = replace->second;
  return root_of(pages);
}

std::map<std::string, std::string> Keystore::take_changed_rows() {
  if (rolled_back_) state_root();  // brings the digests up to what the tables hold
  std::map<std::string, std::string> out;
  out.swap(changed_rows_);
  return out;
}

std::vector<std::string> Keystore::all_row_keys() {
  std::vector<std::string> keys;
  Statement users(db_, "SELECT name FROM users ORDER BY name");
  while (users.step()) keys.push_back("user/" + users.text("name"));
  Statement groups(db_, "SELECT name FROM groups ORDER BY name");
  while (groups.step()) keys.push_back("group/" + groups.text("name"));
  Statement ks(db_, "SELECT label FROM keys ORDER BY label");
  while (ks.step()) keys.push_back("key/" + ks.text("label"));
  Statement m(db_, "SELECT 1 FROM master");
  if (m.step()) keys.push_back("master");
  return keys;
}

std::string Keystore::rebuild_state() {
  Transaction tx(db_);
  db_.exec("DELETE FROM state_digests; DELETE FROM state_buckets; DELETE FROM state_pages; "
           "DELETE FROM state_root");
  certified_pages_.reset();  // checked copies of what was stored before
  certified_buckets_.clear();
  bucket_rows_.clear();
  for (const std::string& key : all_row_keys()) touch(key);
  own_rows_.clear();
  changed_rows_.clear();
  dirty_buckets_.set();
  set_stored_root("");
  const std::string root = flush_dirty();
  tx.commit();
  return root;
}

Digest Keystore::bucket_with_row(std::uint32_t bucket, const std::string& row_key,
                                const std::string& digest) {
  std::vector<std::pair<std::string, Bytes>> rows;
  Statement st(db_, "SELECT row_key, digest FROM state_digests WHERE bucket = :b ORDER BY row_key");
  st.bind(":b", bucket);
  while (st.step())
    if (std::string key = st.text("row_key"); key != row_key) rows.emplace_back(std::move(key), st.blob("digest"));
  if (!digest.empty()) {
    const auto at = std::lower_bound(rows.begin(), rows.end(), row_key,
                                     [](const auto& r, const std::string& k) { return r.first < k; });
    rows.emplace(at, row_key, from_hex(digest));
  }
  return bucket_hash(rows);
}

bool Keystore::bucket_in_state(std::uint32_t bucket, const std::string& row_key,
                               std::string_view root) {
  // The row as it is in its table, the other rows of its bucket as their stored digests say
  // (an edit of another row is that row's mismatch, found when it is used, never absorbed:
  // a write keeps every other stored digest as it was).
  const Digest b = bucket_with_row(bucket, row_key, row_digest(row_key));
  const Digest p = page_hash(bucket / kPerPage, std::make_pair(bucket, b));
  return root_over_pages(std::make_pair(bucket / kPerPage, p)) == root;
}

bool Keystore::row_in_state(std::string_view row_key, std::string_view root) {
  const std::string key(row_key);
  return bucket_in_state(bucket_of(key), key, root);
}

void Keystore::expect_state(std::string root) {
  certified_pages_.reset();
  certified_buckets_.clear();
  expected_root_ = root;
  committed_root_ = std::move(root);
  rolled_back_ = false;
  dirty_buckets_.reset();
  verified_buckets_.reset();
  own_rows_.clear();
  bucket_rows_.clear();
}

const Keystore::BucketRows& Keystore::stored_bucket_rows(std::uint32_t bucket) {
  if (bucket_rows_.empty()) bucket_rows_.resize(kBuckets);
  if (bucket_rows_[bucket]) return *bucket_rows_[bucket];
  BucketRows rows;
  Statement st(db_, kBucketRows);
  st.bind(":b", bucket);
  while (st.step()) rows.emplace_back(st.text_at(0), st.blob_at(1));
  return bucket_rows_[bucket].emplace(std::move(rows));
}

void Keystore::before_change(const std::string& row_key, bool new_row) {
  if (!g_state_upkeep || !expected_root_) return;  // no state recorded yet: the first record sets it
  if (rolled_back_) state_root();
  const std::uint32_t bucket = bucket_of(row_key);
  // The row itself: as its stored digest says (rows this connection wrote are).
  const auto check_own_row = [&] {
    if (own_rows_.contains(row_key)) return;
    const auto& rows = stored_bucket_rows(bucket);
    const auto at = std::lower_bound(rows.begin(), rows.end(), row_key,
                                     [](const auto& r, const std::string& k) { return r.first < k; });
    const std::string stored =
        at != rows.end() && at->first == row_key ? to_hex(at->second) : std::string();
    if ((new_row ? std::string() : row_digest(row_key)) != stored)
      fail(Category::integrity, "the keystore row '" + row_key + "' does not match the state "
                                "the transcript recorded last (edited, or restored from an "
                                "older copy); nothing was changed; run 'hsmctl doctor'");
  };
  if (dirty_buckets_.test(bucket) || verified_buckets_.test(bucket)) return check_own_row();
  // A change is made only on top of the state the transcript recorded: otherwise the new root
  // would take in whatever else was edited in this bucket or its path. The stored page hashes,
  // then one page's bucket hashes, are checked once against the expected root and kept; each
  // bucket is then recomputed from its rows as they are.
  const auto refuse = [&] {
    fail(Category::integrity, "the keystore does not match the state the transcript recorded "
                              "last, near '" + row_key + "' (edited, or restored from an older "
                              "copy); nothing was changed; run 'hsmctl doctor'");
  };
  if (!certified_pages_) {
    const std::array<Digest, kPages> pages = stored_pages();
    if (root_of(pages) != *expected_root_) refuse();
    certified_pages_ = pages;
  }
  const std::uint32_t page = bucket / kPerPage;
  auto buckets = certified_buckets_.find(page);
  if (buckets == certified_buckets_.end()) {
    const std::array<Digest, kPerPage> b = stored_buckets(page);
    if (page_of(b) != (*certified_pages_)[page]) refuse();
    buckets = certified_buckets_.emplace(page, b).first;
  }
  // The stored digests of the bucket must be the recorded ones; then only the row about to
  // change needs reading: it must be as its stored digest says, or the write would take in an
  // edit of its other columns. Every other row keeps its stored digest, edited or not.
  if (bucket_hash(stored_bucket_rows(bucket)) != buckets->second[bucket % kPerPage]) refuse();
  verified_buckets_.set(bucket);
  check_own_row();
}

std::string Keystore::computed_root() {
  std::vector<std::vector<std::pair<std::string, Bytes>>> buckets(kBuckets);
  for (const std::string& key : all_row_keys())
    buckets[bucket_of(key)].emplace_back(key, from_hex(row_digest(key)));
  std::array<Digest, kPages> pages;
  for (std::uint32_t p = 0; p < kPages; ++p) {
    std::array<Digest, kPerPage> page;
    for (std::uint32_t b = 0; b < kPerPage; ++b) {
      auto& rows = buckets[p * kPerPage + b];
      std::sort(rows.begin(), rows.end());
      page[b] = bucket_hash(rows);
    }
    pages[p] = page_of(page);
  }
  return root_of(pages);
}

}  // namespace hsm::keystore
