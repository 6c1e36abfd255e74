// sign file.
#include "ceremonies/offline_sign.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
#include "ceremonies/signing_keys.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

void SignFileOptions::validate() const {
  if (format != "raw")
    fail(Category::usage, fmt::format("--format '{}' is not supported (raw)", format));
  if (!std::filesystem::is_regular_file(in))
    fail(Category::not_found, fmt::format("input file '{}' does not exist", in.string()));
  if (std::filesystem::exists(out))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an output "
                                          "file", out.string()));
}

SignResult sign_file(Workspace& ws, const SignFileOptions& o, ShareIntake intake) {
  o.validate();
  SignResult r;
  r.key = o.key;
  run_ceremony(ws, "sign.file", {{"key", o.key}, {"format", o.format}}, [&](Recorder& rec) {
    OpenSigningKey key(ws, rec, o.key, std::move(intake));
    const Bytes data = read_file(o.in, "input file");
    const Bytes sig = key.sign(data);
    // Check the signature with the recorded public key before anything is written.
    if (!crypto::verify_signature(key.record().public_key, key.record().algorithm, data, sig))
      fail(Category::integrity, fmt::format("the token's signature does not verify under key "
                                            "'{}''s recorded public key; nothing was written", o.key));
    write_new_file(o.out, sig, 0644);
    r.input_sha256 = to_hex(crypto::sha256(data));
    r.output_sha256 = to_hex(crypto::sha256(sig));
    rec.record("sign.file", {{"key", o.key}, {"algorithm", key.record().algorithm},
                             {"input", o.in.filename().string()},
                             {"input_sha256", r.input_sha256},
                             {"signature_sha256", r.output_sha256}});
    r.seq = rec.transcript().state().entries - 1;
  });
  return r;
}

}  // namespace hsm
