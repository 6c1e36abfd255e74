// Whole-keystore export and import: exact round trip of every table, replacement of existing
// contents, and refusal of malformed documents without changing anything.
#include <fmt/format.h>

#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

using nlohmann::json;

// A keystore with at least one row in every table.
void populate(Keystore& ks) {
  ks.set_meta("workspace_id", "0f1e2d3c");
  ks.set_meta("token_serial", "8d2a3f4e5b6c7d80");
  ks.save_master(sample_master());
  auto next = sample_share_set(4242, {"alice", "bob", "frank"}, 2);
  next.group_threshold = 1;
  // A two-level set (share_group_names): frank alone is the second group.
  next.member_thresholds = {2, 1};
  next.group_names = {"board", "ceo"};
  next.custodians[2].group_index = 1;
  next.custodians[2].member_index = 0;
  ks.replace_share_set(next);
  ks.insert_key(sample_key("root"));
  ks.insert_key(sample_key("offline", "qk"));
  ks.insert_key(sample_key("release", "none"));
  ks.next_crl_number("root");
  ks.add_revocation("root", {.serial = "0a0b", .reason = "keyCompromise", .revoked = kTime});
  ks.insert_user(sample_user("alice"));
  ks.insert_user(sample_user("bob", false));
  ks.insert_user(sample_user("carol"));
  ks.record_auth_failure("bob", 3);
  ks.insert_group(sample_group("ops"),
                  {sample_member("ops", "alice"), sample_member("ops", "carol")});
  // carol removed: version 1 kept for alice (group_old_keys, group_old_layers).
  ks.keep_group_version("ops", "carol", kTime);
  auto v2 = sample_group("ops");
  v2.key_version = 2;
  ks.replace_group_key(v2, {sample_member("ops", "alice")});
  // Rotated again, then version 1 retired (group_min_versions); version 2 stays kept.
  ks.keep_group_version("ops", "carol", kTime);
  auto v3 = sample_group("ops");
  v3.key_version = 3;
  ks.replace_group_key(v3, {sample_member("ops", "alice")});
  ks.retire_group_versions("ops", 2, kTime);
}

TEST(KeystoreExport, EveryTableRoundTripsExactly) {
  TempDir a, b;
  Keystore source(a.path());
  populate(source);
  const json exported = source.export_all();
  for (const auto table : table_names())
    EXPECT_FALSE(exported["tables"][std::string(table)].empty()) << table << " has no rows";

  Keystore target(b.path());
  target.import_all(json::parse(exported.dump()));  // through text, as a backup file would
  EXPECT_EQ(target.export_all(), exported);
  EXPECT_EQ(target.master(), source.master());
  EXPECT_EQ(target.share_sets(), source.share_sets());
  EXPECT_EQ(target.list_users(), source.list_users());
  EXPECT_EQ(target.list_keys(), source.list_keys());
  EXPECT_EQ(target.list_revocations("root"), source.list_revocations("root"));
  EXPECT_EQ(target.list_group_members("ops"), source.list_group_members("ops"));
  EXPECT_EQ(target.meta("token_serial"), "8d2a3f4e5b6c7d80");
  EXPECT_TRUE(target.integrity_check().empty());
}

TEST(KeystoreExport, ExportNamesFormatAndSchema) {
  TempDir dir;
  Keystore ks(dir.path());
  const json doc = ks.export_all();
  EXPECT_EQ(doc["format"], "hsmctl-keystore");
  EXPECT_EQ(doc["schema"], latest_schema_version());
  EXPECT_EQ(doc["tables"]["users"], json::array());
}

TEST(KeystoreExport, ImportReplacesExistingContents) {
  TempDir a, b;
  Keystore source(a.path());
  source.insert_user(sample_user("alice"));
  Keystore target(b.path());
  populate(target);
  target.import_all(source.export_all());
  EXPECT_EQ(target.export_all(), source.export_all());
  EXPECT_EQ(target.master(), std::nullopt);
}

