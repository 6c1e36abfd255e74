// master init as a straight sequence of steps, each recorded in the transcript.
#include "ceremonies/master/master_init.h"

#include "ceremonies/token/token_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sodium.h>

#include <set>

#include "ceremonies/master/commitments.h"
#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "ceremonies/master/share_issue.h"
#include "ceremonies/master/shares.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/objects.h"
#include "core/shamir/slip39.h"
#include "core/test_hooks.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

constexpr int kMaxCustodians = 16;

// S = token RNG XOR OS RNG: neither source alone decides the master secret.
Secret new_master_secret(const p11::Session& s) {
  Secret master = s.random_secret(32);
  Secret os(32);
  randombytes_buf(os.data(), os.size());
  for (size_t i = 0; i < 32; ++i) master.data()[i] ^= os.data()[i];
  return master;
}

}  // namespace

nlohmann::json set_params(const ShareSetPlan& o) {
  if (o.groups.empty()) return {{"threshold", o.threshold}, {"custodians", o.custodians}};
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : o.groups)
    groups.push_back({{"name", g.name}, {"threshold", g.threshold}, {"custodians", g.custodians}});
  return {{"group_threshold", o.group_threshold}, {"groups", groups}};
}

bool valid_custodian_name(const std::string& name) {
  if (name.empty() || name.size() > 32 || name[0] == '.' || name[0] == '-') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

std::vector<std::string> ShareSetPlan::all_custodians() const {
  if (groups.empty()) return custodians;
  std::vector<std::string> all;
  for (const auto& g : groups) all.insert(all.end(), g.custodians.begin(), g.custodians.end());
  return all;
}

void ShareSetPlan::validate() const {
  if (!groups.empty() || group_threshold != 0) {
    if (threshold != 0 || !custodians.empty())
      fail(Category::usage, "give --threshold and --custodians, or --group and "
                            "--group-threshold, not both");
    if (groups.empty()) fail(Category::usage, "--group-threshold needs --group NAME:M:a,b,c");
    validate_share_groups(groups, group_threshold, allow_single_custodian);
    delivery.validate(all_custodians());
    return;
  }
  if (threshold == 0 && custodians.empty())
    fail(Category::usage, "give --threshold M and --custodians a,b,c (or --group and "
                          "--group-threshold for a set of groups)");
  const int n = static_cast<int>(custodians.size());
  if (n == 0)
    fail(Category::usage, "--custodians is required with --threshold (or give --group and "
                          "--group-threshold for a set of groups)");
  if (threshold < 1)
    fail(Category::usage, "--threshold must be at least 1 (it is required with --custodians)");
  if (n > kMaxCustodians)
    fail(Category::usage, fmt::format("{} custodians given; SLIP-0039 allows at most {}", n,
                                      kMaxCustodians));
  std::set<std::string> seen;
  for (const auto& c : custodians) {
    if (!valid_custodian_name(c))
      fail(Category::usage, fmt::format("custodian name '{}' must be 1-32 letters, digits, '.', "
                                        "'_' or '-'", c));
    if (!seen.insert(c).second)
      fail(Category::usage, fmt::format("custodian '{}' is named twice", c));
  }
  if (threshold < 1) fail(Category::usage, "--threshold must be at least 1");
  if (threshold > n)
    fail(Category::usage, fmt::format("--threshold {} is more than the {} custodians", threshold, n));
  // One rule, one message: a threshold of 1 is allowed only as 1-of-1 with the flag, so the
  // message never sends the user to the flag and then away from it.
  if (threshold == 1 && (n > 1 || !allow_single_custodian))
    fail(Category::usage, fmt::format("--threshold 1 (a 1-of-{} share set) lets one person "
                                      "restore the master key; it is allowed only with a single "
                                      "custodian and --allow-single-custodian; otherwise use "
                                      "--threshold 2 or more", n));
  delivery.validate(custodians);
}

MasterInitResult master_init(Workspace& ws, const MasterInitOptions& o, CustodianConsole* console) {
  o.validate();
  const std::vector<std::string> names = o.all_custodians();
  if (o.delivery.any_on_terminal(names) && console == nullptr)
    fail(Category::usage, "no terminal to show the shares on; use --shares-out DIR or --cards DIR");
  MasterInitResult result;
  result.threshold = o.groups.empty() ? o.threshold : o.group_threshold;
  const nlohmann::json params = set_params(o);
  run_ceremony(ws, "master.init", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    // Before the master keys are made (a provisional transcript key made for this ceremony was
    // preceded by the same check, see Recorder): a token that cannot keep the custody contract
    // is left as it is.
    require_capable_token(ws, "master init", "nothing was changed on it");
    if (find_master_keys(s))
      fail(Category::not_found, fmt::format("token '{}' already holds a master key; use 'master "
                                            "reshare' for new shares", ws.token().label));
    keystore::Keystore& ks = ws.keystore();
    if (ks.master())
      fail(Category::not_found, fmt::format("workspace '{}' already has a master key record",
                                            ws.options().dir.string()));

    // The KEK derivation, chosen by trying it on session objects, before anything is made.
    const p11::KekDerivation derivation =
        choose_derivation(s, o.kek_derivation, ws.token().label);
    result.kek_derivation = p11::kek_derivation_name(derivation);

    // 1. S, its shares and their commitments, all in locked memory.
    const Secret master = new_master_secret(s);
    IssuedShares issued = o.groups.empty()
                              ? split_for_custodians(master, o.threshold, o.custodians)
                              : split_for_groups(master, o.group_threshold, o.groups);
    keystore::ShareSet& set = issued.set;
    for (const auto& c : set.custodians) result.commitments.emplace_back(c.name, c.commitment);
    result.identifier = set.identifier;

    // 2. Hand out the shares before anything is put on the token: custodians who stop half
    //    way (Ctrl-C at a prompt) leave the token as it was. Files: all or none, and a clean-up
    //    removes only the files this run created.
    HandedOut handed;
    auto note_shares = [&](const char* step) {
      rec.progress(step, {{"shares_shown", handed.given}, {"shares_void", !handed.given.empty()},
                          {"share_files", !o.delivery.any_on_terminal(names)}});
      if (handed.given.empty()) return rec.on_abort_say("no share was handed out and nothing was kept");
      rec.on_abort_say(fmt::format(
          "nothing was kept on the token or in the workspace{}; the shares {} to {} are void "
          "(their master was never kept): destroy every copy", handed.files.empty() ? "" :
          ", and the share files it wrote were removed", handed.files.empty() ? "shown" :
          "handed out",
          fmt::join(handed.given, ", ")));
    };
    handed.on_give = [&] { note_shares("hand out shares"); };
    note_shares("hand out shares");
    CardFacts facts;
    facts.workspace = ws.token().label;
    facts.kcv = master_kcv(master);
    facts.issued = transcript::utc_now_rfc3339();
    facts.identifier = set.identifier;
    facts.threshold = o.threshold;
    facts.members = static_cast<int>(names.size());
    hand_out(issued, names, o.delivery, facts, console, handed);
    result.delivery = handed.delivery;
    if (!o.groups.empty()) result.groups = set_params(o)["groups"];
    result.share_files = handed.paths;
    note_shares("put the master keys on the token");
    test_hook("master-init.after-shares");

    // 3. The keys on the token: MK-wrap, MK-derive, then the escrowed transcript key.
    MasterKeys mk;
    try {
      mk = import_master_keys(s, master, derivation);
    } catch (...) {
      take_back(handed);
      throw;
    }
    test_hook("master-init.after-token-keys");
    result.kcv = mk.kcv;
    std::unique_ptr<TokenSigner> escrowed;
    std::vector<p11::KeyHandle> created{mk.wrap, mk.derive};
    // The public commitments file (for verify-share without the workspace), in the workspace;
    // the transcript records its name and SHA-256.
    const CommitmentsFile commitments = commitments_file(set);
    const std::filesystem::path commitments_path = ws.options().dir / commitments.name;
    bool commitments_written = false;
    try {
      EscrowedTranscriptKey tk = create_escrowed_transcript_key(s, mk.wrap);
      created.push_back(tk.pair.private_key);
      created.push_back(tk.pair.public_key);
      escrowed = std::make_unique<TokenSigner>(s, tk.pair, tk.key.spki, tk.id);
      test_hook("master-init.after-transcript-key");

      // 4. Remember (keystore), record with the state it makes, let the escrowed key sign on,
      // then commit: the keystore never holds a master the transcript does not, and a token
      // that fails before the commit leaves no master record behind the rollback below.
      keystore::Transaction tx(ks);
      set.created = transcript::utc_now_rfc3339();
      set.created_seq = static_cast<std::int64_t>(rec.transcript().state().entries);
      ks.save_master({mk.kcv, set.created, set.created_seq, true, set, result.kek_derivation});
      ks.insert_key(transcript_key_record(tk, set.created));
      nlohmann::json data = set_params(o);
      data["custodians"] = issued.custodians;
      data.update(nlohmann::json{{"identifier", set.identifier}, {"extendable", true},
                               {"iteration_exponent", set.iteration_exponent}, {"kcv", mk.kcv},
                               {"commitments_file", commitments.name},
                               {"commitments_sha256", commitments.sha256},
                               {"delivery", handed.delivery},
                               {"kek_derivation", result.kek_derivation}});
      result.seq = rec.record("master.init", data);
      if (result.seq != static_cast<std::uint64_t>(set.created_seq))
        fail(Category::general, "internal: the transcript grew while master init held the "
                                "workspace lock");
      rec.change_key(std::move(escrowed), "escrowed");
      write_new_file(commitments_path, as_bytes(commitments.text), 0644);
      commitments_written = true;
      result.commitments_file = commitments_path;
      result.commitments_sha256 = commitments.sha256;
      test_hook("master-init.before-commit");
      tx.commit();
      test_hook("master-init.after-commit");
    } catch (...) {
      for (p11::KeyHandle h : created) try {
          p11::destroy_object(s, h);
        } catch (const Error&) {
        }
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

}  // namespace hsm
