// A member decrypts: unlock the group key, unwrap the DEK on the token, decrypt or open.
#include "ceremonies/data/data_decrypt.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ceremonies/data/dek_unwrap.h"
#include "ceremonies/data/output_file.h"
#include "ceremonies/groups/group_keys.h"
#include "ceremonies/recorder.h"
#include "core/crypto/data_file.h"
#include "core/error.h"
#include "core/pkcs11/data_keys.h"
#include "core/pkcs11/templates.h"

namespace hsm {

namespace {

nlohmann::json event_of(const crypto::DekEnvelope& e, const std::string& as) {
  nlohmann::json ctx = nlohmann::json::object();
  for (const auto& [k, v] : e.context) ctx[k] = v;
  return {{"user", as}, {"group", e.group}, {"key_version", e.key_version},
          {"dek_id", to_hex(e.dek_id)}, {"context", ctx}};
}

// Unlocks the group the envelope names for `o.as` (refusals recorded by unlock_group_key).
UnlockedGroup unlock_for(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                         const crypto::DekEnvelope& e, const DataDecryptOptions& o) {
  require_group_purpose(require_group(ws.keystore(), e.group), "encrypt");
  return unlock_group_key(rec, ws, mk, e.group, o.as, o.factors, o.max_auth_failures,
                          e.key_version);
}

[[noreturn]] void chunk_fails(const DataDecryptOptions& o, std::uint64_t index,
                              const std::string& why) {
  fail(Category::integrity, fmt::format("chunk {} of '{}' {}: the file was changed, truncated or "
                                        "its chunks reordered; nothing was written", index,
                                        o.in.string(), why));
}

}  // namespace

void DataDecryptOptions::validate() const {
  if (!valid_user_name(as)) fail(Category::usage, fmt::format("--as '{}' is not a user name", as));
  std::error_code ec;
  if (!envelope && !std::filesystem::is_regular_file(in, ec))
    fail(Category::not_found, fmt::format("input file '{}' not found", in.string()));
  if (!out.empty()) refuse_existing_output(out);
}

DataDecryption data_decrypt(Workspace& ws, const DataDecryptOptions& o) {
  o.validate();
  const nlohmann::json params{{"as", o.as}, {"in", o.in.string()}, {"out", o.out.string()}};
  return run_ceremony(ws, "data.decrypt", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    std::ifstream in(o.in, std::ios::binary);
    if (!in) fail(Category::not_found, fmt::format("input file '{}' not found", o.in.string()));
    const crypto::DataHeader header = crypto::read_data_header(in, "'" + o.in.string() + "'");

    // 1. The member's own factors open their layer; the DEK is unwrapped on the token.
    const UnlockedGroup g = unlock_for(rec, ws, mk, header.envelope, o);
    p11::Template t = p11::data_decryption_key();
    const p11::SessionObject dek = unwrap_dek(s, mk, g, header.envelope, t);

    // 2. Each chunk decrypted by the token into the temp file; only a full chunk is not final.
    DataDecryption r{header.envelope, 0, 0, 0};
    OutputFile out(o.out, 0600);
    const std::size_t record = header.chunk_size + crypto::kChunkTagSize;
    Bytes sealed, plain;
    for (std::uint64_t index = 0;; ++index) {
      crypto::read_up_to(in, record, sealed);
      if (sealed.size() < crypto::kChunkTagSize) chunk_fails(o, index, "is missing");
      const bool final = sealed.size() < record;
      if (!p11::gcm_decrypt_into(s, dek.handle(), crypto::chunk_nonce(index),
                                 crypto::chunk_aad(header.digest, index, final), sealed, plain))
        chunk_fails(o, index, "does not authenticate");
      out.write(plain);
      r.bytes += plain.size();
      r.chunks = index + 1;
      if (final) break;
    }
    if (in.peek() != std::char_traits<char>::eof())
      chunk_fails(o, r.chunks, "follows the final chunk");

    // 3. Recorded before the plaintext appears under its name.
    nlohmann::json event = event_of(header.envelope, o.as);
    event["bytes"] = r.bytes;
    r.seq = rec.record("data.decrypted", event);
    out.commit();
    return r;
  });
}

DekOpened dek_open(Workspace& ws, const DataDecryptOptions& o) {
  o.validate();
  nlohmann::json params{{"as", o.as}, {"in", o.in.string()}};
  if (!o.client.empty()) params = {{"as", o.as}, {"via", "serve"}, {"client", o.client}};
  return run_ceremony(ws, "dek.open", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    const crypto::DekEnvelope e = o.envelope ? *o.envelope : read_envelope_file(o.in).envelope;
    const UnlockedGroup g = unlock_for(rec, ws, mk, e, o);
    DekOpened r{e, {}, 0};
    {
      p11::Template t = p11::opened_data_key();
      const p11::SessionObject key = unwrap_dek(s, mk, g, e, t);
      r.dek = p11::secret_key_value(s, key.handle(), crypto::kDekSize);
    }
    // Recorded before the caller prints it.
    nlohmann::json event = event_of(e, o.as);
    if (!o.client.empty()) event["client_fingerprint"] = o.client;
    r.seq = rec.record("dek.opened", event);
    return r;
  });
}

}  // namespace hsm
