// Host-side encryption to a group: no token is opened.
#include "ceremonies/data/data_encrypt.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ceremonies/data/output_file.h"
#include "ceremonies/groups/group_keys.h"
#include "ceremonies/keystore_state.h"
#include "ceremonies/users/user_layers.h"
#include "core/crypto/data_file.h"
#include "core/error.h"
#include "core/transcript/appender.h"
#include "core/transcript/canonical_json.h"

namespace hsm {

namespace {

crypto::DekContext context_of(const std::vector<std::string>& pairs) {
  crypto::DekContext c;
  for (const auto& p : pairs) crypto::add_context_pair(c, p);
  return c;
}

void check_group_name(const std::string& group) {
  if (!valid_user_name(group))
    fail(Category::usage, fmt::format("'{}' is not a group name", group));
}

}  // namespace

void DataEncryptOptions::validate() const {
  check_group_name(group);
  context_of(context);
  if (in.empty() || out.empty()) fail(Category::usage, "--in and --out are required");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(in, ec))
    fail(Category::not_found, fmt::format("input file '{}' not found", in.string()));
  refuse_existing_output(out);
}

void DekNewOptions::validate() const {
  check_group_name(group);
  context_of(context);
  if (out.empty()) fail(Category::usage, "--out is required");
  refuse_existing_output(out);
}

keystore::GroupRecord encryption_group(Workspace& ws, const std::string& name) {
  keystore::GroupRecord g = require_group(ws.keystore(), name);
  require_group_purpose(g, "encrypt");
  // The public key decides who can read the data: it must be the one the transcript recorded.
  transcript::Transcript t(ws.options().dir / "transcript.jsonl");
  require_recorded_row(ws, t, "group/" + name, fmt::format("group '{}'", name));
  return g;
}

DataEncryption data_encrypt(Workspace& ws, const DataEncryptOptions& o) {
  o.validate();
  const keystore::GroupRecord g = encryption_group(ws, o.group);
  const crypto::NewDek dek =
      crypto::new_wrapped_dek(g.name, g.key_version, g.public_key, context_of(o.context));
  const crypto::DataHeader header = crypto::make_data_header(dek.envelope);

  std::ifstream in(o.in, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("cannot open input file '{}'", o.in.string()));
  OutputFile out(o.out, 0644);
  out.write(header.bytes);
  crypto::ChunkSealer sealer(dek.dek);
  DataEncryption r{g.name, to_hex(dek.envelope.dek_id), g.key_version, 0, 0,
                   dek.envelope.context};
  Bytes plain, sealed;
  for (std::uint64_t index = 0;; ++index) {
    crypto::read_up_to(in, header.chunk_size, plain);
    // The only chunk shorter than chunk_size is the last (empty when the size is a multiple).
    const bool final = plain.size() < header.chunk_size;
    sealer.seal(header.digest, index, final, plain, sealed);
    out.write(sealed);
    r.bytes += plain.size();
    r.chunks = index + 1;
    if (final) break;
  }
  out.commit();
  return r;
}

DekNew dek_new(Workspace& ws, const DekNewOptions& o) {
  o.validate();
  const keystore::GroupRecord g = encryption_group(ws, o.group);
  crypto::NewDek dek =
      crypto::new_wrapped_dek(g.name, g.key_version, g.public_key, context_of(o.context));
  nlohmann::json j = crypto::envelope_json(dek.envelope);
  j["format"] = crypto::kDekFormat;
  write_new_file(o.out, as_bytes(transcript::canonical_json(j) + "\n"), 0644);
  return {std::move(dek.envelope), std::move(dek.dek)};
}

DekNew dek_new_envelope(Workspace& ws, const std::string& group,
                        const std::vector<std::string>& context) {
  check_group_name(group);
  const crypto::DekContext c = context_of(context);
  const keystore::GroupRecord g = encryption_group(ws, group);
  crypto::NewDek dek = crypto::new_wrapped_dek(g.name, g.key_version, g.public_key, c);
  return {std::move(dek.envelope), std::move(dek.dek)};
}

}  // namespace hsm
