// `hsmctl serve`: the signing service over HTTP/1.1 and TLS 1.3 with client certificates
// (mutual TLS against --client-ca). Pre-fork: the supervisor reads the token PIN once, binds
// the socket and forks --workers processes that each accept on it, open their own token
// session and keystore connection per request, and answer (service_api.h). The supervisor
// starts a worker again when one ends, and on SIGTERM or SIGINT stops accepting, lets the
// requests in flight finish and returns. The supervisor never loads the PKCS#11 module (a
// module is not used across fork) and never logs the PIN.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "ceremonies/service/admission.h"
#include "ceremonies/service/sad_store.h"
#include "ceremonies/witness/witness_server.h"  // ListenAddress
#include "ceremonies/workspace.h"

namespace hsm {

inline constexpr int kDefaultServeWorkers = 2;
inline constexpr int kMaxServeWorkers = 64;

struct ServeOptions {
  ListenAddress listen;
  std::filesystem::path tls_cert, tls_key, client_ca;  // PEM files
  int workers = kDefaultServeWorkers;
  WorkspaceOptions workspace;  // DIR, module, token, --pin-source (read once), --actor
  std::int64_t max_auth_failures = 5;
  int sad_ttl_seconds = kDefaultSadTtlSeconds;  // CSC credentials/authorize: a SAD's lifetime
  std::filesystem::path allow;  // --allow FILE (allow_list.h); empty: every client, every user
  int queue_limit = kDefaultServeQueue;  // --queue: requests waiting per worker, then 503
  int request_timeout_seconds = 10;      // --request-timeout: a client silent longer is cut off
  double client_rate = 0;                // --client-rate: per client certificate; 0: none
  double user_rate = kDefaultUserRate;   // --user-rate: signing requests per user; 0: none
  // Throws the first problem: a missing TLS or CA file, a CA file without a certificate, a
  // worker count out of 1..64, a SAD lifetime out of 1..3600 s, an --allow file that does not
  // read, a DIR that is no workspace.
  void validate() const;
};

struct ServeHooks {
  // Called once, with the address bound (the real port when 0 was asked for), before the
  // workers start.
  std::function<void(const std::string& address)> listening;
  // One line per worker start or end and per problem; calls may come from several processes
  // (each line is written whole).
  std::function<void(const std::string& line)> log;
  // The access log: one JSON object per request (no newline given); null: none.
  std::function<void(const std::string& line)> access;
};

// Serves until SIGTERM or SIGINT, then drains and returns. Problems before serving (a file,
// the PIN source, an address that cannot be bound, TLS files that do not make a server) are
// thrown.
void serve_signing(const ServeOptions& options, const ServeHooks& hooks);

}  // namespace hsm
