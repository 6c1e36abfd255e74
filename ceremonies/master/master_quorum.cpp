// restore, verify-share, reshare, status.
#include "ceremonies/master/master_quorum.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ceremonies/master/commitments.h"
#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "ceremonies/master/share_issue.h"
#include "ceremonies/transcript/transcript_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/objects.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

const char* kTranscriptPurpose = "transcript";

// The set to check shares against; on an empty workspace, one learnt from the first share.
keystore::ShareSet expected_set(keystore::Keystore& ks) {
  if (auto m = ks.master()) return m->shares;
  fail(Category::not_found, "this workspace has no master key record; restore needs the "
                            "workspace (keystore.sqlite) the master was made in, or a backup");
}

std::function<void(bool, const std::string&)> log_into(nlohmann::json& events) {
  return [&events](bool ok, const std::string& what) {
    events.push_back({{"accepted", ok}, {ok ? "custodian" : "reason", what}});
  };
}

void record_share_events(Recorder& rec, const nlohmann::json& share_events) {
  for (auto e : share_events) {
    const bool accepted = e["accepted"];
    e.erase("accepted");
    rec.record(accepted ? "share.accepted" : "share.refused", e);
  }
}

// master restore in a workspace with no master record (a new machine, or shares made by another
// SLIP-0039 implementation): the share set is learnt from the shares, the KCV cannot be checked
// here and is printed for comparison with the paper record, and the workspace gets a master
// record and a new escrowed transcript key, as after master init.
RestoreResult adopt_master(Workspace& ws, Recorder& rec, const p11::Session& s,
                           const ShareIntake& intake, const nlohmann::json& share_events,
                           std::vector<p11::KeyHandle>& created) {
  RestoreResult result;
  keystore::ShareSet set;
  const Secret master = adopt_share_set(intake, set);
  result.kcv = master_kcv(master);
  result.adopted = true;
  // No record says how the master was made: hsmctl chooses as master init would; a backup made
  // with another method is refused by backup restore, which names it.
  const p11::KekDerivation derivation = choose_derivation(s, std::nullopt, ws.token().label);
  const MasterKeys mk = import_master_keys(s, master, derivation);
  created = {mk.wrap, mk.derive};
  EscrowedTranscriptKey tk = create_escrowed_transcript_key(s, mk.wrap);
  created.push_back(tk.pair.private_key);
  created.push_back(tk.pair.public_key);
  auto escrowed = std::make_unique<TokenSigner>(s, tk.pair, tk.key.spki, tk.id);
  rec.begin("master.restore", {{"threshold", set.member_thresholds.front()}, {"adopted", true}});
  record_share_events(rec, share_events);
  const std::uint64_t seq =
      rec.record("master.restore", {{"kcv", result.kcv}, {"kcv_checked", false}, {"adopted", true},
                                    {"identifier", set.identifier},
                                    {"custodians_known", set.custodians.size()},
                                    {"transcript_key_restored", false},
                                    {"kek_derivation", p11::kek_derivation_name(derivation)}});
  set.created = transcript::utc_now_rfc3339();
  set.created_seq = static_cast<std::int64_t>(seq);
  keystore::Keystore& ks = ws.keystore();
  keystore::Transaction tx(ks);
  ks.save_master({result.kcv, set.created, set.created_seq, true, set,
                  std::string(p11::kek_derivation_name(derivation))});
  ks.insert_key(transcript_key_record(tk, set.created));
  tx.commit();
  rec.change_key(std::move(escrowed), "escrowed");
  rec.end_ok();
  return result;
}

}  // namespace

