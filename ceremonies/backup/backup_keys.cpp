// Backup contents, the BK tag, and putting escrow blobs back on a token (all or nothing).
#include "ceremonies/backup/backup_keys.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sodium.h>
#include <stdlib.h>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/keys/signing_keys.h"
#include "ceremonies/transcript/transcript_key.h"
#include "core/crypto/public_key.h"
#include "core/crypto/secret_ops.h"
#include "core/error.h"
#include "core/test_hooks.h"
#include "core/pkcs11/objects.h"
#include "core/transcript/appender.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

const char* kTranscriptPurpose = "transcript";

std::string mechanism_name(p11::SignMechanism m) {
  switch (m) {
    case p11::SignMechanism::ecdsa_sha256: return "ecdsa-sha256";
    case p11::SignMechanism::ecdsa_sha384: return "ecdsa-sha384";
    case p11::SignMechanism::rsa_pss_sha256: return "rsa-pss-sha256";
    case p11::SignMechanism::rsa_pkcs1_sha256: return "rsa-pkcs1-sha256";
    case p11::SignMechanism::eddsa: return "eddsa";
  }
  return "unknown";
}

std::string object_label(const std::string& label, const std::string& purpose) {
  return purpose == kTranscriptPurpose ? kTranscriptKeyLabel : token_label(label);
}

// Signs with the token key and verifies with the recorded public key on the host.
void self_test(const p11::Session& s, p11::KeyHandle key, const backup::KeyEntry& e) {
  const SigningAlgorithm& a = signing_algorithm(e.algorithm);
  const Bytes data = to_bytes("hsmctl backup restore check " + e.key_id);
  Bytes sig = p11::sign(s, key, a.mechanism, data);
  if (a.mechanism == p11::SignMechanism::ecdsa_sha256 ||
      a.mechanism == p11::SignMechanism::ecdsa_sha384)
    sig = crypto::ecdsa_raw_to_der(sig);
  if (!crypto::verify_signature(e.public_key, e.algorithm, data, sig))
    fail(Category::integrity, fmt::format("the token key for '{}' does not sign for its recorded "
                                          "public key; nothing was restored", e.label));
}

}  // namespace

backup::Contents collect_backup(Workspace& ws, const std::string& kcv) {
  keystore::Keystore& ks = ws.keystore();
  backup::Contents c;
  c.created = transcript::utc_now_rfc3339();
  c.kcv = kcv;
  if (const auto m = ks.master()) c.kek_derivation = m->kek_derivation;
  c.keystore = ks.export_all();
  c.schema = c.keystore.value("schema", 0);
  transcript::Transcript t(ws.options().dir / "transcript.jsonl");
  const auto state = t.state();
  c.transcript_seq = state.entries;
  c.transcript_head = state.head;
  for (const auto& k : ks.list_keys()) {
    if (k.escrow == "none" || !k.wrapped_key) {
      c.not_backed_up.push_back(k.label);
      continue;
    }
    backup::KeyEntry e{k.label, k.key_id, k.algorithm, k.purpose, k.escrow, k.quorum, "", "",
                       *k.wrapped_key, k.public_key};
    if (k.escrow == "mk-wrap") {
      e.token_label = object_label(k.label, k.purpose);
      e.mechanism = mechanism_name(signing_algorithm(k.algorithm).mechanism);
    }
    c.keys.push_back(std::move(e));
  }
  return c;
}

Bytes backup_tag(const Secret& master, ByteView authenticated) {
  return crypto::hmac_sha256_tag(derive_backup_key(master), authenticated);
}

void check_backup_tag(const Secret& master, const backup::Envelope& envelope) {
  const Bytes expected = backup_tag(master, envelope.authenticated);
  if (expected.size() != envelope.tag.size() ||
      sodium_memcmp(expected.data(), envelope.tag.data(), expected.size()) != 0)
    fail(Category::integrity, "the backup file's HMAC does not match: it was changed after the "
                              "quorum made it, or it was not made by this master's quorum");
}

