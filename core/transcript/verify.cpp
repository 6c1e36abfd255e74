// The verifier. Each check names the first seq it fails at; nothing after a failure is trusted.
#include "core/transcript/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/entry.h"

namespace hsm::transcript {

namespace {

struct Key {
  Bytes spki;
  crypto::Pkey pkey;
  std::string fingerprint;
};

Key load_key(const Entry& e) {
  if (e.data.value("alg", "") != kAlgorithm)
    fail(Category::integrity, fmt::format("unsupported key algorithm '{}'", e.data.value("alg", "")));
  Key k;
  k.spki = from_base64(e.data.value("public_key", ""));
  k.pkey = crypto::load_spki(k.spki);
  if (!crypto::is_p256(k.pkey.get()))
    fail(Category::integrity, "the transcript key is not an ECDSA P-256 key");
  k.fingerprint = crypto::fingerprint(k.spki);
  return k;
}

bool signed_by(const Entry& e, const Key& k) {
  Bytes sig;
  try {
    sig = from_base64(e.sig);
  } catch (const Error&) {
    return false;
  }
  return crypto::verify_ecdsa_sha256(k.pkey.get(), from_hex(e.hash), sig);
}

}  // namespace

VerifyReport verify_transcript(std::string_view content, const VerifyOptions& options) {
  VerifyReport r;
  std::string prev = kZeroHash;
  std::optional<Key> current;
  std::set<std::string> ceremonies;
  std::uint64_t seq = 0;
  auto bad = [&](std::string reason) {
    r.bad_seq = seq;
    r.reason = std::move(reason);
    return r;
  };
  size_t pos = 0;
  std::uint64_t lines = 0;
  while (pos < content.size()) {
    if (options.on_progress && ++lines % 256 == 0) options.on_progress(pos, content.size());
    const size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) {
      r.torn_last_line = true;
      return bad("torn last line (an interrupted write); 'hsmctl transcript verify --repair' "
                 "cuts it");
    }
    const std::string_view line = content.substr(pos, nl - pos);
    pos = nl + 1;
    Entry e;
    try {
      e = entry_from_json(parse_canonical_line(line));
    } catch (const Error& err) {
      return bad(err.what());
    }
    if (e.seq != seq)
      return bad(fmt::format("found seq {} where {} was expected (an entry was deleted, inserted "
                             "or moved)", e.seq, seq));
    if (e.prev != prev)
      return bad("prev does not match the hash of the entry before (an entry was deleted, "
                 "inserted or moved)");
    if (body_hash(e) != e.hash) return bad("hash does not match the entry's content");
    try {
      if (seq == 0) {
        if (e.event != "transcript.open") return bad("the first entry is not transcript.open");
        current = load_key(e);
        if (options.trusted_key && *options.trusted_key != current->spki)
          return bad("the transcript was opened with a different key than --pubkey");
        r.trusted_first_key = !options.trusted_key;
        r.first_key_fingerprint = current->fingerprint;
        r.keys.push_back(current->spki);
        if (!signed_by(e, *current)) return bad("signature does not verify under the opening key");
      } else if (e.event == "transcript.key") {
        Key next = load_key(e);
        const bool endorsed = e.data.value("endorsed", true);
        if (!signed_by(e, endorsed ? *current : next))
          return bad(endorsed ? "key change is not signed by the key before it (bad endorsement)"
                              : "unendorsed key change is not signed by its own key");
        if (!endorsed && options.strict)
          return bad("unendorsed key change (--strict)");
        r.key_changes.push_back({seq, current->fingerprint, next.fingerprint, endorsed});
        r.keys.push_back(next.spki);
        current = std::move(next);
      } else {
        if (e.event == "transcript.open") return bad("transcript.open after the first entry");
        if (!signed_by(e, *current))
          return bad("signature does not verify under the current transcript key");
      }
    } catch (const Error& err) {
      return bad(err.what());
    } catch (const nlohmann::json::exception&) {
      return bad("a key entry's data has fields of the wrong type");
    }
    ceremonies.insert(e.ceremony);
    prev = e.hash;
    r.head = e.hash;
    r.entries = ++seq;
  }
  r.ceremonies = ceremonies.size();
  if (r.entries == 0) return bad("the transcript is empty");
  std::string expected = options.head.value_or("");
  std::transform(expected.begin(), expected.end(), expected.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (options.head && expected != r.head) {
    // Where is the expected head? Earlier: entries were appended after it; nowhere: truncated.
    size_t at = content.find("\"hash\":\"" + expected + "\"");
    if (at != std::string_view::npos) {
      const std::uint64_t n = static_cast<std::uint64_t>(
          std::count(content.begin(), content.begin() + static_cast<long>(at), '\n'));
      seq = n + 1;
      return bad(fmt::format("the transcript goes on after the expected head (seq {}): entries "
                             "were added after it", n));
    }
    seq = r.entries;
    return bad(fmt::format("the transcript ends at {} and never reaches the expected head: "
                           "entries were cut off", r.head));
  }
  r.ok = true;
  return r;
}

}  // namespace hsm::transcript
