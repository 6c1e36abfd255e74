// Group list, show and export-public from the keystore.
#include "ceremonies/groups/group_admin.h"

#include "ceremonies/groups/group_keys.h"
#include "core/crypto/public_key.h"

namespace hsm {

namespace {

GroupSummary summary_of(keystore::Keystore& ks, const keystore::GroupRecord& g) {
  GroupSummary out{g.name, g.algorithm, crypto::fingerprint(g.public_key), g.created,
                   g.key_version, {}};
  for (const auto& m : ks.list_group_members(g.name)) out.members.push_back(m.user);
  return out;
}

}  // namespace

std::vector<GroupSummary> group_list(Workspace& ws) {
  keystore::Keystore& ks = ws.keystore();
  std::vector<GroupSummary> out;
  for (const auto& g : ks.list_groups()) out.push_back(summary_of(ks, g));
  return out;
}

GroupSummary group_show(Workspace& ws, const std::string& name) {
  keystore::Keystore& ks = ws.keystore();
  return summary_of(ks, require_group(ks, name));
}

std::string group_public_pem(Workspace& ws, const std::string& name) {
  return crypto::spki_pem(require_group(ws.keystore(), name).public_key);
}

}  // namespace hsm