RestoreResult master_restore(Workspace& ws, ShareIntake intake) {
  RestoreResult result;
  Recorder rec(ws, "master.restore");
  std::vector<p11::KeyHandle> created;
  const p11::Session* session = nullptr;
  try {
    const p11::Session& s = ws.login();
    session = &s;
    if (find_master_keys(s))
      fail(Category::not_found, fmt::format("token '{}' already holds a master key",
                                            ws.token().label));
    keystore::Keystore& ks = ws.keystore();
    const auto record = ks.master();
    nlohmann::json share_events = nlohmann::json::array();
    intake.on_share = [log = log_into(share_events), tell = intake.on_share](bool ok,
                                                                           const std::string& w) {
      log(ok, w);
      if (tell) tell(ok, w);
    };
    if (!record) return adopt_master(ws, rec, s, intake, share_events, created);
    const keystore::ShareSet set = record->shares;
    // The master comes back as it was made: a token that cannot derive keys the recorded way
    // is refused before the shares are asked for and before anything is put on it.
    const p11::KekDerivation derivation = recorded_derivation(record->kek_derivation);
    require_derivation(s, derivation, ws.token().label, "master restore",
                       "nothing was changed on it");
    const Secret master = recover_master_secret(set, intake);
    result.kcv = master_kcv(master);
    result.kcv_checked = true;
    if (record->kcv != result.kcv)
      fail(Category::integrity, fmt::format("the shares give a master key with check value {}, "
                                            "but this workspace records {}", result.kcv, record->kcv));
    const MasterKeys mk = import_master_keys(s, master, derivation);
    created = {mk.wrap, mk.derive};
    // The escrowed transcript key comes back too, so the chain goes on with the same key.
    for (const auto& k : ks.list_keys()) {
      if (k.purpose != kTranscriptPurpose || k.escrow != "mk-wrap" || !k.wrapped_key) continue;
      const Bytes id = from_hex(k.key_id);
      if (p11::find_private_key(s, id)) continue;
      const p11::KeyPair pair =
          install_escrowed(s, {p11::KeyAlgorithm::ec_p256, *k.wrapped_key, k.public_key}, mk.wrap,
                           kTranscriptKeyLabel, id, {p11::SignMechanism::ecdsa_sha256});
      created.push_back(pair.private_key);
      created.push_back(pair.public_key);
      result.transcript_key_restored = true;
    }
    rec.begin("master.restore", {{"threshold", set.member_thresholds.front()}});
    record_share_events(rec, share_events);
    rec.record("master.restore", {{"kcv", result.kcv}, {"kcv_checked", result.kcv_checked},
                                  {"identifier", set.identifier},
                                  {"transcript_key_restored", result.transcript_key_restored},
                                  {"kek_derivation", p11::kek_derivation_name(derivation)}});
    rec.end_ok();
  } catch (const Error& e) {
    if (session != nullptr)
      for (p11::KeyHandle h : created) try {
          p11::destroy_object(*session, h);
        } catch (const Error&) {
        }
    rec.end_failure(e);
    throw;
  }
  return result;
}

ShareCheck verify_share(const keystore::ShareSet& set, const Secret& mnemonic) {
  const slip39::Share share = slip39::parse_mnemonic(mnemonic);
  const auto& custodian = check_share(set, share);
  const int g = custodian.group_index;
  ShareCheck out;
  out.custodian = custodian.name;
  out.member_index = custodian.member_index + 1;
  out.threshold = g >= 0 && static_cast<std::size_t>(g) < set.member_thresholds.size()
                      ? set.member_thresholds[static_cast<std::size_t>(g)] : 1;
  out.count = static_cast<int>(std::count_if(set.custodians.begin(), set.custodians.end(),
                                             [g](const auto& c) { return c.group_index == g; }));
  out.identifier = set.identifier;
  if (set.member_thresholds.size() > 1) {
    out.group = static_cast<std::size_t>(g) < set.group_names.size()
                    ? set.group_names[static_cast<std::size_t>(g)]
                    : fmt::format("group {}", g + 1);
    out.group_threshold = set.group_threshold;
    out.groups = static_cast<int>(set.member_thresholds.size());
  }
  return out;
}

keystore::ShareSet workspace_share_set(const std::filesystem::path& dir) {
  WorkspaceOptions o;
  o.dir = dir;
  o.dir_use = DirUse::none;  // not refused here: the message below says what to give instead
  const Workspace ws(o);
  if (!ws.has_keystore())
    fail(Category::not_found, fmt::format("'{}' is not an hsmctl workspace; give the share set's "
                                          "commitments file with --commitments FILE",
                                          dir.string()));
  const auto ks = ws.unlocked_keystore();
  if (auto m = ks->master()) return m->shares;
  fail(Category::not_found, fmt::format("workspace '{}' has no master key record; give the share "
                                        "set's commitments file with --commitments FILE",
                                        dir.string()));
}

