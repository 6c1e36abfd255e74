// backup create | verify | restore. S and BK exist only inside the scopes that recombine the
// shares; the file holds escrow blobs made at birth, public facts and the keystore snapshot.
#include "ceremonies/backup/backup_ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "ceremonies/backup/backup_keys.h"
#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/pkcs11/crypt.h"

namespace hsm {

namespace {

std::string digest_of(ByteView file) { return to_hex(crypto::sha256(file)); }

// The share set that governs the backup's master: the workspace's when it records the same
// master, else the one inside the backup's own keystore snapshot.
keystore::ShareSet share_set_for(Workspace& ws, const backup::Contents& c) {
  if (auto m = ws.keystore().master(); m && m->kcv == c.kcv) return m->shares;
  const auto m = master_in_export(c.keystore);
  if (!m || m->kcv != c.kcv)
    fail(Category::integrity, "the backup's keystore holds no master record for its check value "
                              "" + c.kcv + ", so no quorum can authenticate it");
  return m->shares;
}

ShareIntake recording(ShareIntake intake, nlohmann::json& events) {
  intake.on_share = [&events, tell = intake.on_share](bool ok, const std::string& what) {
    events.push_back({{"accepted", ok}, {ok ? "custodian" : "reason", what}});
    if (tell) tell(ok, what);
  };
  return intake;
}

void replay(Recorder& rec, const nlohmann::json& events) {
  for (auto e : events) {
    const bool accepted = e["accepted"];
    e.erase("accepted");
    rec.record(accepted ? "share.accepted" : "share.refused", e);
  }
}

}  // namespace

nlohmann::json describe_backup(const backup::Contents& c) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : c.keys)
    keys.push_back({{"label", k.label}, {"key_id", k.key_id}, {"algorithm", k.algorithm},
                    {"purpose", k.purpose}, {"escrow", k.escrow}, {"quorum", k.quorum},
                    {"fingerprint", crypto::fingerprint(k.public_key)}});
  nlohmann::json tables = nlohmann::json::object();
  if (auto t = c.keystore.find("tables"); t != c.keystore.end() && t->is_object())
    for (const auto& [name, rows] : t->items())
      tables[name] = rows.is_array() ? rows.size() : 0;
  return {{"version", backup::kVersion}, {"created", c.created}, {"kcv", c.kcv},
          {"schema", c.schema}, {"transcript_seq", c.transcript_seq},
          {"transcript_head", c.transcript_head}, {"keys", keys},
          {"not_backed_up", c.not_backed_up}, {"keystore_rows", tables}};
}

BackupCreateResult backup_create(Workspace& ws, const std::filesystem::path& out,
                                 ShareIntake intake) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(out, ec)))
    fail(Category::not_found, fmt::format("'{}' already exists; a backup never overwrites a file, "
                                          "choose another --out", out.string()));
  BackupCreateResult r;
  run_ceremony(ws, "backup.create", {{"out", out.filename().string()}}, [&](Recorder& rec) {
    keystore::Keystore& ks = ws.keystore();
    const auto master = ks.master();
    if (!master)
      fail(Category::not_found, "this workspace has no master key record; run 'hsmctl master "
                                "init' first");
    intake.on_share = [&rec, tell = intake.on_share](bool ok, const std::string& what) {
      rec.record(ok ? "share.accepted" : "share.refused", {{ok ? "custodian" : "reason", what}});
      if (tell) tell(ok, what);
    };
    Bytes file;
    const backup::Contents c = [&] {
      const Secret s = recover_checked(master->shares, master->kcv, std::move(intake));
      backup::Contents contents = collect_backup(ws, master->kcv);
      const std::string body = backup::serialise_body(contents);
      file = backup::assemble(body, backup_tag(s, backup::authenticated_part(body)));
      return contents;
    }();  // S and BK are gone here
    r.kcv = c.kcv;
    r.digest = digest_of(file);
    for (const auto& k : c.keys) r.keys.push_back(k.label);
    r.not_backed_up = c.not_backed_up;
    r.transcript_seq = c.transcript_seq;
    r.transcript_head = c.transcript_head;
    rec.record_output("backup.create",
                      {{"kcv", r.kcv}, {"sha256", r.digest}, {"keys", r.keys},
                       {"not_backed_up", r.not_backed_up}, {"transcript_seq", r.transcript_seq},
                       {"transcript_head", r.transcript_head}},
                      out, file, 0600);
  });
  return r;
}

BackupVerifyResult backup_verify(Workspace& ws, const std::filesystem::path& file,
                                 ShareIntake intake, bool with_shares) {
  const Bytes raw = read_file(file, "backup file");
  BackupVerifyResult r;
  r.digest = digest_of(raw);
  const backup::Envelope env = backup::parse_envelope(raw);
  r.contents = backup::parse_body(env.body);
  if (!with_shares) return r;
  run_ceremony(ws, "backup.verify", {{"sha256", r.digest}}, [&](Recorder& rec) {
    intake.on_share = [&rec, tell = intake.on_share](bool ok, const std::string& what) {
      rec.record(ok ? "share.accepted" : "share.refused", {{ok ? "custodian" : "reason", what}});
      if (tell) tell(ok, what);
    };
    const keystore::ShareSet set = share_set_for(ws, r.contents);
    const Secret s = recover_checked(set, r.contents.kcv, std::move(intake));
    check_backup_tag(s, env);
    r.authenticated = true;
    rec.record("backup.verify", {{"sha256", r.digest}, {"kcv", r.contents.kcv},
                                 {"authenticated", true}});
  });
  return r;
}

