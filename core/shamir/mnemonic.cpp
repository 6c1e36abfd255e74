// The SLIP-0039 share layout: 40-bit header, left-padded share value, RS1024 checksum, all cut
// into 10-bit words. Only the header, the word count and the verdicts (checksum, padding) are
// declassified; never branch on a value bit.
#include "core/shamir/mnemonic.h"

#include <string>

#include "core/shamir/ct.h"
#include "core/shamir/mnemonic_text.h"
#include "core/shamir/rs1024.h"

namespace hsm::slip39 {
namespace {

constexpr std::size_t kHeaderWords = 4;  // id 15 | ext 1 | e 4 | GI 4 | Gt 4 | g 4 | I 4 | t 4
constexpr std::size_t kChecksumWords = 3;
constexpr std::size_t kMinWords = kHeaderWords + (8 * kMinSecretBytes + 9) / 10 + kChecksumWords;

// The share value length a mnemonic of `words` words carries, or 0 if none: the padding (the
// padded bit length modulo 16) must not exceed 8 bits.
std::size_t value_bytes(std::size_t words) {
  if (words < kMinWords || words > kMaxMnemonicWords) return 0;
  const std::size_t bits = 10 * (words - kHeaderWords - kChecksumWords);
  if (bits % 16 > 8) return 0;
  return 2 * (bits / 16);
}

std::size_t value_words(std::size_t bytes) {
  return (8 * bytes + 9) / 10;
}

ShareHeader decode_header(std::uint64_t bits) {
  const auto field = [bits](int shift) { return static_cast<std::uint8_t>((bits >> shift) & 15); };
  ShareHeader h;
  h.identifier = static_cast<std::uint16_t>(bits >> 25);
  h.extendable = ((bits >> 24) & 1) != 0;
  h.iteration_exponent = field(20);
  h.group_index = field(16);
  h.group_threshold = field(12) + 1;
  h.group_count = field(8) + 1;
  h.member_index = field(4);
  h.member_threshold = field(0) + 1;
  return h;
}

std::uint64_t encode_header(const ShareHeader& h) {
  return std::uint64_t{h.identifier} << 25 | std::uint64_t{h.extendable} << 24 |
         std::uint64_t{h.iteration_exponent} << 20 | std::uint64_t{h.group_index} << 16 |
         std::uint64_t(h.group_threshold - 1) << 12 | std::uint64_t(h.group_count - 1) << 8 |
         std::uint64_t{h.member_index} << 4 | std::uint64_t(h.member_threshold - 1);
}

// Padding bits (public count) come first, then the value bytes big-endian.
std::size_t padding_bits(std::size_t words, std::size_t bytes) {
  return 10 * (words - kHeaderWords - kChecksumWords) - 8 * bytes;
}

// Copies the value bits out of the words; returns the OR of the padding bits (secret).
std::uint32_t read_value(const WordIndices& words, Secret& value) {
  const std::size_t padding = padding_bits(words.size(), value.size());
  const std::size_t bits = padding + 8 * value.size();
  std::uint32_t padding_or = 0;
  for (std::size_t b = 0; b < bits; ++b) {
    const std::uint32_t bit = (words.get(kHeaderWords + b / 10) >> (9 - b % 10)) & 1u;
    if (b < padding) {
      padding_or |= bit;
    } else {
      const std::size_t v = b - padding;
      value.data()[v / 8] |= static_cast<std::uint8_t>(bit << (7 - v % 8));
    }
  }
  return padding_or;
}

void write_value(const Secret& value, WordIndices& words) {
  const std::size_t padding = padding_bits(words.size(), value.size());
  const std::size_t bits = padding + 8 * value.size();
  std::uint32_t word = 0;
  for (std::size_t b = 0; b < bits; ++b) {
    std::uint32_t bit = 0;
    if (b >= padding) {
      const std::size_t v = b - padding;
      bit = (value.data()[v / 8] >> (7 - v % 8)) & 1u;
    }
    word = (word << 1) | bit;
    if (b % 10 == 9) {
      words.set(kHeaderWords + b / 10, word);
      word = 0;
    }
  }
}

[[noreturn]] void bad_length(std::size_t words) {
  fail(Category::integrity,
       "The mnemonic has " + std::to_string(words) +
           " words, which is not the length of any share (20 words for a 128-bit secret, 33 "
           "for a 256-bit one); check for missing or extra words.");
}

void check_writable(const Share& share) {
  const ShareHeader& h = share.header;
  const auto refuse = [](const std::string& what) {
    fail(Category::usage, "Cannot write a share whose " + what + ".");
  };
  if (h.identifier > 0x7FFF) refuse("identifier does not fit in 15 bits");
  if (h.iteration_exponent > 15) refuse("iteration exponent is above 15");
  if (h.group_count < 1 || h.group_count > kMaxShareCount) refuse("group count is not 1..16");
  if (h.group_threshold < 1 || h.group_threshold > h.group_count) {
    refuse("group threshold is not between 1 and the group count");
  }
  if (h.group_index >= h.group_count) refuse("group index is not below the group count");
  if (h.member_threshold < 1 || h.member_threshold > kMaxShareCount) {
    refuse("member threshold is not 1..16");
  }
  if (h.member_index >= kMaxShareCount) refuse("member index is above 15");
  const std::size_t n = share.value.size();
  if (n < kMinSecretBytes || n > kMaxSecretBytes || n % 2 != 0) {
    refuse("value is not an even number of bytes between 16 and 64");
  }
}

// After a failed checksum: the one position where some other word would make the checksum
// valid, if there is exactly one (RS1024 corrects no errors but can locate a single one).
// Runs only on a share that is already wrong, so its timing reveals nothing worth keeping.
std::size_t locate_wrong_word(bool extendable, const WordIndices& words) {
  WordIndices trial(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) trial.set(i, words.get(i));
  std::size_t found = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::uint32_t original = words.get(i);
    bool fixes = false;
    for (std::uint32_t w = 0; w < 1024 && !fixes; ++w) {
      if (w == original) continue;
      trial.set(i, w);
      fixes = ct::declassify_mask(rs1024_valid(extendable, trial));
    }
    trial.set(i, original);
    if (fixes) {
      if (found != 0) return 0;
      found = i + 1;
    }
  }
  return found;
}

}  // namespace

