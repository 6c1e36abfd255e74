// DIR/hsmctl.toml: per-workspace defaults for the global options and policies. Holds no secret
// (a PIN or password in it is refused: only a pin_source such as "env:VAR" is allowed).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace hsm {

// [serve]: defaults for `hsmctl serve` (its options override them). Paths relative to the
// workspace directory.
struct ServeConfig {
  std::optional<std::string> listen, tls_cert, tls_key, client_ca, allow, access_log;
  std::optional<int> workers, sad_ttl, queue, request_timeout;
  std::optional<double> client_rate, user_rate;
};

struct WorkspaceConfig {
  std::optional<std::string> module;      // module = "/usr/lib/softhsm/libsofthsm2.so"
  std::optional<std::string> token;       // token = "ceremony-2026"
  std::optional<std::string> pin_source;  // pin_source = "env:HSMCTL_PIN"
  std::optional<int> max_auth_failures;   // [users] max_auth_failures = 5
  std::optional<int> min_password_length; // [users] min_password_length = 12
  std::optional<std::string> log_origin;  // log_origin = "example.com/ceremonies" (checkpoints)
  std::optional<std::string> store;       // store = "postgresql://host/db" (the keystore)
  std::optional<std::string> node;        // node = "signer-2" (a fleet's node name)
  ServeConfig serve;                      // [serve]
};

// Longer configuration text is refused before parsing (it would let a hostile file exhaust the
// stack of the TOML parser).
inline constexpr std::size_t kMaxConfigBytes = 4 * 1024;

// Parses TOML text. Throws Error(usage) naming the line for a syntax error, an unknown key, a
// wrong type, or a key that would hold a secret ("pin", "password").
WorkspaceConfig parse_config(std::string_view text, std::string_view source_name);
// Error(usage) unless `store` is a PostgreSQL URL libpq can parse, without a password (--store,
// HSMCTL_STORE, store = in hsmctl.toml).
void check_store(const std::string& store);
// Reads `file`; a missing file is an empty configuration.
WorkspaceConfig read_config(const std::filesystem::path& file);

}  // namespace hsm
