// The master record and its share sets (tables master, share_sets, share_groups, custodians).
// Holds the KCV and public per-share commitments only: never the master secret or a share.
#include "core/error.h"
#include "core/keystore/keystore.h"

namespace hsm::keystore {

namespace {

// The meta key of MasterRecord::kek_derivation (meta, not a master column: no schema step, and
// a keystore from before the fallback reads as "aes-ecb").
constexpr const char* kKekDerivationKey = "kek_derivation";

[[noreturn]] void no_master() {
  fail(Category::not_found, "this workspace has no master key; run hsmctl master init first");
}

void insert_share_set(Database& db, const ShareSet& set, std::int64_t generation) {
  if (set.member_thresholds.empty())
    fail(Category::general, "internal error: a share set needs at least one group");
  Statement st(db,
               "INSERT INTO share_sets (generation, identifier, extendable, iteration_exponent, "
               "group_threshold, created, created_seq) VALUES (:generation, :identifier, "
               ":extendable, :iteration_exponent, :group_threshold, :created, :created_seq)");
  st.bind(":generation", generation)
      .bind(":identifier", set.identifier)
      .bind(":extendable", set.extendable)
      .bind(":iteration_exponent", set.iteration_exponent)
      .bind(":group_threshold", set.group_threshold)
      .bind(":created", set.created)
      .bind(":created_seq", set.created_seq)
      .run();
  for (std::size_t g = 0; g < set.member_thresholds.size(); ++g) {
    Statement group(db,
                    "INSERT INTO share_groups (generation, group_index, member_threshold) "
                    "VALUES (:generation, :group_index, :member_threshold)");
    group.bind(":generation", generation)
        .bind(":group_index", g)
        .bind(":member_threshold", set.member_thresholds[g])
        .run();
  }
  if (!set.group_names.empty() && set.group_names.size() != set.member_thresholds.size())
    fail(Category::general, "internal error: a share set's group names do not match its groups");
  for (std::size_t g = 0; g < set.group_names.size(); ++g) {
    Statement name(db,
                   "INSERT INTO share_group_names (generation, group_index, name) "
                   "VALUES (:generation, :group_index, :name)");
    name.bind(":generation", generation)
        .bind(":group_index", g)
        .bind(":name", set.group_names[g])
        .insert("share group '" + set.group_names[g] + "' is named twice");
  }
  for (const auto& c : set.custodians) {
    Statement custodian(db,
                        "INSERT INTO custodians (generation, group_index, member_index, name, "
                        "commitment) VALUES (:generation, :group_index, :member_index, :name, "
                        ":commitment)");
    custodian.bind(":generation", generation)
        .bind(":group_index", c.group_index)
        .bind(":member_index", c.member_index)
        .bind(":name", c.name)
        .bind(":commitment", c.commitment)
        .insert("custodian '" + c.name + "' appears twice in the share set, or shares a " +
                "group and member index with another custodian");
  }
}

ShareSet load_share_set(Database& db, std::int64_t generation) {
  ShareSet set;
  Statement st(db,
               "SELECT *, generation IS DISTINCT FROM (SELECT generation FROM master) AS retired "
               "FROM share_sets WHERE generation = :generation");
  st.bind(":generation", generation);
  if (!st.step()) fail(Category::general, "internal error: share set " +
                                              std::to_string(generation) + " is missing");
  set.generation = generation;
  set.identifier = static_cast<int>(st.integer("identifier"));
  set.extendable = st.integer("extendable") != 0;
  set.iteration_exponent = static_cast<int>(st.integer("iteration_exponent"));
  set.group_threshold = static_cast<int>(st.integer("group_threshold"));
  set.created = st.text("created");
  set.created_seq = st.integer("created_seq");
  set.retired = st.integer("retired") != 0;

  Statement groups(db,
                   "SELECT member_threshold FROM share_groups WHERE generation = :generation "
                   "ORDER BY group_index");
  groups.bind(":generation", generation);
  while (groups.step())
    set.member_thresholds.push_back(static_cast<int>(groups.integer("member_threshold")));

  Statement names(db,
                  "SELECT name FROM share_group_names WHERE generation = :generation "
                  "ORDER BY group_index");
  names.bind(":generation", generation);
  while (names.step()) set.group_names.push_back(names.text("name"));

  Statement custodians(db,
                       "SELECT * FROM custodians WHERE generation = :generation "
                       "ORDER BY group_index, member_index");
  custodians.bind(":generation", generation);
  while (custodians.step()) {
    set.custodians.push_back({
        .name = custodians.text("name"),
        .group_index = static_cast<int>(custodians.integer("group_index")),
        .member_index = static_cast<int>(custodians.integer("member_index")),
        .commitment = custodians.text("commitment"),
    });
  }
  return set;
}

std::optional<std::int64_t> current_generation(Database& db) {
  Statement st(db, "SELECT generation FROM master");
  if (!st.step()) return std::nullopt;
  return st.integer("generation");
}

}  // namespace

void Keystore::save_master(const MasterRecord& master) {
  Transaction tx(db_);
  before_change("master");
  {
    Statement existing(db_, "SELECT kcv FROM master");
    if (existing.step())
      fail(Category::not_found, "this workspace already has a master key (kcv " +
                                    existing.text("kcv") + "); use another --dir for a new one");
  }
  insert_share_set(db_, master.shares, 1);
  Statement st(db_,
               "INSERT INTO master (id, kcv, created, created_seq, generation, active) "
               "VALUES (1, :kcv, :created, :created_seq, 1, :active)");
  st.bind(":kcv", master.kcv)
      .bind(":created", master.created)
      .bind(":created_seq", master.created_seq)
      .bind(":active", master.active)
      .run();
  set_meta(kKekDerivationKey, master.kek_derivation);
  touch("master");
  tx.commit();
}

std::optional<MasterRecord> Keystore::master() {
  Statement st(db_, "SELECT * FROM master");
  if (!st.step()) return std::nullopt;
  MasterRecord m;
  m.kcv = st.text("kcv");
  m.created = st.text("created");
  m.created_seq = st.integer("created_seq");
  m.active = st.integer("active") != 0;
  m.shares = load_share_set(db_, st.integer("generation"));
  m.kek_derivation = meta(kKekDerivationKey).value_or("aes-ecb");
  return m;
}

std::int64_t Keystore::replace_share_set(const ShareSet& next) {
  Transaction tx(db_);
  before_change("master");
  if (!current_generation(db_)) no_master();
  Statement max(db_, "SELECT max(generation) AS last FROM share_sets");
  max.step();
  const std::int64_t generation = max.integer("last") + 1;
  insert_share_set(db_, next, generation);
  Statement st(db_, "UPDATE master SET generation = :generation");
  st.bind(":generation", generation).run();
  touch("master");
  tx.commit();
  return generation;
}

std::vector<ShareSet> Keystore::share_sets() {
  std::vector<std::int64_t> generations;
  Statement st(db_, "SELECT generation FROM share_sets ORDER BY generation");
  while (st.step()) generations.push_back(st.integer("generation"));
  std::vector<ShareSet> sets;
  for (auto g : generations) sets.push_back(load_share_set(db_, g));
  return sets;
}

void Keystore::set_master_active(bool active) {
  Transaction tx(db_);
  before_change("master");
  Statement st(db_, "UPDATE master SET active = :active");
  st.bind(":active", active).run();
  if (st.changes() == 0) no_master();
  touch("master");
  tx.commit();
}

}  // namespace hsm::keystore