UnknownWordError::UnknownWordError(std::size_t position)
    : Error(Category::integrity,
            "Word " + std::to_string(position) +
                " of the mnemonic is not in the SLIP-0039 wordlist; check its spelling against "
                "the written share."),
      position_(position) {}

Share parse_mnemonic(const Secret& mnemonic) {
  const WordIndices words = words_from_text(mnemonic.chars());
  const std::size_t bytes = value_bytes(words.size());
  if (bytes == 0) bad_length(words.size());

  std::uint64_t header_bits = 0;
  for (std::size_t i = 0; i < kHeaderWords; ++i) header_bits = header_bits << 10 | words.get(i);
  const ShareHeader header = decode_header(ct::declassify(header_bits));  // public by design

  if (!ct::declassify_mask(rs1024_valid(header.extendable, words))) {
    if (const std::size_t at = locate_wrong_word(header.extendable, words); at != 0)
      fail(Category::integrity,
           "The mnemonic's checksum failed: word " + std::to_string(at) +
               " is most likely wrong; compare it with the written share.");
    fail(Category::integrity,
         "The mnemonic's checksum failed: at least one word is wrong or out of order; compare "
         "every word with the written share.");
  }
  if (header.group_threshold > header.group_count) {
    fail(Category::integrity, "The mnemonic says " + std::to_string(header.group_threshold) +
                                  " groups are needed out of only " +
                                  std::to_string(header.group_count) +
                                  ", so it is not a valid share.");
  }
  if (header.group_index >= header.group_count) {
    fail(Category::integrity, "The mnemonic names group " + std::to_string(header.group_index + 1) +
                                  " out of only " + std::to_string(header.group_count) +
                                  ", so it is not a valid share.");
  }
  Share share{header, Secret(bytes)};
  if (ct::declassify(read_value(words, share.value)) != 0) {
    fail(Category::integrity,
         "The mnemonic's padding bits are not zero, so it is not a valid share; check the "
         "fifth word.");
  }
  return share;
}

Secret to_mnemonic(const Share& share) {
  check_writable(share);
  const ShareHeader& h = share.header;
  WordIndices words(kHeaderWords + value_words(share.value.size()) + kChecksumWords);
  const std::uint64_t header_bits = encode_header(h);
  for (std::size_t i = 0; i < kHeaderWords; ++i) {
    words.set(i, static_cast<std::uint32_t>(header_bits >> (10 * (kHeaderWords - 1 - i))) & 1023);
  }
  write_value(share.value, words);
  rs1024_write_checksum(h.extendable, words);
  return text_from_words(words);
}

}  // namespace hsm::slip39
