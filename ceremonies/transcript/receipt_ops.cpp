// Making, checking and completing receipts (tlog-proof@v1 with the entry as extra data).
#include "ceremonies/transcript/receipt_ops.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ceremonies/transcript/checkpoint_ops.h"
#include "ceremonies/transcript/signature_events.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/tlog/proof.h"
#include "core/tlog/tree_store.h"
#include "core/transcript/appender.h"

namespace hsm {

namespace {

void check_digest(const char* what, const std::string& recorded, ByteView actual,
                  const std::string& event, std::uint64_t index) {
  if (recorded.empty())
    fail(Category::integrity, fmt::format("entry {} ({}) records no {} digest to compare with",
                                          index, event, what));
  const std::string got = to_hex(crypto::sha256(actual));
  if (got != recorded)
    fail(Category::integrity, fmt::format("the receipt's entry {} is about another {}: it records "
                                          "sha256 {}, the file given has {}", index, what,
                                          recorded, got));
}

std::string read_text(const std::filesystem::path& p) {
  const Bytes b = read_file(p, "receipt");
  return std::string(b.begin(), b.end());
}

std::size_t signature_count(const tlog::Note& n) { return n.signatures.size(); }

}  // namespace

std::string read_entry_line(const std::filesystem::path& transcript, tlog::TreeStore& tree,
                            std::uint64_t seq) {
  if (seq >= tree.size())
    fail(Category::usage, fmt::format("the transcript has no entry {} (it has {})", seq,
                                          tree.size()));
  const auto [begin, end] = tree.entry_range(seq);
  std::ifstream in(transcript, std::ios::binary);
  std::string line(end - begin - 1, '\0');
  in.seekg(static_cast<std::streamoff>(begin));
  if (!in.read(line.data(), static_cast<std::streamsize>(line.size())))
    fail(Category::general, fmt::format("cannot read entry {} of '{}'", seq, transcript.string()));
  return line;
}

void check_receipt_path(const std::filesystem::path& path) {
  if (path.empty()) fail(Category::usage, "--receipt names no file");
  if (std::filesystem::exists(std::filesystem::symlink_status(path)))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an output "
                                          "file", path.string()));
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    fail(Category::not_found, fmt::format("directory '{}' for --receipt does not exist",
                                          dir.string()));
}

std::string make_receipt(const std::filesystem::path& transcript, std::uint64_t seq) {
  transcript::Transcript t(transcript);
  return make_receipts(t, transcript, {seq}).front();
}

std::vector<std::string> make_receipts(transcript::Transcript& t,
                                       const std::filesystem::path& transcript,
                                       const std::vector<std::uint64_t>& seqs) {
  const auto note = load_checkpoint(transcript);
  const std::uint64_t size = note ? tlog::parse_checkpoint(note->text).size : 0;
  for (const std::uint64_t seq : seqs)
    if (!note || size <= seq)
      fail(Category::general, fmt::format("no checkpoint covers entry {} yet; make one with "
                                          "'hsmctl transcript checkpoint', then 'hsmctl receipt "
                                          "make --seq {}'", seq, seq));
  std::vector<std::string> out;
  if (seqs.empty()) return out;
  tlog::TreeStore& tree = t.tree();
  if (tlog::tree_root(tree, size) != tlog::parse_checkpoint(note->text).root)
    fail(Category::integrity, fmt::format("the log no longer has the root of its checkpoint of "
                                          "size {}: check it with 'hsmctl transcript verify'",
                                          size));
  for (const std::uint64_t seq : seqs) {
    tlog::InclusionProofText p;
    const std::string line = read_entry_line(transcript, tree, seq);
    p.extra = Bytes(line.begin(), line.end());
    p.index = seq;
    p.proof = tlog::inclusion_proof(tree, seq, size);
    p.checkpoint = *note;
    out.push_back(p.format());
  }
  return out;
}

