// clone --from-token A --to-token B: one ceremony, signed on B by the same transcript key.
#include "ceremonies/backup/clone_token.h"

#include <fmt/format.h>

#include "ceremonies/backup/backup_keys.h"
#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "core/error.h"
#include "core/pkcs11/crypt.h"

namespace hsm {

CloneResult clone_token(Workspace& from, Workspace& to, ShareIntake intake) {
  CloneResult r;
  Recorder rec(to);
  const p11::Session* target = nullptr;
  std::vector<p11::KeyHandle> created;
  try {
    const p11::Session& a = from.login();
    const auto source = find_master_keys(a);
    if (!source)
      fail(Category::not_found, fmt::format("source token '{}' holds no master key",
                                            from.token().label));
    const auto record = from.keystore().master();
    if (!record)
      fail(Category::not_found, "this workspace has no master key record; clone needs the "
                                "workspace the master was made in");
    if (!source->kcv.empty() && source->kcv != record->kcv)  // empty: the token reports none
      fail(Category::integrity, fmt::format("source token '{}' holds master key {}, but this "
                                            "workspace's master is {}", from.token().label,
                                            source->kcv, record->kcv));
    const p11::Session& b = to.login();
    target = &b;
    if (from.token().serial == to.token().serial && from.module().path() == to.module().path())
      fail(Category::usage, "--from-token and --to-token name the same token");
    if (find_master_keys(b))
      fail(Category::not_found, fmt::format("target token '{}' already holds a master key; "
                                            "clone only onto a fresh token", to.token().label));
    // The master goes on the new token as it was made; a token that cannot is refused here,
    // before a share is asked for or anything is put on it.
    const p11::KekDerivation derivation = recorded_derivation(record->kek_derivation);
    require_derivation(b, derivation, to.token().label, "clone", "nothing was changed on it");
    nlohmann::json events = nlohmann::json::array();
    intake.on_share = [&events, tell = intake.on_share](bool ok, const std::string& what) {
      events.push_back({{"accepted", ok}, {ok ? "custodian" : "reason", what}});
      if (tell) tell(ok, what);
    };
    const backup::Contents contents = collect_backup(from, record->kcv);
    {
      const Secret s = recover_checked(record->shares, record->kcv, std::move(intake));
      const MasterKeys mk = import_master_keys(b, s, derivation);
      created = {mk.wrap, mk.derive};
      r.kcv = mk.kcv;
      // The workspace's transcript key goes on too (even beside another workspace's), so the
      // ceremony below signs with it and never with an unendorsed key of the new token.
      InstalledKeys installed = install_backup_keys(b, mk.wrap, contents.keys, false,
                                                    current_transcript_key_id(to));
      created.insert(created.end(), installed.created.begin(), installed.created.end());
      r.restored = installed.restored;
    }
    rec.begin("clone", {{"from_token", from.token().label}, {"to_token", to.token().label}});
    for (auto e : events) {
      const bool accepted = e["accepted"];
      e.erase("accepted");
      rec.record(accepted ? "share.accepted" : "share.refused", e);
    }
    rec.record("master.restore", {{"kcv", r.kcv}, {"token", to.token().label},
                                  {"identifier", record->shares.identifier},
                                  {"kek_derivation", record->kek_derivation}});
    rec.record("backup.restore", {{"kcv", r.kcv}, {"restored", r.restored},
                                  {"keystore", "kept"},
                                  {"backup_transcript_seq", contents.transcript_seq},
                                  {"backup_transcript_head", contents.transcript_head}});
    rec.end_ok();
  } catch (const Error& e) {
    if (target != nullptr) destroy_all(*target, created);
    rec.end_failure(e);
    throw;
  }
  return r;
}

}  // namespace hsm