TEST(KeystoreExport, MalformedDocumentsAreRefusedAndChangeNothing) {
  TempDir a;
  Keystore ks(a.path());
  populate(ks);
  const json good = ks.export_all();
  struct Case {
    const char* name;
    std::function<void(json&)> spoil;
    Category category;
    std::string message_part;
  };
  const Case cases[] = {
      {"not an export", [](json& d) { d = json::array(); }, Category::integrity,
       "not an hsmctl keystore export"},
      {"wrong format tag", [](json& d) { d["format"] = "something-else"; }, Category::integrity,
       "not an hsmctl keystore export"},
      {"newer schema", [](json& d) { d["schema"] = latest_schema_version() + 1; },
       Category::general,
       fmt::format("the keystore export has schema {} but this keystore has schema {}",
                   latest_schema_version() + 1, latest_schema_version())},
      {"unknown table", [](json& d) { d["tables"]["extra"] = json::array(); },
       Category::integrity, "unknown table extra"},
      {"missing table", [](json& d) { d["tables"].erase("keys"); }, Category::integrity,
       "lacks table keys"},
      {"bad base64", [](json& d) { d["tables"]["users"][0]["outer_blob"] = "@@@"; },
       Category::integrity, "table users row 1 column outer_blob is not base64"},
      {"text in an integer column", [](json& d) { d["tables"]["users"][0]["failures"] = "0"; },
       Category::integrity, "column failures does not hold INTEGER"},
      {"float", [](json& d) { d["tables"]["keys"][0]["crl_number"] = 1.5; },
       Category::integrity, "column crl_number does not hold INTEGER"},
      {"missing column", [](json& d) { d["tables"]["users"][1].erase("locked"); },
       Category::integrity, "table users row 2 does not have exactly the columns"},
      {"extra column",
       [](json& d) {
         d["tables"]["users"][1].erase("locked");
         d["tables"]["users"][1]["lockd"] = 0;
       },
       Category::integrity, "table users row 2 lacks column locked"},
      {"duplicate row",
       [](json& d) { d["tables"]["users"].push_back(d["tables"]["users"][0]); },
       Category::integrity, "table users row 4 breaks the schema's rules"},
      {"dangling member",
       [](json& d) { d["tables"]["group_members"][0]["user_id"] = 999; }, Category::integrity,
       "a row refers to a row that does not exist"},
      {"check constraint", [](json& d) { d["tables"]["keys"][0]["escrow"] = "plaintext"; },
       Category::integrity, "breaks the schema's rules"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json doc = good;
    c.spoil(doc);
    const Error e = error_from([&] { ks.import_all(doc); });
    EXPECT_EQ(e.category(), c.category);
    EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos) << e.what();
    EXPECT_EQ(ks.export_all(), good);
  }
}

}  // namespace
}  // namespace hsm::keystore::test

namespace hsm::keystore::test {
namespace {

// A backup made before the tables added since schema 2 imports, with those tables empty; a
// table the export's schema did not have is refused, as is a schema before 2.
TEST(KeystoreExport, AnExportOfAnOlderSchemaImportsWithTheNewerTablesEmpty) {
  TempDir a, b;
  Keystore source(a.path());
  source.set_meta("workspace_id", "0f1e2d3c");
  source.save_master(sample_master());
  source.insert_user(sample_user("alice"));
  json old = source.export_all();
  old["schema"] = 2;
  for (const char* t : {"group_old_keys", "group_old_layers", "share_group_names",
                        "group_min_versions"})
    old["tables"].erase(std::string(t));
  Keystore target(b.path());
  target.import_all(old);
  EXPECT_TRUE(target.find_user("alice").has_value());
  EXPECT_EQ(target.export_all()["tables"]["share_group_names"], json::array());

  json extra = old;
  extra["tables"]["share_group_names"] = json::array();
  const Error e = error_from([&] { target.import_all(extra); });
  EXPECT_NE(std::string(e.what()).find("unknown table share_group_names"), std::string::npos)
      << e.what();
  json ancient = old;
  ancient["schema"] = 1;
  EXPECT_NE(std::string(error_from([&] { target.import_all(ancient); }).what())
                .find("the keystore export has schema 1"),
            std::string::npos);
}

}  // namespace
}  // namespace hsm::keystore::test
