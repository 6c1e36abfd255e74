// Signed-note text forms and signature checks (OpenSSL for ECDSA, libsodium for Ed25519).
#include "core/tlog/note.h"

#include <fmt/format.h>
#include <sodium.h>

#include <charconv>

#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm::tlog {

namespace {

constexpr std::string_view kDash = "\xE2\x80\x94 ";  // U+2014 EM DASH, then a space
constexpr std::size_t kMaxSignatures = 100;

std::uint32_t first4(ByteView digest) {
  return (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
         (std::uint32_t{digest[2]} << 8) | digest[3];
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c <= 0x20 || c == '+' || c == 0x7f) return false;
  // U+0085 and U+00A0 and the other Unicode spaces: refuse every byte sequence of them.
  for (std::string_view sp : {"\xC2\x85", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xA8",
                              "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"})
    if (name.find(sp) != std::string_view::npos) return false;
  for (unsigned c = 0x80; c <= 0x8A; ++c)  // U+2000..U+200A
    if (name.find(std::string{'\xE2', '\x80', static_cast<char>(c)}) != std::string_view::npos)
      return false;
  return true;
}

std::optional<NoteSignature> parse_signature_line(std::string_view line) {
  if (line.substr(0, kDash.size()) != kDash) return std::nullopt;
  line.remove_prefix(kDash.size());
  const std::size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  NoteSignature s;
  s.name = std::string(line.substr(0, sp));
  if (!valid_name(s.name)) return std::nullopt;
  Bytes raw;
  try {
    raw = from_base64(line.substr(sp + 1));
  } catch (const Error&) {
    return std::nullopt;
  }
  if (raw.size() < 5) return std::nullopt;
  s.key_id = first4(raw);
  s.signature.assign(raw.begin() + 4, raw.end());
  return s;
}

std::uint64_t parse_decimal(std::string_view s, const char* what) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || (s.size() > 1 && s[0] == '0'))
    fail(Category::integrity, fmt::format("{} is not a decimal number without leading zeros", what));
  return v;
}

}  // namespace

std::string NoteSignature::line() const {
  Bytes raw{static_cast<std::uint8_t>(key_id >> 24), static_cast<std::uint8_t>(key_id >> 16),
            static_cast<std::uint8_t>(key_id >> 8), static_cast<std::uint8_t>(key_id)};
  raw.insert(raw.end(), signature.begin(), signature.end());
  return std::string(kDash) + name + " " + hsm::to_base64(raw) + "\n";
}

std::string Note::format() const {
  std::string out = text + "\n";
  for (const NoteSignature& s : signatures) out += s.line();
  return out;
}

Note parse_note(std::string_view note) {
  for (unsigned char c : note)
    if ((c < 0x20 && c != '\n') || c == 0x7f)
      fail(Category::integrity, "the note holds a control character");
  if (note.empty() || note.back() != '\n') fail(Category::integrity, "the note does not end in a newline");
  const std::size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) fail(Category::integrity, "the note has no signature");
  Note n;
  n.text = std::string(note.substr(0, split + 1));
  n.signatures = parse_signature_lines(note.substr(split + 2));
  if (n.signatures.empty()) fail(Category::integrity, "the note has no signature");
  return n;
}

std::vector<NoteSignature> parse_signature_lines(std::string_view lines) {
  std::vector<NoteSignature> out;
  while (!lines.empty()) {
    const std::size_t nl = lines.find('\n');
    if (nl == std::string_view::npos)
      fail(Category::integrity, "a signature line does not end in a newline");
    auto sig = parse_signature_line(lines.substr(0, nl));
    if (!sig) fail(Category::integrity, "a signature line is malformed");
    out.push_back(std::move(*sig));
    if (out.size() > kMaxSignatures)
      fail(Category::integrity, fmt::format("the note has more than {} signatures", kMaxSignatures));
    lines.remove_prefix(nl + 1);
  }
  return out;
}

void check_key_name(std::string_view name, std::string_view what) {
  if (!valid_name(name))
    fail(Category::usage, fmt::format("{} '{}' is not a valid key name (non-empty, no spaces, "
                                      "no '+')", what, name));
}

std::uint32_t VerifierKey::key_id() const {
  if (type == KeyType::ecdsa) return first4(crypto::sha256(key));
  Bytes in(name.begin(), name.end());
  in.push_back('\n');
  in.push_back(static_cast<std::uint8_t>(type));
  in.insert(in.end(), key.begin(), key.end());
  return first4(crypto::sha256(in));
}

std::string VerifierKey::format() const {
  Bytes raw{static_cast<std::uint8_t>(type)};
  raw.insert(raw.end(), key.begin(), key.end());
  return fmt::format("{}+{:08x}+{}", name, key_id(), hsm::to_base64(raw));
}

