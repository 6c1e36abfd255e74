// Password-based key derivation: Argon2id (our own up to 64 MiB, libsodium above) with
// named cost profiles. Passwords and derived keys only ever live in hsm::Secret; this never
// stores, logs or returns them otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/bytes.h"
#include "core/secure/secret.h"

namespace hsm::kdf {

// How much work a password guess costs. `interactive`, `moderate` and `sensitive` are
// libsodium's Argon2id presets (64 MiB, 256 MiB, 1 GiB). `min` is libsodium's floor: only
// for rehearsals, tests and benchmarks, never for a real user's password.
enum class KdfProfile { min, interactive, moderate, sensitive };

// "min", "interactive", "moderate", "sensitive". Throws Error(usage) naming the valid names.
KdfProfile parse_kdf_profile(std::string_view name);
std::string_view kdf_profile_name(KdfProfile profile) noexcept;

// The Argon2id cost parameters, as stored beside a salt so a key can be derived again later.
struct KdfParams {
  std::uint64_t opslimit;
  std::size_t memlimit;  // bytes

  bool operator==(const KdfParams&) const = default;
};

KdfParams kdf_params(KdfProfile profile) noexcept;

inline constexpr std::size_t kSaltSize = 16;
inline constexpr std::size_t kDefaultKeySize = 32;

// A fresh random salt of kSaltSize bytes (public; stored next to what it protects).
Bytes new_salt();

// Argon2id(password, salt) -> out_len bytes. Throws Error(usage) for an empty password, a salt
// that is not kSaltSize bytes, out_len < 16 or parameters below libsodium's minimum, and
// Error(general) when the derivation fails (in practice: not enough memory for memlimit).
Secret derive_password_key(const Secret& password, ByteView salt, KdfParams params,
                           std::size_t out_len = kDefaultKeySize);

}  // namespace hsm::kdf