std::optional<keystore::MasterRecord> master_in_export(const nlohmann::json& doc) {
  char tmpl[] = "/tmp/hsmctl-backup-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    fail(Category::general, "cannot make a temporary directory to read the backup's keystore");
  const std::filesystem::path dir(tmpl);
  std::optional<keystore::MasterRecord> out;
  try {
    keystore::Keystore ks(dir);
    ks.import_all(doc);
    out = ks.master();
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return out;
}

Secret recover_checked(const keystore::ShareSet& set, const std::string& kcv, ShareIntake intake) {
  Secret s = recover_master_secret(set, intake);
  const std::string got = master_kcv(s);
  if (got != kcv)
    fail(Category::integrity, fmt::format("the shares give a master key with check value {}, "
                                          "but the backup was made under {}", got, kcv));
  return s;
}

std::string current_transcript_key_id(const Workspace& ws) {
  return transcript::Transcript(ws.options().dir / "transcript.jsonl").state().current_key_id;
}

void destroy_all(const p11::Session& s, const std::vector<p11::KeyHandle>& handles) noexcept {
  for (auto it = handles.rbegin(); it != handles.rend(); ++it) try {
      p11::destroy_object(s, *it);
    } catch (...) {
    }
}

InstalledKeys install_backup_keys(const p11::Session& s, p11::KeyHandle wrap,
                                  const std::vector<backup::KeyEntry>& keys, bool skip_existing,
                                  const std::string& signing_key_id) {
  InstalledKeys out;
  std::vector<const backup::KeyEntry*> todo;
  std::vector<std::string> in_the_way;  // keys already there, reported together
  // First pass: what is there already. Nothing is made until every key has been looked at.
  for (const auto& e : keys) {
    if (e.escrow != "mk-wrap") continue;  // quorum keys have no token object
    const Bytes id = from_hex(e.key_id);
    const std::string label = object_label(e.label, e.purpose);
    const auto priv = p11::find_private_key(s, id);
    const bool label_taken = !p11::find_by_label(s, label).empty();
    const bool signs_next = e.purpose == kTranscriptPurpose && !signing_key_id.empty() &&
                            e.key_id == signing_key_id;
    if (!priv && (!label_taken || signs_next)) {
      todo.push_back(&e);
      continue;
    }
    if (!priv && e.purpose == kTranscriptPurpose) {
      // This workspace signs with a transcript key of its own (master restore made it in an
      // empty workspace); the backup's is not needed to sign on and stays escrowed.
      out.skipped.push_back(e.label);
      continue;
    }
    if (!priv)
      fail(Category::not_found, fmt::format("token holds an object labelled '{}' that is not key "
                                            "'{}' of the backup; remove it first", label, e.label));
    if (!skip_existing && e.purpose != kTranscriptPurpose) in_the_way.push_back(e.label);
    out.skipped.push_back(e.label);
  }
  if (!in_the_way.empty())
    fail(Category::not_found,
         fmt::format("token already holds {} of the backup's {} key(s): {}; add --skip-existing "
                     "to keep them (each is checked against the backup's public key)",
                     in_the_way.size(), todo.size() + out.skipped.size(),
                     fmt::join(in_the_way, ", ")));
  try {
    for (const auto& e : keys) {
      if (e.escrow != "mk-wrap") continue;
      bool skipped = false;
      for (const auto& l : out.skipped) skipped = skipped || l == e.label;
      if (!skipped) continue;
      const Bytes id = from_hex(e.key_id);
      const auto priv = p11::find_private_key(s, id);
      if (!priv) continue;  // a transcript key this workspace does without (above)
      self_test(s, *priv, e);
      if (!p11::find_public_key(s, id)) {  // an interrupted restore may have left only half
        const SigningAlgorithm& a = signing_algorithm(e.algorithm);
        const crypto::PublicParts parts = crypto::public_parts(e.public_key);
        auto t = p11::token_public_key(a.algorithm, object_label(e.label, e.purpose), id,
                                       parts.ec_point, parts.modulus, parts.exponent);
        out.created.push_back(p11::create_object(s, t));
      }
    }
    for (const backup::KeyEntry* e : todo) {
      const SigningAlgorithm& a = signing_algorithm(e->algorithm);
      const Bytes id = from_hex(e->key_id);
      const p11::KeyPair pair =
          install_escrowed(s, {a.algorithm, e->wrapped_key, e->public_key}, wrap,
                           object_label(e->label, e->purpose), id, {a.mechanism});
      out.created.push_back(pair.private_key);
      out.created.push_back(pair.public_key);
      self_test(s, pair.private_key, *e);
      out.restored.push_back(e->label);
      test_hook("backup.restore.key-installed");
    }
  } catch (...) {
    destroy_all(s, out.created);
    throw;
  }
  return out;
}

}  // namespace hsm
