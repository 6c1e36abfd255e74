// Per-line checks: strict parse, body hash from the line's own bytes, ECDSA under an expected
// key with OpenSSL contexts set up once per key and thread.
#include "core/transcript/line_check.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/transcript/canonical_json.h"

namespace hsm::transcript {

namespace {

// The members after `data` as the full line has them (sealed) and as the body has them: the
// line without hash and sig is what `hash` is over (entry_json in entry.cpp writes both).
std::string members_after_data(const Entry& e, bool sealed) {
  std::string out;
  out.reserve(sealed ? 300 : 150);
  const auto member = [&out](std::string_view name, std::string_view text) {
    out += ",\"";
    out += name;
    out += "\":";
    append_canonical_string(out, text);
  };
  member("event", e.event);
  if (sealed) member("hash", e.hash);
  member("prev", e.prev);
  out += ",\"seq\":";
  out += std::to_string(e.seq);
  if (sealed) member("sig", e.sig);
  member("time", e.time);
  out += '}';
  return out;
}

// Appends the DER INTEGER of the unsigned big-endian `n` bytes at `p`: minimal, with a zero
// byte in front when the high bit is set.
void append_der_integer(Bytes& out, const std::uint8_t* p, std::size_t n) {
  while (n > 1 && *p == 0) ++p, --n;
  const bool pad = (*p & 0x80) != 0;
  out.push_back(0x02);
  out.push_back(static_cast<std::uint8_t>(n + (pad ? 1 : 0)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), p, p + n);
}

}  // namespace

Bytes p256_der_signature(ByteView raw) {
  if (raw.size() != 64) fail(Category::integrity, "malformed ECDSA signature");
  Bytes out;
  out.reserve(72);
  out.push_back(0x30);
  out.push_back(0);
  append_der_integer(out, raw.data(), 32);
  append_der_integer(out, raw.data() + 32, 32);
  out[1] = static_cast<std::uint8_t>(out.size() - 2);  // at most 70: the short form
  return out;
}

namespace {

const EVP_MD* sha256_fetched() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

bool is_key_event(std::string_view event) {
  return event == "transcript.open" || event == "transcript.key";
}

TranscriptKey load_transcript_key(const Entry& e) {
  if (e.data.value("alg", "") != kAlgorithm)
    fail(Category::integrity, "unsupported key algorithm '" + e.data.value("alg", "") + "'");
  TranscriptKey k;
  k.spki = from_base64(e.data.value("public_key", ""));
  k.pkey = crypto::load_spki(k.spki);
  if (!crypto::is_p256(k.pkey.get()))
    fail(Category::integrity, "the transcript key is not an ECDSA P-256 key");
  k.fingerprint = crypto::fingerprint(k.spki);
  return k;
}

bool signed_by(const Entry& e, const TranscriptKey& key) {
  Bytes sig;
  try {
    sig = from_base64(e.sig);
  } catch (const Error&) {
    return false;
  }
  return crypto::verify_ecdsa_sha256(key.pkey.get(), from_hex(e.hash), sig);
}

std::vector<ExpectedKey> find_key_entries(std::string_view content) {
  // Canonical JSON escapes every quote inside a string, so these bytes are a member name and
  // the start of its value; the line counts only if its own (top-level) event is a key event.
  static constexpr std::string_view kNeedle = "\"event\":\"transcript.";
  std::vector<ExpectedKey> found;
  for (std::size_t at = content.find(kNeedle); at != std::string_view::npos;) {
    const std::size_t nl = content.find('\n', at);
    const std::size_t begin = at == 0 ? 0 : content.rfind('\n', at - 1) + 1;  // npos + 1 == 0
    const std::size_t end = nl == std::string_view::npos ? content.size() : nl;
    try {
      const Entry e = entry_from_json(parse_canonical_line(content.substr(begin, end - begin)));
      if (is_key_event(e.event))
        found.push_back({begin, std::make_shared<const TranscriptKey>(load_transcript_key(e))});
    } catch (...) {
      // Not a good key entry: the sequential pass says why, if it gets there.
    }
    at = nl == std::string_view::npos ? nl : content.find(kNeedle, nl);
  }
  return found;
}

// A verification context for one key (this thread's own copy of it), reused for every entry.
struct LineChecker::Verifier {
  crypto::Pkey pkey;
  EVP_PKEY_CTX* ctx = nullptr;
  explicit Verifier(const TranscriptKey& key) : pkey(crypto::load_spki(key.spki)) {
    ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr);
    if (ctx == nullptr || EVP_PKEY_verify_init(ctx) != 1)
      fail(Category::general, "cannot set up an ECDSA verification in OpenSSL");
  }
  ~Verifier() { EVP_PKEY_CTX_free(ctx); }
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;
};

LineChecker::LineChecker(const std::vector<ExpectedKey>& keys)
    : keys_(keys), verifiers_(keys.size()) {}

LineChecker::~LineChecker() = default;

// Gives the answer crypto::verify_ecdsa_sha256 gives (via signed_by), without its per-call set
// up: SHA-256 of the 32 hash bytes, then the DER signature checked against that digest.
bool LineChecker::verify(const Entry& e, std::size_t slot) {
  if (!verifiers_[slot]) verifiers_[slot] = std::make_unique<Verifier>(*keys_[slot].key);
  Bytes raw, der;
  try {
    raw = from_base64(e.sig);
    if (raw.size() != 64) return false;
    der = p256_der_signature(raw);
  } catch (const Error&) {
    return false;
  }
  const Bytes hash = from_hex(e.hash);
  unsigned char digest[32];
  if (EVP_Digest(hash.data(), hash.size(), digest, nullptr, sha256_fetched(), nullptr) != 1)
    fail(Category::general, "SHA-256 failed in OpenSSL");
  return EVP_PKEY_verify(verifiers_[slot]->ctx, der.data(), der.size(), digest, 32) == 1;
}

void LineChecker::check(std::string_view content, std::size_t begin, std::size_t end,
                        std::vector<CheckedLine>& out) {
  // The key expected at `begin`: that of the last key entry before it (`next_key` - 1).
  auto next_key = std::upper_bound(
      keys_.begin(), keys_.end(), begin,
      [](std::size_t at, const ExpectedKey& k) { return at <= k.begin; });
  unsigned char digest[32];
  for (std::size_t pos = begin; pos < end;) {
    CheckedLine& c = out.emplace_back();
    c.begin = pos;
    const std::size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos || nl >= end) {
      c.torn = true;
      return;
    }
    const std::string_view line = content.substr(pos, nl - pos);
    pos = nl + 1;
    while (next_key != keys_.end() && next_key->begin < c.begin) ++next_key;
    try {
      c.entry = entry_from_json(parse_canonical_line(line));
    } catch (const Error& err) {
      c.parse_error = err.what();
      continue;
    }
    const bool key_event = is_key_event(c.entry.event);
    if (c.entry.data.is_object())  // a fleet's transcript: the node that appended it
      if (const auto node = c.entry.data.find("node"); node != c.entry.data.end() && node->is_string())
        c.node = node->get<std::string>();
    if (!key_event) c.entry.data = nlohmann::json();  // not needed later: do not keep it
    try {
      const std::string sealed = members_after_data(c.entry, true);
      if (line.size() > sealed.size() && line.ends_with(sealed)) {
        const std::string unsealed = members_after_data(c.entry, false);
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, sha256_fetched(), nullptr) == 1 &&
                        EVP_DigestUpdate(ctx, line.data(), line.size() - sealed.size()) == 1 &&
                        EVP_DigestUpdate(ctx, unsealed.data(), unsealed.size()) == 1 &&
                        EVP_DigestFinal_ex(ctx, digest, nullptr) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok) fail(Category::general, "SHA-256 failed in OpenSSL");
        c.hash_ok = to_hex(ByteView(digest, 32)) == c.entry.hash;
      } else {  // cannot happen for a canonical line; the slow way gives the same answer
        c.hash_ok = body_hash(c.entry) == c.entry.hash;
      }
    } catch (...) {
      c.hash_failure = std::current_exception();
      continue;
    }
    // Key entries (and whatever stands at seq 0) are checked in order by the sequential pass.
    if (!c.hash_ok || key_event || next_key == keys_.begin()) continue;
    const auto slot = static_cast<std::size_t>(next_key - keys_.begin()) - 1;
    c.signature_key = keys_[slot].key.get();
    c.signature_ok = verify(c.entry, slot);
  }
}

}  // namespace hsm::transcript
