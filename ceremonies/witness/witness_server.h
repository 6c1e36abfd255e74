// `witness serve`: the C2SP tlog-witness add-checkpoint service over HTTP(S), in front of the
// same witness_cosign that `witness cosign` runs. It reads the witness key once at start,
// checks and records one request at a time, logs one line per request (never a secret), and
// stops on SIGINT, SIGTERM or SIGHUP after finishing the requests in flight.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/secure/secret_source.h"
#include "core/tlog/note.h"

namespace hsm {

struct ListenAddress {
  std::string host;  // a name, an IPv4 address or an IPv6 address (without brackets)
  std::uint16_t port = 0;  // 0: any free port
  std::string text() const;  // host:port, [v6]:port
};
// "HOST:PORT" or "[V6]:PORT"; Error(usage) otherwise.
ListenAddress parse_listen_address(const std::string& text);

struct WitnessServeOptions {
  std::filesystem::path dir;                 // the witness (witness init made it)
  ListenAddress listen;
  std::vector<tlog::VerifierKey> log_keys;   // the logs it serves: their names are the origins
  std::optional<SecretSource> key_source;    // overrides witness.json's
  std::filesystem::path tls_cert, tls_key;   // PEM files: HTTPS when set (both or neither)
  // Throws the first problem: no log key, a log key of a cosignature type, half a TLS pair, a
  // TLS file that does not exist.
  void validate() const;
};

struct WitnessServeHooks {
  // Called once, with the address bound (the real port when 0 was asked for).
  std::function<void(const std::string& address)> listening;
  // One line per request: client, origin, old size, size, status, outcome. Calls are
  // serialized.
  std::function<void(const std::string& line)> log;
};

// Serves until a signal; returns normally then. Errors before serving (no witness, a wrong
// key, an address that cannot be bound, unusable TLS files) are thrown.
void serve_witness(const WitnessServeOptions& options, const WitnessServeHooks& hooks);

}  // namespace hsm
