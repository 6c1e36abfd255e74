// Signing, keeping and reading the workspace's checkpoint.
#include "ceremonies/transcript/checkpoint_ops.h"
#include "ceremonies/transcript/receipt_ops.h"

#include <fcntl.h>
#include <sys/file.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "ceremonies/recorder.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

namespace {

// Held while a checkpoint is made and stored: the tree size is read under it, so a checkpoint
// kept by another process is never larger than ours unless the log really shrank.
FileLock checkpoint_lock(const std::filesystem::path& transcript) {
  return FileLock(transcript.parent_path() / "tlog" / ".checkpoint.lock");
}

}  // namespace

std::string log_origin(const std::string& configured, tlog::TreeStore& tree) {
  if (!configured.empty()) return configured;
  if (tree.size() == 0) fail(Category::general, "the transcript is empty: no log to name");
  tlog::Hash first{};
  tree.read(0, 0, std::span<tlog::Hash>(&first, 1));
  return "hsmctl/" + tlog::to_hex(first).substr(0, 16);
}

tlog::VerifierKey log_verifier_key(const std::string& origin, const Bytes& spki) {
  return tlog::VerifierKey{origin, tlog::KeyType::ecdsa, spki};
}

std::filesystem::path checkpoint_path(const std::filesystem::path& transcript) {
  return transcript.parent_path() / "tlog" / "checkpoint";
}

std::optional<tlog::Note> load_checkpoint(const std::filesystem::path& transcript) {
  std::ifstream in(checkpoint_path(transcript), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return tlog::parse_note(ss.str());
}

namespace {

std::optional<tlog::Note> load_note(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return tlog::parse_note(ss.str());
}

}  // namespace

std::filesystem::path checkpoint_history_path(const std::filesystem::path& transcript,
                                              std::uint64_t size) {
  return transcript.parent_path() / "tlog" / "checkpoints" / std::to_string(size);
}

std::optional<tlog::Note> load_checkpoint_of_size(const std::filesystem::path& transcript,
                                                  std::uint64_t size) {
  return load_note(checkpoint_history_path(transcript, size));
}

void store_checkpoint(const std::filesystem::path& transcript, const tlog::Note& note) {
  const std::uint64_t size = tlog::parse_checkpoint(note.text).size;
  const auto history = checkpoint_history_path(transcript, size);
  std::error_code ec;
  std::filesystem::create_directories(history.parent_path(), ec);
  const auto old = load_note(history);
  // A second checkpoint of one size (the log key signs again) keeps the cosignatures the first
  // collected: the text, and so what they sign, is the same.
  tlog::Note merged = note;
  if (old && old->text == note.text)
    for (const auto& s : old->signatures)
      if (s.name != note.signatures.front().name) merged.signatures.push_back(s);
  replace_file(history, merged.format(), 0644);
  replace_file(checkpoint_path(transcript), merged.format(), 0644);
}

std::vector<std::uint64_t> add_cosignatures(const std::filesystem::path& transcript,
                                            const std::string& lines,
                                            const std::vector<tlog::VerifierKey>& witnesses) {
  const FileLock lock = checkpoint_lock(transcript);
  std::vector<std::uint64_t> sizes;
  const auto dir = checkpoint_history_path(transcript, 0).parent_path();
  std::vector<std::uint64_t> known;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec))
    if (f.path().filename().string().find_first_not_of("0123456789") == std::string::npos)
      known.push_back(std::stoull(f.path().filename().string()));
  std::sort(known.rbegin(), known.rend());
  for (const tlog::NoteSignature& sig : tlog::parse_signature_lines(lines)) {
    const auto w = std::find_if(witnesses.begin(), witnesses.end(), [&](const tlog::VerifierKey& k) {
      return k.name == sig.name && k.key_id() == sig.key_id;
    });
    if (w == witnesses.end())
      fail(Category::integrity, fmt::format("a cosignature by '{}' matches none of the "
                                            "--witness-key keys", sig.name));
    bool placed = false;
    for (std::uint64_t size : known) {
      auto note = load_checkpoint_of_size(transcript, size);
      if (!note || !tlog::verify_note_signature(*w, note->text, sig)) continue;
      std::erase_if(note->signatures, [&](const tlog::NoteSignature& s) {
        return s.name == sig.name && s.key_id == sig.key_id;
      });
      note->signatures.push_back(sig);
      replace_file(checkpoint_history_path(transcript, size), note->format(), 0644);
      if (auto kept = load_checkpoint(transcript); kept && kept->text == note->text)
        replace_file(checkpoint_path(transcript), note->format(), 0644);
      sizes.push_back(size);
      placed = true;
      break;
    }
    if (!placed)
      fail(Category::integrity, fmt::format("the cosignature by '{}' verifies over none of this "
                                            "log's checkpoints", sig.name));
  }
  return sizes;
}


