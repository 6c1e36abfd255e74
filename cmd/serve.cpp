// serve: the signing service (ceremonies/service/serve.h) on the workspace, token and
// keystore of the global options.
#include <fmt/format.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <iostream>
#include <tuple>
#include <memory>

#include "ceremonies/service/serve.h"
#include "cmd/cli.h"
#include "core/config/config.h"
#include "cmd/factors.h"
#include "core/error.h"
#include "core/transcript/entry.h"

namespace hsm::cli {

namespace {

struct ServeOpts {
  std::string listen, tls_cert, tls_key, client_ca, allow;
  int workers = kDefaultServeWorkers;
  int sad_ttl = kDefaultSadTtlSeconds;
  int queue = kDefaultServeQueue;
  int request_timeout = 10;
  double client_rate = 0, user_rate = kDefaultUserRate;
  std::string access_log = "-";
};

// DIR/hsmctl.toml [serve] gives what the command line did not (an option always wins); its
// relative paths are the workspace directory's. The four the service cannot start without are
// then required, naming both places.
void apply_serve_config(const CLI::App& cmd, const Cli& cli, ServeOpts& o) {
  const ServeConfig& c = cli.globals.config.serve;
  const auto path = [&](const std::optional<std::string>& v) {
    const std::filesystem::path p(*v);
    return (p.is_absolute() || *v == "-" || *v == "off" ? p : std::filesystem::path(cli.globals.dir) / p).string();
  };
  const auto text = [&](const char* option, std::string& field,
                        const std::optional<std::string>& v, bool is_path) {
    if (cmd.count(option) == 0 && v) field = is_path ? path(v) : *v;
  };
  text("--listen", o.listen, c.listen, false);
  text("--tls-cert", o.tls_cert, c.tls_cert, true);
  text("--tls-key", o.tls_key, c.tls_key, true);
  text("--client-ca", o.client_ca, c.client_ca, true);
  text("--allow", o.allow, c.allow, true);
  text("--access-log", o.access_log, c.access_log, true);
  const auto number = [&](const char* option, auto& field, const auto& v) {
    if (cmd.count(option) == 0 && v) field = *v;
  };
  number("--workers", o.workers, c.workers);
  number("--sad-ttl", o.sad_ttl, c.sad_ttl);
  number("--queue", o.queue, c.queue);
  number("--request-timeout", o.request_timeout, c.request_timeout);
  number("--client-rate", o.client_rate, c.client_rate);
  number("--user-rate", o.user_rate, c.user_rate);
  for (const auto& [value, option, key] :
       {std::tuple{&o.listen, "--listen", "listen"}, std::tuple{&o.tls_cert, "--tls-cert", "tls_cert"},
        std::tuple{&o.tls_key, "--tls-key", "tls_key"},
        std::tuple{&o.client_ca, "--client-ca", "client_ca"}})
    if (value->empty())
      fail(Category::usage, fmt::format("serve needs {} (or {} in the [serve] table of "
                                        "hsmctl.toml)", option, key));
}

}  // namespace

void add_serve_commands(Cli& cli) {
  auto o = std::make_shared<ServeOpts>();
  auto* cmd = cli.app.add_subcommand(
      "serve", "sign for applications over HTTPS with client certificates (mutual TLS): users' "
               "and groups' keys, authorised per request by password and one-time code; also "
               "the CSC API v2 under /csc/v2/");
  cmd->add_option("--listen", o->listen, "address to listen on; port 0 picks a free one, "
                  "printed as 'listening on HOST:PORT' (or [serve] listen in hsmctl.toml)")
      ->type_name("HOST:PORT");
  cmd->add_option("--tls-cert", o->tls_cert, "the server's PEM certificate (chain)")
      ->type_name("FILE");
  cmd->add_option("--tls-key", o->tls_key, "the PEM private key of --tls-cert")
      ->type_name("FILE");
  cmd->add_option("--client-ca", o->client_ca, "PEM certificate(s) of the CA that issues the "
                  "clients' certificates; a client without one is refused in the handshake")
      ->type_name("FILE");
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
  cmd->callback([&cli, o, cmd] {
    cli.action = [&cli, o, cmd] {
      apply_serve_config(*cmd, cli, *o);
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