// A workspace whose keystore holds only the master and its own transcript keys: what `master
// restore` leaves in an empty directory on another machine, the shares alone telling it the set.
bool holds_only_a_master(keystore::Keystore& ks) {
  for (const auto& k : ks.list_keys())
    if (k.purpose != "transcript") return false;
  return ks.list_users().empty() && ks.list_groups().empty();
}

// The backup's keystore with this workspace's own transcript keys added, so the transcript this
// workspace has begun keeps an escrowed key (master restore brings it back after a token loss).
nlohmann::json merged_keystore(keystore::Keystore& ks, const backup::Contents& c) {
  nlohmann::json doc = c.keystore;
  nlohmann::json& rows = doc["tables"]["keys"];
  std::int64_t next_id = 0;
  std::set<std::string> present;
  for (const auto& r : rows) {
    next_id = std::max(next_id, r.value("id", std::int64_t{0}));
    present.insert(r.value("key_id", std::string()));
  }
  const nlohmann::json own = ks.export_all();
  for (auto r : own["tables"]["keys"]) {
    if (r.value("purpose", std::string()) != "transcript" ||
        present.contains(r.value("key_id", std::string())))
      continue;
    r["id"] = ++next_id;
    rows.push_back(r);
  }
  return doc;
}

std::string install_backup_keystore(Workspace& ws, const backup::Contents& c) {
  keystore::Keystore& ks = ws.keystore();
  if (const auto m = ks.master()) {
    if (m->kcv != c.kcv)
      fail(Category::integrity, fmt::format("this workspace's master is {}, the backup's is {}",
                                            m->kcv, c.kcv));
    if (holds_only_a_master(ks)) {
      ks.import_all(merged_keystore(ks, c));
      return "installed";
    }
    for (const auto& e : c.keys) {
      const auto k = ks.find_key(e.label);
      if (!k || k->key_id != e.key_id || k->public_key != e.public_key)
        fail(Category::not_found,
             fmt::format("this workspace's keystore differs from the backup's (key '{}'); restore "
                         "into an empty workspace directory (--dir) to install the backup's "
                         "keystore", e.label));
    }
    return "kept";
  }
  if (!ks.list_keys().empty() || !ks.list_users().empty() || !ks.list_groups().empty())
    fail(Category::not_found, "this workspace's keystore holds keys or users but no master; "
                              "restore into an empty workspace directory (--dir)");
  ks.import_all(c.keystore);
  return "installed";
}

BackupRestoreResult backup_restore(Workspace& ws, const std::filesystem::path& file,
                                   ShareIntake intake, bool skip_existing) {
  BackupRestoreResult r;
  Recorder rec(ws, "backup.restore");
  const p11::Session* session = nullptr;
  InstalledKeys installed;
  try {
    const Bytes raw = read_file(file, "backup file");
    const backup::Envelope env = backup::parse_envelope(raw);
    const backup::Contents c = backup::parse_body(env.body);
    const p11::Session& s = ws.login();
    session = &s;
    const auto mk = find_master_keys(s);
    if (!mk)
      fail(Category::not_found, fmt::format("token '{}' holds no master key; run 'hsmctl master "
                                            "restore' with the custodians' shares first",
                                            ws.token().label));
    // A token that reports no check value (keys it unwrapped) is checked by the blobs: under
    // another master none of them unwraps (AES-KWP's integrity check).
    if (!mk->kcv.empty() && mk->kcv != c.kcv)
      fail(Category::integrity, fmt::format("the backup was made under master key {}, but token "
                                            "'{}' holds master key {}", c.kcv, ws.token().label,
                                            mk->kcv));
    if (p11::kek_derivation_name(mk->derivation) != c.kek_derivation)
      fail(Category::token,
           fmt::format("the backup's master derives keys by {}, but token '{}' holds it made for "
                       "{}; nothing was changed: restore the master onto a fresh token with "
                       "'hsmctl clone', or with 'hsmctl master restore' in the workspace the "
                       "backup was made from", c.kek_derivation, ws.token().label,
                       p11::kek_derivation_name(mk->derivation)));
    const keystore::ShareSet set = share_set_for(ws, c);
    nlohmann::json events = nlohmann::json::array();
    {
      const Secret master = recover_checked(set, c.kcv, recording(std::move(intake), events));
      check_backup_tag(master, env);
    }
    installed = install_backup_keys(s, mk->wrap, c.keys, skip_existing,
                                    current_transcript_key_id(ws));
    rec.begin("backup.restore", {{"sha256", digest_of(raw)}, {"skip_existing", skip_existing}});
    replay(rec, events);
    r.keystore = install_backup_keystore(ws, c);
    r.kcv = c.kcv;
    r.restored = installed.restored;
    r.skipped = installed.skipped;
    rec.record("backup.restore", {{"kcv", r.kcv}, {"restored", r.restored},
                                  {"skipped", r.skipped}, {"keystore", r.keystore},
                                  {"backup_transcript_seq", c.transcript_seq},
                                  {"backup_transcript_head", c.transcript_head}});
    rec.end_ok();
  } catch (const Error& e) {
    if (session != nullptr) destroy_all(*session, installed.created);
    rec.end_failure(e);
    throw;
  }
  return r;
}

}  // namespace hsm
