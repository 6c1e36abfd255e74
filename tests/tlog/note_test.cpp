// C2SP signed notes, verifier keys, checkpoints and cosignatures: the text forms round-trip,
// key IDs are computed as the specs say, and any change to a signed byte is refused.
#include "core/tlog/note.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/tlog/log_check.h"

namespace hsm::tlog {
namespace {

// A software P-256 key standing in for the transcript key: its DER SPKI and a signer.
struct EcKey {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  ~EcKey() { EVP_PKEY_free(pkey); }
  Bytes spki() const { return crypto::spki_der(pkey); }
  Bytes sign_der(std::string_view msg) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t n = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
    EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    Bytes sig(n);
    EVP_DigestSign(ctx, sig.data(), &n, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    sig.resize(n);
    EVP_MD_CTX_free(ctx);
    return sig;
  }
};

struct Witness {
  std::string name;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  explicit Witness(std::string n) : name(std::move(n)) { crypto_sign_keypair(pk, sk); }
  VerifierKey vkey() const { return {name, KeyType::cosignature_v1, Bytes(pk, pk + 32)}; }
  NoteSignature cosign(const std::string& text, std::uint64_t t) const {
    const std::string msg = cosigned_message(t, text);
    Bytes sig(8 + crypto_sign_BYTES);
    for (int i = 0; i < 8; ++i) sig[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t >> (56 - 8 * i));
    crypto_sign_detached(sig.data() + 8, nullptr, reinterpret_cast<const unsigned char*>(msg.data()),
                         msg.size(), sk);
    return {name, vkey().key_id(), sig};
  }
};

Checkpoint sample() {
  Checkpoint c;
  c.origin = "hsmctl/0123456789abcdef";
  c.size = 20852163;
  c.root = hash_from_base64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  return c;
}

TEST(Note, CheckpointTextIsThreeLines) {
  const Checkpoint c = sample();
  EXPECT_EQ(c.text(), "hsmctl/0123456789abcdef\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  const Checkpoint back = parse_checkpoint(c.text());
  EXPECT_EQ(back.origin, c.origin);
  EXPECT_EQ(back.size, c.size);
  EXPECT_EQ(back.root, c.root);
  for (const char* bad : {"o\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "o\n1\nAAAA\n",
                          "o\n1\n", "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                          "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n"})
    EXPECT_THROW(parse_checkpoint(bad), Error) << bad;
}

TEST(Note, EcdsaKeyIdIsTheHashOfTheSpkiAndTheVkeyRoundTrips) {
  EcKey k;
  const VerifierKey v{"example.com/log", KeyType::ecdsa, k.spki()};
  const Bytes h = crypto::sha256(k.spki());
  const std::uint32_t expected = (std::uint32_t{h[0]} << 24) | (h[1] << 16) | (h[2] << 8) | h[3];
  EXPECT_EQ(v.key_id(), expected);
  const std::string text = v.format();
  EXPECT_EQ(text.substr(0, text.find('+')), "example.com/log");
  const VerifierKey back = parse_verifier_key(text);
  EXPECT_EQ(back.key, v.key);
  EXPECT_EQ(back.type, KeyType::ecdsa);
  std::string wrong_id = text;
  wrong_id[text.find('+') + 1] = wrong_id[text.find('+') + 1] == '0' ? '1' : '0';
  EXPECT_THROW(parse_verifier_key(wrong_id), Error);
  EXPECT_THROW(parse_verifier_key("no spaces+00000000+AAAA"), Error);
}

TEST(Note, CosignatureKeyIdFollowsTlogCosignature) {
  Witness w("witness.example/w1");
  Bytes in(w.name.begin(), w.name.end());
  in.push_back('\n');
  in.push_back(0x04);
  in.insert(in.end(), w.pk, w.pk + 32);
  const Bytes h = crypto::sha256(in);
  EXPECT_EQ(w.vkey().key_id(), (std::uint32_t{h[0]} << 24) | (h[1] << 16) | (h[2] << 8) | h[3]);
  EXPECT_EQ(parse_verifier_key(w.vkey().format()).key, w.vkey().key);
}

TEST(Note, ASignedCheckpointVerifiesAndEveryChangeIsRefused) {
  EcKey k;
  Witness w1("w1.example"), w2("w2.example"), stranger("w3.example");
  const Checkpoint c = sample();
  const VerifierKey log{c.origin, KeyType::ecdsa, k.spki()};
  Note n;
  n.text = c.text();
  n.signatures.push_back({c.origin, log.key_id(), k.sign_der(n.text)});
  n.signatures.push_back(w1.cosign(n.text, 1700000000));
  n.signatures.push_back(w2.cosign(n.text, 1700000005));
  n.signatures.push_back(stranger.cosign(n.text, 1700000009));
  const std::string note = n.format();
  EXPECT_EQ(parse_note(note).format(), note);

  CheckpointPolicy p{{log}, {w1.vkey(), w2.vkey()}, 2};
  const CheckpointReport r = check_checkpoint(note, p);
  EXPECT_EQ(r.checkpoint.size, c.size);
  EXPECT_EQ(r.cosigners.size(), 2u);
  EXPECT_EQ(cosignature_time(n.signatures[1]), 1700000000u);

  p.min_cosigners = 3;  // the stranger does not count
  EXPECT_THROW(check_checkpoint(note, p), Error);
  p.min_cosigners = 2;
  EcKey other;
  CheckpointPolicy wrong_log{{VerifierKey{c.origin, KeyType::ecdsa, other.spki()}}, {}, 0};
  EXPECT_THROW(check_checkpoint(note, wrong_log), Error);
  std::string changed = note;
  changed[note.find("20852163")] = '3';  // another size, same signatures
  EXPECT_THROW(check_checkpoint(changed, p), Error);
  for (const char* bad : {"no newline", "text\n", "text\n\n", "text\n\n- x YWJjZGVm\n",
                          "a\x1b\n\n\xE2\x80\x94 x YWJjZGVm\n"})
    EXPECT_THROW(parse_note(bad), Error) << bad;
}

}  // namespace
}  // namespace hsm::tlog
