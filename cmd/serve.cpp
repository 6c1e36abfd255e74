// serve: the signing service (ceremonies/service/serve.h) on the workspace, token and
// keystore of the global options.
#include <fmt/format.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <iostream>
#include <memory>

#include "ceremonies/service/serve.h"
#include "cmd/cli.h"
#include "cmd/factors.h"
#include "core/transcript/entry.h"

namespace hsm::cli {

void add_serve_commands(Cli& cli) {
  struct Opts {
    std::string listen, tls_cert, tls_key, client_ca, allow;
    int workers = kDefaultServeWorkers;
    int sad_ttl = kDefaultSadTtlSeconds;
    int queue = kDefaultServeQueue;
    int request_timeout = 10;
    double client_rate = 0, user_rate = kDefaultUserRate;
    std::string access_log = "-";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = cli.app.add_subcommand(
      "serve", "sign for applications over HTTPS with client certificates (mutual TLS): users' "
               "and groups' keys, authorised per request by password and one-time code; also "
               "the CSC API v2 under /csc/v2/");
  cmd->add_option("--listen", o->listen, "address to listen on; port 0 picks a free one, "
                  "printed as 'listening on HOST:PORT'")->required()->type_name("HOST:PORT");
  cmd->add_option("--tls-cert", o->tls_cert, "the server's PEM certificate (chain)")
      ->required()->type_name("FILE");
  cmd->add_option("--tls-key", o->tls_key, "the PEM private key of --tls-cert")
      ->required()->type_name("FILE");
  cmd->add_option("--client-ca", o->client_ca, "PEM certificate(s) of the CA that issues the "
                  "clients' certificates; a client without one is refused in the handshake")
      ->required()->type_name("FILE");
  cmd->add_option("--workers", o->workers, "worker processes, each with its own token session "
                  "(default 2)")->type_name("N");
  cmd->add_option("--sad-ttl", o->sad_ttl, "seconds a SAD of the CSC API "
                  "(/csc/v2/credentials/authorize) stays valid, 1 to 3600 (default 300)")
      ->type_name("SECONDS");
  cmd->add_option("--allow", o->allow, "which users and groups each client certificate may ask "
                  "for: one line per client, 'sha256:FINGERPRINT' or 'cn:NAME' then 'user:NAME', "
                  "'group:NAME' ... ('user:*' for all); others get 403 (default: every client, "
                  "everything)")
      ->type_name("FILE");
  cmd->add_option("--queue", o->queue, "requests that may wait for a worker's token session; "
                  "beyond that a request is answered 503 with Retry-After at once (default 16 "
                  "per worker)")->type_name("N");
  cmd->add_option("--request-timeout", o->request_timeout, "seconds the service waits for "
                  "each part of a request (the TLS handshake, each read) and for each write "
                  "of its answer before it cuts the client off, 1 to 300 (default 10)")
      ->type_name("SECONDS");
  cmd->add_option("--client-rate", o->client_rate, "requests a second each client certificate "
                  "may make, bursts of twice that, across all workers; over it: 429 with "
                  "Retry-After (default 0: no limit)")->type_name("RATE");
  cmd->add_option("--user-rate", o->user_rate, "signing requests a second for each user, "
                  "bursts of twice that, from all clients; over it: 429 with Retry-After "
                  "(default 10; 0: no limit)")->type_name("RATE");
  cmd->add_option("--access-log", o->access_log, "append one JSON object per request to FILE "
                  "(time, worker, client certificate, method, path, status, duration; never a "
                  "body); 'off' for none (default: '-', stderr)")->type_name("FILE");
  with_example(cmd, "hsmctl --dir /var/lib/hsmctl --pin-source file:/etc/hsmctl/pin serve "
                    "--listen 0.0.0.0:8443 --tls-cert srv.crt --tls-key srv.key --client-ca "
                    "apps-ca.crt\n"
                    "  curl --cert app.crt --key app.key --cacert srv-ca.crt "
                    "https://hsm.example:8443/healthz");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      ServeOptions so;
      so.listen = parse_listen_address(o->listen);
      so.tls_cert = o->tls_cert;
      so.tls_key = o->tls_key;
      so.client_ca = o->client_ca;
      so.workers = o->workers;
      so.sad_ttl_seconds = o->sad_ttl;
      so.allow = o->allow;
      so.queue_limit = o->queue;
      so.request_timeout_seconds = o->request_timeout;
      so.client_rate = o->client_rate;
      so.user_rate = o->user_rate;
      so.workspace = cli.workspace_options();
      so.max_auth_failures = max_auth_failures(cli);
      ServeHooks hooks;
      hooks.listening = [&cli](const std::string& address) {
        cli.emit({{"listening", address}},
                 [&](std::ostream& out) { out << "listening on " << address << '\n'; });
        std::cout.flush();
      };
      // One write per line: the workers share stderr.
      hooks.log = [](const std::string& line) {
        const std::string whole = transcript::utc_now_rfc3339() + ' ' + line + '\n';
        [[maybe_unused]] const ssize_t n = ::write(2, whole.data(), whole.size());
      };
      // The access log is opened here, once: the workers inherit it and append whole lines.
      int access_fd = -1;
      if (o->access_log == "-") {
        access_fd = 2;
      } else if (o->access_log != "off") {
        access_fd = ::open(o->access_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (access_fd < 0)
          fail(Category::general, fmt::format("cannot open the access log '{}': {}",
                                              o->access_log, std::strerror(errno)));
      }
      if (access_fd >= 0)
        hooks.access = [access_fd](const std::string& line) {
          const std::string whole = line + '\n';
          [[maybe_unused]] const ssize_t n = ::write(access_fd, whole.data(), whole.size());
        };
      serve_signing(so, hooks);
      return 0;
    };
  });
}

}  // namespace hsm::cli