VerifierKey parse_verifier_key(std::string_view vkey) {
  const std::size_t p1 = vkey.find('+');
  const std::size_t p2 = p1 == std::string_view::npos ? p1 : vkey.find('+', p1 + 1);
  if (p2 == std::string_view::npos || p2 - p1 != 9)
    fail(Category::usage, "a verifier key is NAME+KEYID+BASE64 (KEYID 8 hex digits)");
  VerifierKey k;
  k.name = std::string(vkey.substr(0, p1));
  check_key_name(k.name, "the verifier key's name");
  Bytes raw;
  try {
    raw = from_base64(vkey.substr(p2 + 1));
  } catch (const Error&) {
    fail(Category::usage, fmt::format("verifier key '{}' has malformed base64", k.name));
  }
  if (raw.empty()) fail(Category::usage, fmt::format("verifier key '{}' is empty", k.name));
  k.key.assign(raw.begin() + 1, raw.end());
  switch (raw[0]) {
    case 0x01: k.type = KeyType::ed25519; break;
    case 0x02: k.type = KeyType::ecdsa; break;
    case 0x04: k.type = KeyType::cosignature_v1; break;
    default:
      fail(Category::usage, fmt::format("verifier key '{}' has signature type 0x{:02x}; hsmctl "
                                        "knows 0x01, 0x02 and 0x04", k.name, raw[0]));
  }
  if (k.type == KeyType::ecdsa) {
    const crypto::Pkey pk = crypto::load_spki(k.key);  // throws when malformed
    if (!crypto::is_p256(pk.get()))
      fail(Category::usage, fmt::format("verifier key '{}' is not an ECDSA P-256 key", k.name));
  } else if (k.key.size() != crypto_sign_PUBLICKEYBYTES) {
    fail(Category::usage, fmt::format("verifier key '{}' is not a 32-byte Ed25519 key", k.name));
  }
  const std::string id_hex(vkey.substr(p1 + 1, 8));
  if (fmt::format("{:08x}", k.key_id()) != id_hex)
    fail(Category::usage, fmt::format("verifier key '{}' has key ID {} but its key hashes to "
                                      "{:08x}", k.name, id_hex, k.key_id()));
  return k;
}

std::string cosigned_message(std::uint64_t time, std::string_view checkpoint_text) {
  return fmt::format("cosignature/v1\ntime {}\n", time) + std::string(checkpoint_text);
}

std::uint64_t cosignature_time(const NoteSignature& sig) {
  if (sig.signature.size() != 8 + crypto_sign_BYTES) return 0;
  std::uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t = (t << 8) | sig.signature[static_cast<std::size_t>(i)];
  return t;
}

bool verify_note_signature(const VerifierKey& key, std::string_view note_text,
                           const NoteSignature& sig) {
  if (sig.name != key.name || sig.key_id != key.key_id()) return false;
  switch (key.type) {
    case KeyType::ecdsa:
      return crypto::verify_signature(key.key, "ec-p256", as_bytes(note_text), sig.signature);
    case KeyType::ed25519:
      return sig.signature.size() == crypto_sign_BYTES &&
             crypto_sign_verify_detached(sig.signature.data(),
                                         reinterpret_cast<const unsigned char*>(note_text.data()),
                                         note_text.size(), key.key.data()) == 0;
    case KeyType::cosignature_v1: {
      if (sig.signature.size() != 8 + crypto_sign_BYTES) return false;
      const std::uint64_t t = cosignature_time(sig);
      if (t > (std::uint64_t{1} << 63) - 1) return false;
      const std::string msg = cosigned_message(t, note_text);
      return crypto_sign_verify_detached(sig.signature.data() + 8,
                                         reinterpret_cast<const unsigned char*>(msg.data()),
                                         msg.size(), key.key.data()) == 0;
    }
  }
  return false;
}

std::string Checkpoint::text() const {
  return fmt::format("{}\n{}\n{}\n", origin, size, to_base64(root));
}

Checkpoint parse_checkpoint(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) fail(Category::integrity, "the checkpoint does not end in a newline");
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (lines.size() != 3)
    fail(Category::integrity, fmt::format("a checkpoint has 3 lines (origin, size, root); this "
                                          "one has {}", lines.size()));
  Checkpoint c;
  c.origin = std::string(lines[0]);
  if (c.origin.empty()) fail(Category::integrity, "the checkpoint's origin line is empty");
  c.size = parse_decimal(lines[1], "the checkpoint's tree size");
  c.root = hash_from_base64(lines[2]);
  return c;
}

}  // namespace hsm::tlog