MasterInitResult master_reshare(Workspace& ws, const ReshareOptions& o, ShareIntake intake,
                                CustodianConsole* console) {
  o.validate();
  const std::vector<std::string> names = o.all_custodians();
  if (o.delivery.any_on_terminal(names) && console == nullptr)
    fail(Category::usage, "no terminal to show the shares on; use --shares-out DIR or --cards DIR");
  MasterInitResult result;
  result.threshold = o.groups.empty() ? o.threshold : o.group_threshold;
  run_ceremony(ws, "master.reshare", set_params(o), [&](Recorder& rec) {
    keystore::Keystore& ks = ws.keystore();
    const keystore::ShareSet old = expected_set(ks);
    intake.on_share = [&rec, tell = intake.on_share](bool ok, const std::string& what) {
      rec.record(ok ? "share.accepted" : "share.refused", {{ok ? "custodian" : "reason", what}});
      if (tell) tell(ok, what);
    };
    const Secret master = recover_master_secret(old, intake);
    result.kcv = master_kcv(master);
    if (result.kcv != ks.master()->kcv)
      fail(Category::integrity, "the shares do not give this workspace's master key");
    result.kek_derivation = ks.master()->kek_derivation;  // kept: the token keys do not change
    IssuedShares issued = o.groups.empty()
                              ? split_for_custodians(master, o.threshold, o.custodians)
                              : split_for_groups(master, o.group_threshold, o.groups);
    result.identifier = issued.set.identifier;
    for (const auto& c : issued.set.custodians) result.commitments.emplace_back(c.name, c.commitment);
    HandedOut handed;
    handed.on_give = [&] {
      rec.progress("hand out shares", {{"shares_shown", handed.given}});
      rec.on_abort_say(fmt::format("the share set was not replaced; the new shares {} to {} are "
                                   "void: destroy every copy, the current shares stay valid",
                                   handed.files.empty() ? "shown" : "handed out",
                                   fmt::join(handed.given, ", ")));
    };
    CardFacts facts;
    facts.workspace = ws.token().label;
    facts.kcv = result.kcv;
    facts.issued = transcript::utc_now_rfc3339();
    facts.identifier = issued.set.identifier;
    facts.threshold = o.threshold;
    facts.members = static_cast<int>(names.size());
    hand_out(issued, names, o.delivery, facts, console, handed);
    result.delivery = handed.delivery;
    if (!o.groups.empty()) result.groups = set_params(o)["groups"];
    result.share_files = handed.paths;
    const CommitmentsFile commitments = commitments_file(issued.set);
    const std::filesystem::path commitments_path = ws.options().dir / commitments.name;
    bool commitments_written = false;
    try {
      nlohmann::json data = set_params(o);
      data["custodians"] = issued.custodians;
      data.update(nlohmann::json{{"identifier", issued.set.identifier},
                               {"retired_identifier", old.identifier}, {"kcv", result.kcv},
                               {"commitments_file", commitments.name},
                               {"commitments_sha256", commitments.sha256},
                               {"delivery", handed.delivery}});
      result.seq = rec.record("master.reshare", data);
      write_new_file(commitments_path, as_bytes(commitments.text), 0644);
      commitments_written = true;
      result.commitments_file = commitments_path;
      result.commitments_sha256 = commitments.sha256;
      issued.set.created = transcript::utc_now_rfc3339();
      issued.set.created_seq = static_cast<std::int64_t>(result.seq);
      ks.replace_share_set(issued.set);
    } catch (...) {
      take_back(handed);
      if (commitments_written) {
        std::error_code ec;
        std::filesystem::remove(commitments_path, ec);
      }
      throw;
    }
  });
  return result;
}

nlohmann::json master_status(Workspace& ws) {
  nlohmann::json j{{"present", false}};
  const auto record = ws.keystore().master();
  const auto mk = find_master_keys(ws.login());
  j["on_token"] = mk.has_value();
  if (mk) {
    j["label"] = kMasterWrapLabel;
    j["kcv"] = mk->kcv;
    const auto info = p11::describe_object(ws.login(), mk->wrap);
    j["id"] = to_hex(info.id);
  }
  if (record) {
    j["present"] = true;
    j["recorded_kcv"] = record->kcv;
    if (!mk) j["kcv"] = record->kcv;
    j["threshold"] = record->shares.member_thresholds.front();
    if (record->shares.member_thresholds.size() > 1) {
      nlohmann::json groups = nlohmann::json::array();
      const auto& set = record->shares;
      for (std::size_t g = 0; g < set.member_thresholds.size(); ++g)
        groups.push_back({{"name", g < set.group_names.size() ? set.group_names[g]
                                                               : fmt::format("group {}", g + 1)},
                          {"threshold", set.member_thresholds[g]}});
      j["group_threshold"] = set.group_threshold;
      j["groups"] = groups;
    }
    j["identifier"] = record->shares.identifier;
    j["created"] = record->shares.created.empty() ? record->created : record->shares.created;
    j["created_seq"] = record->shares.created.empty() ? record->created_seq : record->shares.created_seq;
    j["master_created"] = record->created;
    j["kek_derivation"] = record->kek_derivation;
    if (mk && !mk->kcv.empty() && mk->kcv != record->kcv)
      fail(Category::integrity, fmt::format("token '{}' holds a master key with check value {}, "
                                            "but this workspace's master is {}",
                                            ws.token().label, mk->kcv, record->kcv));
    nlohmann::json custodians = nlohmann::json::array();
    for (const auto& c : record->shares.custodians)
      custodians.push_back({{"name", c.name}, {"member_index", c.member_index + 1},
                            {"commitment", c.commitment}});
    j["custodians"] = custodians;
  }
  j["present"] = record.has_value() || mk.has_value();
  return j;
}

}  // namespace hsm
