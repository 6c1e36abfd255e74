// sign cert (self-signed or from a CSR) and sign csr. Checks that need no key (issuer matches
// the key, CSR signature, validity) run before the key is opened, so custodians never bring
// shares for a ceremony bound to fail; core/x509 checks them again when it signs.
#include "ceremonies/keys/x509_cert.h"

#include <fmt/format.h>

#include <ctime>

#include "ceremonies/recorder.h"
#include "ceremonies/keys/signing_keys.h"
#include "ceremonies/keys/x509_signer.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/x509/certificate.h"
#include "core/x509/name.h"
#include "core/x509/pem.h"
#include "core/x509/request.h"

namespace hsm {

namespace {

constexpr std::size_t kSerialBytes = 20;

// The issued-certificate checks that do not need the key, against the keystore's record of it.
void precheck_issue(Workspace& ws, const SignCertOptions& o, ByteView issuer, ByteView csr) {
  const x509::CertificateFacts facts = x509::read_certificate(issuer);
  const auto record = ws.keystore().find_key(o.key);
  if (record && record->public_key != facts.public_key)
    fail(Category::general, fmt::format("issuer certificate does not match the key: '{}' "
                                        "certifies another key than '{}'; give the certificate "
                                        "of this key", o.issuer_cert.string(), o.key));
  x509::read_certificate_request(csr);  // Error(integrity) when its signature does not verify
  const std::int64_t end = static_cast<std::int64_t>(std::time(nullptr)) +
                           static_cast<std::int64_t>(o.days) * 86400;
  if (end > facts.not_after)
    fail(Category::general, fmt::format("--days {} goes beyond the issuer's validity (until {}); "
                                        "choose fewer days", o.days, rfc3339(facts.not_after)));
}

}  // namespace

void SignCertOptions::validate() const {
  if (self_signed == !issuer_cert.empty() || self_signed == !csr.empty())
    fail(Category::usage, "give either --self-signed, or both --issuer-cert and --csr");
  if (self_signed && subject.empty()) fail(Category::usage, "--self-signed needs --subject");
  if (!self_signed && !subject.empty())
    fail(Category::usage, "--subject is for --self-signed; an issued certificate takes the "
                          "subject of its CSR");
  if (self_signed) x509::subject_name(subject);  // Error(usage) naming the problem
  x509::CertificateTerms terms{Bytes(kSerialBytes, 1), days, x509::profile_from_name(profile),
                               path_length};
  x509::check_terms(terms);
  if (!self_signed) {
    require_input_file(issuer_cert, "issuer certificate");
    require_input_file(csr, "CSR");
  }
  require_new_output(out);
}

void SignCsrOptions::validate() const {
  if (subject.empty()) fail(Category::usage, "--subject is missing");
  x509::subject_name(subject);
  require_new_output(out);
}

SignedArtefact sign_certificate(Workspace& ws, const SignCertOptions& o, ShareIntake intake) {
  o.validate();
  const nlohmann::json params{{"key", o.key}, {"self_signed", o.self_signed},
                              {"profile", o.profile}, {"days", o.days}};
  SignedArtefact r;
  run_ceremony(ws, "sign.cert", params, [&](Recorder& rec) {
    Bytes issuer, csr;
    if (!o.self_signed) {
      issuer = read_file(o.issuer_cert, "issuer certificate");
      csr = read_file(o.csr, "CSR");
      precheck_issue(ws, o, issuer, csr);
    }
    OpenSigningKey key(ws, rec, o.key, std::move(intake));
    TokenCertSigner signer(key);
    const x509::CertificateTerms terms{ws.login().random(kSerialBytes), o.days,
                                       x509::profile_from_name(o.profile), o.path_length};
    const Bytes der = o.self_signed ? x509::self_signed_certificate(o.subject, terms, signer)
                                    : x509::issue_certificate(csr, issuer, terms, signer);
    const std::string pem = x509::to_pem(x509::PemKind::certificate, der);
    const x509::CertificateFacts facts = x509::read_certificate(der);
    r.key = o.key;
    r.subject = facts.subject;
    r.issuer = facts.issuer;
    r.serial = facts.serial_hex;
    r.not_before = rfc3339(facts.not_before);
    r.not_after = rfc3339(facts.not_after);
    r.signed_sha256 = signer.signed_sha256();
    r.output_sha256 = to_hex(crypto::sha256(as_bytes(pem)));
    nlohmann::json event{{"key", o.key}, {"algorithm", key.record().algorithm},
                         {"profile", o.profile}, {"serial", r.serial}, {"subject", r.subject},
                         {"issuer", r.issuer}, {"not_before", r.not_before},
                         {"not_after", r.not_after}, {"tbs_sha256", r.signed_sha256},
                         {"output", o.out.filename().string()}, {"output_sha256", r.output_sha256}};
    if (!o.self_signed) event["csr_sha256"] = to_hex(crypto::sha256(csr));
    r.seq = rec.record_output("sign.cert", event, o.out, as_bytes(pem), 0644);
  });
  return r;
}

SignedArtefact sign_request(Workspace& ws, const SignCsrOptions& o, ShareIntake intake) {
  o.validate();
  SignedArtefact r;
  run_ceremony(ws, "sign.csr", {{"key", o.key}}, [&](Recorder& rec) {
    OpenSigningKey key(ws, rec, o.key, std::move(intake));
    TokenCertSigner signer(key);
    const Bytes der = x509::certificate_request(o.subject, signer);
    const std::string pem = x509::to_pem(x509::PemKind::certificate_request, der);
    r.key = o.key;
    r.subject = x509::name_text(x509::subject_name(o.subject));
    r.signed_sha256 = signer.signed_sha256();
    r.output_sha256 = to_hex(crypto::sha256(as_bytes(pem)));
    r.seq = rec.record_output("sign.csr",
                              {{"key", o.key}, {"algorithm", key.record().algorithm},
                               {"subject", r.subject}, {"tbs_sha256", r.signed_sha256},
                               {"output", o.out.filename().string()},
                               {"output_sha256", r.output_sha256}},
                              o.out, as_bytes(pem), 0644);
  });
  return r;
}

}  // namespace hsm