tlog::PublishStats publish_checkpoint_tiles(const std::filesystem::path& transcript,
                                            const tlog::Note& note,
                                            const std::filesystem::path& dir) {
  transcript::Transcript t(transcript);
  tlog::TreeStore& tree = t.tree();
  const tlog::Checkpoint c = tlog::parse_checkpoint(note.text);
  if (c.size > tree.size() || tlog::tree_root(tree, c.size) != c.root)
    fail(Category::integrity, "the kept checkpoint does not match the log; check it with "
                              "'hsmctl transcript verify --checkpoint'");
  return tlog::publish_tiles(
      tree, c.size, [&](std::uint64_t seq) { return read_entry_line(transcript, tree, seq); },
      note.format(), dir);
}

tlog::Note sign_checkpoint(transcript::Transcript& t, transcript::Signer& signer,
                           const std::string& configured_origin) {
  t.tree();  // creates DIR/tlog before its lock is taken
  const FileLock lock = checkpoint_lock(t.file());
  tlog::TreeStore& tree = t.tree();
  tlog::Checkpoint c;
  c.origin = log_origin(configured_origin, tree);
  // Never over unsigned entries at the end: a batch's own before its seal, or an unsealed tail
  // the next append cuts (docs/design.md, "Deferred signatures").
  c.size = std::min(tree.size(), t.sealed_entries());
  c.root = tlog::tree_root(tree, c.size);
  if (const auto kept = load_checkpoint(t.file())) {
    const tlog::Checkpoint old = tlog::parse_checkpoint(kept->text);
    if (old.size > c.size ||
        (old.origin == c.origin && old.size > 0 && tlog::tree_root(tree, old.size) != old.root))
      fail(Category::integrity,
           fmt::format("the log no longer contains its last checkpoint (size {}): it was "
                       "truncated or rewritten; check it with 'hsmctl transcript verify "
                       "--checkpoint {}'", old.size, checkpoint_path(t.file()).string()));
  }
  const tlog::VerifierKey key = log_verifier_key(c.origin, signer.public_key());
  tlog::Note note;
  note.text = c.text();
  note.signatures.push_back(
      {c.origin, key.key_id(), crypto::ecdsa_raw_to_der(signer.sign(as_bytes(note.text)))});
  store_checkpoint(t.file(), note);
  return note;
}

tlog::Note checkpoint_ceremony(Workspace& ws) {
  Recorder rec(ws, "transcript.checkpoint");
  try {
    rec.begin("transcript.checkpoint", nlohmann::json::object());
    rec.end_ok();
  } catch (const Error& e) {
    rec.end_failure(e);
    throw;
  }
  if (!rec.checkpoint_error().empty())
    fail(rec.checkpoint_error_category(), "no checkpoint was made: " + rec.checkpoint_error());
  auto note = load_checkpoint(rec.transcript().file());
  if (!note) fail(Category::general, "internal: the checkpoint just made is missing");
  return *note;
}

}  // namespace hsm
