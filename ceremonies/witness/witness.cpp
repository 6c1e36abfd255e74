// Witness identity, per-origin state and the cosigning decision.
#include "ceremonies/witness/witness.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

namespace {

namespace fs = std::filesystem;

std::string slurp_text(const fs::path& p, const char* what) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("{} '{}' does not exist", what, p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json read_witness_config(const fs::path& dir) {
  const auto p = dir / "witness.json";
  if (!fs::exists(p))
    fail(Category::not_found, fmt::format("'{}' holds no witness; make one with 'hsmctl witness "
                                          "init'", dir.string()));
  try {
    return nlohmann::json::parse(slurp_text(p, "witness configuration"));
  } catch (const nlohmann::json::exception&) {
    fail(Category::integrity, fmt::format("'{}' is malformed", p.string()));
  }
}

// The Ed25519 seed in a Secret: 32 bytes from their base64 text.
Secret seed_from(const SecretSource& source) {
  const Secret text = read_secret(source, "witness key");
  Secret seed(crypto_sign_SEEDBYTES);
  std::size_t n = 0;
  if (sodium_base642bin(seed.data(), seed.size(), text.chars().data(), text.size(), " \r\n", &n,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      n != crypto_sign_SEEDBYTES)
    fail(Category::usage, fmt::format("the witness key from {} is not 32 bytes of base64",
                                      source.describe()));
  return seed;
}

struct Keypair {
  Secret secret{crypto_sign_SECRETKEYBYTES};
  Bytes public_key = Bytes(crypto_sign_PUBLICKEYBYTES);
};

Keypair keypair_from(const Secret& seed) {
  Keypair k;
  crypto_sign_seed_keypair(k.public_key.data(), k.secret.data(), seed.data());
  return k;
}

SecretSource configured_source(const fs::path& dir, const nlohmann::json& config) {
  if (config.contains("key_source")) return SecretSource::parse(config["key_source"].get<std::string>());
  return SecretSource::parse("file:" + (dir / "witness.key").string());
}

fs::path state_path(const fs::path& dir, const std::string& origin) {
  return dir / "logs" / (to_hex(crypto::sha256(as_bytes(origin))).substr(0, 32) + ".json");
}

// Keeps both checkpoints of a refused fork or rollback: proof of the log's misbehaviour.
fs::path keep_evidence(const fs::path& dir, const WitnessLogState& known, const std::string& note,
                       const std::string& why) {
  fs::create_directories(dir / "evidence");
  const auto p = dir / "evidence" /
                 fmt::format("{}-{}-{}.txt", std::time(nullptr),
                             to_hex(crypto::sha256(as_bytes(known.origin))).substr(0, 8),
                             tlog::parse_checkpoint(tlog::parse_note(note).text).size);
  const std::string text = fmt::format("{}\n\nlast cosigned:\n{}{}\npresented:\n{}", why,
                                       tlog::Checkpoint{known.origin, known.size, known.root}.text(),
                                       "", note);
  replace_file(p, text, 0600);
  return p;
}

}  // namespace

std::string witness_init(const WitnessInitOptions& o) {
  tlog::check_key_name(o.name, "the witness name");
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec) fail(Category::general, fmt::format("cannot create '{}'", o.dir.string()), ec.message());
  if (fs::exists(o.dir / "witness.json"))
    fail(Category::not_found, fmt::format("'{}' already holds a witness", o.dir.string()));
  nlohmann::json config{{"name", o.name}};
  Secret seed(crypto_sign_SEEDBYTES);
  if (o.key_source) {
    seed = seed_from(*o.key_source);
    config["key_source"] = o.key_source->describe();
  } else {
    randombytes_buf(seed.data(), seed.size());
    Secret text(sodium_base64_ENCODED_LEN(crypto_sign_SEEDBYTES, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(reinterpret_cast<char*>(text.data()), text.size(), seed.data(), seed.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    Secret line(text.size());  // the encoded text ends in NUL: a newline instead
    std::memcpy(line.data(), text.data(), text.size() - 1);
    line.data()[text.size() - 1] = '\n';
    write_new_file(o.dir / "witness.key", line.bytes(), 0600);
  }
  const Keypair k = keypair_from(seed);
  config["vkey"] = tlog::VerifierKey{o.name, tlog::KeyType::cosignature_v1, k.public_key}.format();
  write_new_file(o.dir / "witness.json", as_bytes(config.dump(2) + "\n"), 0644);
  return config["vkey"];
}

std::string witness_vkey(const fs::path& dir) { return read_witness_config(dir)["vkey"]; }

std::optional<WitnessLogState> witness_state(const fs::path& dir, const std::string& origin) {
  const auto p = state_path(dir, origin);
  if (!fs::exists(p)) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(slurp_text(p, "witness state"));
    WitnessLogState s{j.at("origin"), j.at("size"), tlog::hash_from_base64(j.at("root").get<std::string>())};
    if (s.origin != origin) fail(Category::integrity, fmt::format("'{}' is not the state of '{}'", p.string(), origin));
    return s;
  } catch (const nlohmann::json::exception&) {
    fail(Category::integrity, fmt::format("witness state '{}' is malformed", p.string()));
  }
}

void parse_proof(const std::string& text, std::optional<std::uint64_t>& old_size,
                 std::vector<tlog::Hash>& proof) {
  proof.clear();
  if (!text.empty() && text.front() == '{') {
    try {
      const auto j = nlohmann::json::parse(text);
      old_size = j.at("old_size").get<std::uint64_t>();
      for (const auto& h : j.at("proof")) proof.push_back(tlog::hash_from_base64(h.get<std::string>()));
      return;
    } catch (const nlohmann::json::exception&) {
      fail(Category::usage, "the proof JSON has no old_size and proof");
    }
  }
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line.rfind("old ", 0) != 0)
    fail(Category::usage, "a proof file starts with 'old N' (see 'hsmctl transcript prove "
                          "--consistency')");
  try {
    std::size_t used = 0;
    old_size = std::stoull(line.substr(4), &used);
    if (used != line.size() - 4) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    fail(Category::usage, fmt::format("'{}' is not 'old N'", line));
  }
  while (std::getline(in, line) && !line.empty()) {
    if (proof.size() == 63) fail(Category::usage, "a consistency proof has at most 63 hashes");
    proof.push_back(tlog::hash_from_base64(line));
  }
}

Secret witness_seed(const fs::path& dir, const std::optional<SecretSource>& source) {
  const nlohmann::json config = read_witness_config(dir);
  Secret seed = seed_from(source.value_or(configured_source(dir, config)));
  const tlog::VerifierKey me = tlog::parse_verifier_key(config.at("vkey").get<std::string>());
  if (me.key != keypair_from(seed).public_key)
    fail(Category::integrity, "the witness key does not match the vkey in witness.json");
  return seed;
}

CosignResult witness_cosign(const CosignRequest& r) {
  const nlohmann::json config = read_witness_config(r.dir);
  CosignResult out;
  const tlog::Note note = tlog::parse_note(r.checkpoint);
  const tlog::Checkpoint c = tlog::parse_checkpoint(note.text);
  bool known_origin = false, signed_ok = false;
  for (const tlog::VerifierKey& k : r.log_keys) {
    if (k.name != c.origin) continue;
    known_origin = true;
    for (const tlog::NoteSignature& s : note.signatures)
      if (s.name == k.name && s.key_id == k.key_id() && tlog::verify_note_signature(k, note.text, s))
        signed_ok = true;
  }
  if (!known_origin) {
    out.outcome = CosignOutcome::unknown_origin;
    out.message = fmt::format("no log key is known for origin '{}'", c.origin);
    return out;
  }
  if (!signed_ok) {
    out.outcome = CosignOutcome::not_signed;
    out.message = fmt::format("the checkpoint for '{}' is not signed by the log key", c.origin);
    return out;
  }
  const FileLock lock(r.dir / "witness.lock");
  const auto known = witness_state(r.dir, c.origin);
  const std::uint64_t last = known ? known->size : 0;
  out.latest_size = last;
  const std::uint64_t old_size = r.old_size.value_or(last);
  if (known && c.size < known->size) {
    out.outcome = CosignOutcome::rollback;
    out.message = fmt::format("rollback: '{}' was cosigned at size {}, this checkpoint has size "
                              "{}", c.origin, known->size, c.size);
    out.evidence = keep_evidence(r.dir, *known, r.checkpoint, out.message);
    return out;
  }
  if (old_size > c.size) {
    out.outcome = CosignOutcome::bad_request;
    out.message = fmt::format("old size {} is larger than the checkpoint's size {}", old_size, c.size);
    return out;
  }
  if (old_size != last) {
    out.outcome = CosignOutcome::conflict;
    out.message = fmt::format("the proof starts at size {} but '{}' was last cosigned at size {}",
                              old_size, c.origin, last);
    return out;
  }
  if (known && !r.old_size && c.size != known->size) {
    out.outcome = CosignOutcome::bad_proof;
    out.message = fmt::format("a consistency proof from size {} to {} is needed: 'hsmctl "
                              "transcript prove --consistency {} {}' on the log", last, c.size,
                              last, c.size);
    return out;
  }
  const bool consistent = known ? tlog::verify_consistency(known->size, c.size, known->root, c.root, r.proof)
                                : r.proof.empty();
  if (!consistent && known && known->size != c.size) {
    out.outcome = CosignOutcome::bad_proof;
    out.message = fmt::format("the consistency proof does not link size {} to size {} of '{}': "
                              "a fork, or a proof for other sizes", last, c.size, c.origin);
    out.evidence = keep_evidence(r.dir, *known, r.checkpoint, out.message);
    return out;
  }
  if (!consistent) {
    out.outcome = CosignOutcome::fork;
    out.message = known && known->size == c.size
                      ? fmt::format("fork: '{}' at size {} was cosigned with another root", c.origin, c.size)
                      : fmt::format("fork: the consistency proof does not link size {} to size {} of "
                                    "'{}'", last, c.size, c.origin);
    if (known) out.evidence = keep_evidence(r.dir, *known, r.checkpoint, out.message);
    return out;
  }
  std::optional<Secret> read_now;
  if (r.seed == nullptr) read_now.emplace(witness_seed(r.dir, r.key_source));
  const Keypair k = keypair_from(r.seed != nullptr ? *r.seed : *read_now);
  const tlog::VerifierKey me = tlog::parse_verifier_key(config.at("vkey").get<std::string>());
  if (me.key != k.public_key)
    fail(Category::integrity, "the witness key does not match the vkey in witness.json");
  const std::uint64_t now = static_cast<std::uint64_t>(std::time(nullptr));
  const std::string msg = tlog::cosigned_message(now, note.text);
  Bytes sig(8 + crypto_sign_BYTES);
  for (int i = 0; i < 8; ++i) sig[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(now >> (56 - 8 * i));
  crypto_sign_detached(sig.data() + 8, nullptr, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size(), k.secret.data());
  std::error_code ec;
  fs::create_directories(r.dir / "logs", ec);
  replace_file(state_path(r.dir, c.origin),
               nlohmann::json{{"origin", c.origin}, {"size", c.size}, {"root", tlog::to_base64(c.root)}}.dump() + "\n",
               0600);
  out.signature_line = tlog::NoteSignature{me.name, me.key_id(), sig}.line();
  out.latest_size = c.size;
  return out;
}

}  // namespace hsm
