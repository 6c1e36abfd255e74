// group sign: unlock by one member, sign once, check, record, write.
#include "ceremonies/group_sign.h"

#include <fmt/format.h>

#include "ceremonies/group_keys.h"
#include "ceremonies/recorder.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

void GroupSignOptions::validate() const {
  if (!valid_user_name(group)) fail(Category::usage, fmt::format("'{}' is not a group name", group));
  if (!valid_user_name(as)) fail(Category::usage, fmt::format("--as '{}' is not a user name", as));
  if (in.empty()) fail(Category::usage, "--in names no file to sign");
  if (out.empty()) fail(Category::usage, "--out names no signature file");
  if (!std::filesystem::is_regular_file(in))
    fail(Category::not_found, fmt::format("input file '{}' does not exist", in.string()));
  if (std::filesystem::exists(std::filesystem::symlink_status(out)))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an output "
                                          "file", out.string()));
  const auto dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    fail(Category::not_found, fmt::format("directory '{}' for --out does not exist", dir.string()));
}

GroupSignature group_sign(Workspace& ws, const GroupSignOptions& o) {
  o.validate();
  GroupSignature out;
  out.group = o.group;
  out.as = o.as;
  const nlohmann::json params{{"group", o.group}, {"as", o.as}, {"in", o.in.string()},
                              {"out", o.out.string()}};
  run_ceremony(ws, "group.sign", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);

    // 1. The member's own factors open their layer of the group key.
    const UnlockedGroup g =
        unlock_group_key(rec, ws, mk, o.group, o.as, o.factors, o.max_auth_failures);
    const UserAlgorithm& alg = group_algorithm(g.group.algorithm);

    // 2. One signature with a one-use session copy, checked against the group's public key.
    const Bytes data = read_file(o.in, "input file");
    const Bytes signature = sign_with_group_key(s, mk, g, data);

    // 3. Recorded before the file exists: a signature not in the transcript is not hsmctl's.
    out.algorithm = g.group.algorithm;
    out.signature_alg = alg.signature;
    out.key_version = g.group.key_version;
    out.fingerprint = crypto::fingerprint(g.group.public_key);
    out.file_sha256 = to_hex(crypto::sha256(data));
    out.signature_sha256 = to_hex(crypto::sha256(signature));
    out.seq = rec.record_output("group.signed", {{"group", o.group},
                                                 {"as", o.as},
                                                 {"algorithm", out.algorithm},
                                                 {"signature_alg", out.signature_alg},
                                                 {"key_version", out.key_version},
                                                 {"fingerprint", out.fingerprint},
                                                 {"file", o.in.string()},
                                                 {"file_size", data.size()},
                                                 {"file_sha256", out.file_sha256},
                                                 {"signature_sha256", out.signature_sha256},
                                                 {"out", o.out.string()}},
                                                 o.out, signature, 0644);
  });
  return out;
}

}  // namespace hsm