ReceiptReport verify_receipt(std::string_view receipt, const tlog::CheckpointPolicy& policy,
                             const std::optional<Bytes>& input, const std::optional<Bytes>& output) {
  const tlog::InclusionProofText p = tlog::parse_inclusion_proof(receipt);
  if (!p.extra)
    fail(Category::integrity, "the receipt carries no logged entry (no 'extra' line)");
  ReceiptReport r;
  r.index = p.index;
  r.checkpoint = tlog::check_checkpoint(p.checkpoint.format(), policy);
  const tlog::Checkpoint& c = r.checkpoint.checkpoint;
  if (p.index >= c.size)
    fail(Category::integrity, fmt::format("the receipt's index {} is outside its checkpoint "
                                          "(size {})", p.index, c.size));
  if (!tlog::verify_inclusion(p.index, c.size, tlog::leaf_hash(*p.extra), p.proof, c.root))
    fail(Category::integrity, fmt::format("the inclusion proof does not lead from entry {} to "
                                          "the root of the checkpoint of size {}", p.index, c.size));
  nlohmann::json entry;
  try {
    entry = nlohmann::json::parse(p.extra->begin(), p.extra->end());
  } catch (const nlohmann::json::exception&) {
    fail(Category::integrity, fmt::format("entry {} in the receipt is not JSON", p.index));
  }
  if (!entry.is_object() || !entry.contains("seq") || !entry["seq"].is_number_unsigned() ||
      entry["seq"].get<std::uint64_t>() != p.index)
    fail(Category::integrity, fmt::format("the receipt's entry does not say seq {} (its index)",
                                          p.index));
  r.event = entry.value("event", std::string());
  r.time = entry.value("time", std::string());
  r.actor = entry.value("actor", std::string());
  if (const auto sig = signature_event(entry)) {
    r.signer = sig->signer;
    r.input_sha256 = sig->input_sha256;
    r.output_sha256 = sig->output_sha256;
  }
  if ((input || output) && r.signer.empty())
    fail(Category::integrity, fmt::format("entry {} is a '{}' event, not a signature", p.index,
                                          r.event));
  if (input) {
    check_digest("input file", r.input_sha256, *input, r.event, p.index);
    r.input_checked = true;
  }
  if (output) {
    check_digest("signature", r.output_sha256, *output, r.event, p.index);
    r.output_checked = true;
  }
  return r;
}

ReceiptUpdate update_receipt(const std::filesystem::path& transcript,
                             const std::string& configured_origin,
                             const std::filesystem::path& path) {
  const std::string text = read_text(path);
  tlog::InclusionProofText p = tlog::parse_inclusion_proof(text);
  if (!p.extra) fail(Category::integrity, "the receipt carries no logged entry (no 'extra' line)");
  transcript::Transcript t(transcript);
  tlog::TreeStore& tree = t.tree();
  const tlog::Checkpoint old = tlog::parse_checkpoint(p.checkpoint.text);
  const std::string origin = log_origin(configured_origin, tree);
  if (old.origin != origin)
    fail(Category::integrity, fmt::format("the receipt is from the log '{}', not this workspace's "
                                          "'{}'", old.origin, origin));
  if (p.index >= tree.size() ||
      read_entry_line(transcript, tree, p.index) != std::string(p.extra->begin(), p.extra->end()))
    fail(Category::integrity, fmt::format("this log does not hold the receipt's entry at index "
                                          "{}: the log was rewritten, or the receipt altered",
                                          p.index));
  if (old.size > tree.size() || tlog::tree_root(tree, old.size) != old.root)
    fail(Category::integrity, fmt::format("the receipt's checkpoint (size {}) is not a state of "
                                          "this log", old.size));
  ReceiptUpdate u;
  u.old_size = u.size = old.size;
  u.old_signatures = u.signatures = signature_count(p.checkpoint);
  tlog::Note best = p.checkpoint;
  // The same checkpoint as kept in the history, with what it collected since.
  if (auto same = load_checkpoint_of_size(transcript, old.size); same && same->text == best.text) {
    for (const auto& s : same->signatures) {
      const bool have = std::any_of(best.signatures.begin(), best.signatures.end(),
                                    [&](const tlog::NoteSignature& b) {
                                      return b.name == s.name && b.key_id == s.key_id;
                                    });
      if (!have) best.signatures.push_back(s);
    }
  }
  if (auto latest = load_checkpoint(transcript);
      latest && signature_count(*latest) > signature_count(best)) {
    const tlog::Checkpoint c = tlog::parse_checkpoint(latest->text);
    if (c.origin == origin && c.size > p.index && c.size <= tree.size() &&
        tlog::tree_root(tree, c.size) == c.root) {
      best = *latest;
      p.proof = tlog::inclusion_proof(tree, p.index, c.size);
      u.size = c.size;
    }
  }
  u.signatures = signature_count(best);
  u.changed = best.format() != p.checkpoint.format();
  if (u.changed) {
    p.checkpoint = best;
    replace_file(path, p.format(), 0644);
  }
  return u;
}

}  // namespace hsm
