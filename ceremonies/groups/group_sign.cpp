// group sign: unlock by one member, sign once, check, record, write.
#include "ceremonies/groups/group_sign.h"

#include <fmt/format.h>

#include "ceremonies/keys/file_signature.h"
#include "ceremonies/groups/group_keys.h"
#include "ceremonies/recorder.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

void GroupSignOptions::validate() const {
  if (!valid_user_name(group)) fail(Category::usage, fmt::format("'{}' is not a group name", group));
  if (!valid_user_name(as)) fail(Category::usage, fmt::format("--as '{}' is not a user name", as));
  check_sign_files(in, out);
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

    // 1. The member's own factors open their layer of the group key (a signing group's only:
    // an encryption group is refused before any factor is asked for or counted).
    require_group_purpose(require_group(ws.keystore(), o.group), "sign");
    const UnlockedGroup g =
        unlock_group_key(rec, ws, mk, o.group, o.as, o.factors, o.max_auth_failures);
    const UserAlgorithm& alg = group_algorithm(g.group.algorithm);

    // 2. One signature with a one-use session copy, checked against the group's public key.
    const Bytes data = read_file(o.in, "input file");
    const Bytes signature = sign_with_group_key(s, mk, g, data);

    // 3. Recorded before the file exists: a signature not in the transcript is not hsmctl's.
    static_cast<FileSignature&>(out) =
        record_file_signature(rec, "group.signed", {{"group", o.group}, {"as", o.as}},
                              g.group.algorithm, alg.signature, g.group.key_version,
                              g.group.public_key, o.in, data, o.out, signature);
  });
  return out;
}

}  // namespace hsm
