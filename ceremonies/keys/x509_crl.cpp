// sign crl: new revocations and the next CRL number are taken in one keystore transaction that
// commits only once the token's CRL has verified, so a failed ceremony leaves no trace there.
#include "ceremonies/keys/x509_crl.h"

#include <fmt/format.h>

#include <ctime>
#include <set>

#include "ceremonies/recorder.h"
#include "ceremonies/keys/signing_keys.h"
#include "ceremonies/keys/x509_signer.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/keystore/keystore.h"
#include "core/transcript/entry.h"
#include "core/x509/certificate.h"
#include "core/x509/crl.h"
#include "core/x509/pem.h"

namespace hsm {

namespace {

constexpr int kMaxDays = 36525;

std::vector<x509::Revoked> parse_revocations(const std::vector<std::string>& texts) {
  std::vector<x509::Revoked> out;
  std::set<std::string> seen;
  for (const std::string& t : texts) {
    out.push_back(x509::revocation_from_text(t));
    if (!seen.insert(out.back().serial_hex).second)
      fail(Category::usage, fmt::format("--revoke lists serial {} twice", out.back().serial_hex));
  }
  return out;
}

// Every revocation the keystore holds for `label`, as the CRL lists them.
std::vector<x509::Revoked> recorded_revocations(keystore::Keystore& ks, const std::string& label) {
  std::vector<x509::Revoked> out;
  for (const keystore::Revocation& r : ks.list_revocations(label))
    out.push_back({r.serial, x509::revocation_reason_from_name(r.reason),
                   seconds_from_rfc3339(r.revoked)});
  return out;
}

}  // namespace

void SignCrlOptions::validate() const {
  parse_revocations(revoke);
  if (next_update_days < 1 || next_update_days > kMaxDays)
    fail(Category::usage, fmt::format("--next-update must be between 1 and {} days", kMaxDays));
  require_input_file(issuer_cert, "issuer certificate");
  require_new_output(out);
}

SignedArtefact sign_crl(Workspace& ws, const SignCrlOptions& o, ShareIntake intake) {
  o.validate();
  const auto fresh = parse_revocations(o.revoke);
  SignedArtefact r;
  const nlohmann::json params{{"key", o.key}, {"revoke", fresh.size()},
                              {"next_update_days", o.next_update_days}};
  run_ceremony(ws, "sign.crl", params, [&](Recorder& rec) {
    const Bytes issuer = read_file(o.issuer_cert, "issuer certificate");
    keystore::Keystore& ks = ws.keystore();
    const x509::CertificateFacts facts = x509::read_certificate(issuer);
    if (const auto record = ks.find_key(o.key); record && record->public_key != facts.public_key)
      fail(Category::general, fmt::format("issuer certificate does not match the key: '{}' "
                                          "certifies another key than '{}'; give the certificate "
                                          "of this key", o.issuer_cert.string(), o.key));
    OpenSigningKey key(ws, rec, o.key, std::move(intake));
    TokenCertSigner signer(key);
    const std::string now = transcript::utc_now_rfc3339();
    keystore::Transaction tx(ks);
    nlohmann::json serials = nlohmann::json::array();
    for (const x509::Revoked& f : fresh) {
      ks.add_revocation(o.key, {f.serial_hex, x509::revocation_reason_name(f.reason), now});
      serials.push_back({{"serial", f.serial_hex}, {"reason", x509::revocation_reason_name(f.reason)}});
    }
    const auto listed = recorded_revocations(ks, o.key);
    r.crl_number = ks.next_crl_number(o.key);
    const std::time_t this_update = std::time(nullptr);
    const Bytes der = x509::crl(issuer, listed, r.crl_number, o.next_update_days, signer);
    tx.commit();
    const std::string pem = x509::to_pem(x509::PemKind::crl, der);
    r.key = o.key;
    r.issuer = facts.subject;
    r.not_before = rfc3339(this_update);
    r.not_after = rfc3339(this_update + static_cast<std::time_t>(o.next_update_days) * 86400);
    r.signed_sha256 = signer.signed_sha256();
    r.output_sha256 = to_hex(crypto::sha256(as_bytes(pem)));
    r.seq = rec.record_output("sign.crl",
                              {{"key", o.key}, {"algorithm", key.record().algorithm},
                               {"issuer", r.issuer}, {"crl_number", r.crl_number},
                               {"revoked", serials}, {"listed", listed.size()},
                               {"next_update", r.not_after}, {"tbs_sha256", r.signed_sha256},
                               {"output", o.out.filename().string()},
                               {"output_sha256", r.output_sha256}},
                              o.out, as_bytes(pem), 0644);
  });
  return r;
}

}  // namespace hsm
