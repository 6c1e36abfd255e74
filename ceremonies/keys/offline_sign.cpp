// sign file, raw or CMS. A raw signature is checked against the keystore's public key before it
// is written; a CMS one is checked by core/x509 (OpenSSL's CMS_verify) before it is returned.
#include "ceremonies/keys/offline_sign.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
#include "ceremonies/keys/signing_keys.h"
#include "ceremonies/keys/x509_signer.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/x509/certificate.h"
#include "core/x509/cms.h"

namespace hsm {

void SignFileOptions::validate() const {
  if (format != "raw" && format != "cms")
    fail(Category::usage, fmt::format("--format '{}' is not supported (raw or cms)", format));
  if (format == "cms" && cert.empty())
    fail(Category::usage, "--format cms needs --cert, the signing key's certificate");
  if (format == "raw" && !cert.empty())
    fail(Category::usage, "--cert is for --format cms; a raw signature carries no certificate");
  require_input_file(in, "input file");
  if (format == "cms") require_input_file(cert, "certificate");
  require_new_output(out);
}

SignResult sign_file(Workspace& ws, const SignFileOptions& o, ShareIntake intake) {
  o.validate();
  SignResult r;
  r.key = o.key;
  run_ceremony(ws, "sign.file", {{"key", o.key}, {"format", o.format}}, [&](Recorder& rec) {
    Bytes cert;
    if (o.format == "cms") {
      cert = read_file(o.cert, "certificate");
      const auto record = ws.keystore().find_key(o.key);
      if (record && x509::read_certificate(cert).public_key != record->public_key)
        fail(Category::general, fmt::format("certificate '{}' does not match the key '{}'; give "
                                            "the certificate of this key", o.cert.string(), o.key));
    }
    OpenSigningKey key(ws, rec, o.key, std::move(intake));
    const Bytes data = read_file(o.in, "input file");
    Bytes sig;
    if (o.format == "cms") {
      TokenCertSigner signer(key);
      sig = x509::cms_detached_signature(data, cert, signer);
    } else {
      sig = key.sign(data);
      // Check the signature with the recorded public key before anything is written.
      if (!crypto::verify_signature(key.record().public_key, key.record().algorithm, data, sig))
        fail(Category::integrity, fmt::format("the token's signature does not verify under key "
                                              "'{}''s recorded public key; nothing was written",
                                              o.key));
    }
    r.input_sha256 = to_hex(crypto::sha256(data));
    r.output_sha256 = to_hex(crypto::sha256(sig));
    nlohmann::json event{{"key", o.key}, {"algorithm", key.record().algorithm},
                         {"format", o.format}, {"input", o.in.filename().string()},
                         {"input_sha256", r.input_sha256}, {"signature_sha256", r.output_sha256}};
    if (o.format == "cms") event["certificate_serial"] = x509::read_certificate(cert).serial_hex;
    r.seq = rec.record_output("sign.file", event, o.out, sig, 0644);
  });
  return r;
}

}  // namespace hsm
