// Checkpoint signatures and the log's root at the checkpoint's size.
#include "core/tlog/log_check.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace hsm::tlog {

CheckpointReport check_checkpoint(std::string_view note_text, const CheckpointPolicy& policy) {
  const Note note = parse_note(note_text);
  CheckpointReport r;
  r.checkpoint = parse_checkpoint(note.text);
  for (const VerifierKey& k : policy.log_keys) {
    for (const NoteSignature& s : note.signatures) {
      if (s.name != k.name || s.key_id != k.key_id()) continue;
      if (!verify_note_signature(k, note.text, s))
        fail(Category::integrity, fmt::format("the checkpoint's signature by log key '{}' does "
                                              "not verify", k.name));
      r.log_key = k.format();
    }
  }
  if (r.log_key.empty())
    fail(Category::integrity, fmt::format("the checkpoint for '{}' is not signed by the log key "
                                          "(signed by: {})", r.checkpoint.origin,
                                          [&] {
                                            std::string names;
                                            for (const auto& s : note.signatures)
                                              names += (names.empty() ? "" : ", ") + s.name;
                                            return names;
                                          }()));
  const std::string signer = r.log_key.substr(0, r.log_key.find('+'));
  if (r.checkpoint.origin != signer)
    fail(Category::integrity, fmt::format("the checkpoint's origin '{}' is not the log key's "
                                          "name '{}'", r.checkpoint.origin, signer));
  for (const VerifierKey& w : policy.witness_keys) {
    for (const NoteSignature& s : note.signatures) {
      if (s.name != w.name || s.key_id != w.key_id()) continue;
      if (!verify_note_signature(w, note.text, s))
        fail(Category::integrity, fmt::format("the cosignature of witness '{}' does not verify",
                                              w.name));
      if (std::find(r.cosigners.begin(), r.cosigners.end(), w.name) == r.cosigners.end())
        r.cosigners.push_back(w.name);
    }
  }
  if (r.cosigners.size() < policy.min_cosigners)
    fail(Category::integrity, fmt::format("the checkpoint has {} valid cosignature{} of trusted "
                                          "witnesses; at least {} required", r.cosigners.size(),
                                          r.cosigners.size() == 1 ? "" : "s",
                                          policy.min_cosigners));
  return r;
}

void check_log_matches(std::string_view log, const Checkpoint& checkpoint) {
  MemoryTree tree;
  for (std::size_t pos = 0; pos < log.size() && tree.size() < checkpoint.size;) {
    const std::size_t nl = log.find('\n', pos);
    if (nl == std::string_view::npos) break;  // a torn last line is no entry
    tree.append(leaf_hash(as_bytes(log.substr(pos, nl - pos))));
    pos = nl + 1;
  }
  if (tree.size() < checkpoint.size)
    fail(Category::integrity, fmt::format("the log has {} entries but the checkpoint covers {}: "
                                          "it was truncated", tree.size(), checkpoint.size));
  if (tree_root(tree, checkpoint.size) != checkpoint.root)
    fail(Category::integrity, fmt::format("the log's first {} entries do not have the "
                                          "checkpoint's root: the log was rewritten (a fork)",
                                          checkpoint.size));
}

}  // namespace hsm::tlog
