// witness init | cosign | serve | status: run on the witness's own machine, with its own --dir.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <ostream>
#include <sstream>

#include "ceremonies/witness/witness.h"
#include "ceremonies/witness/witness_server.h"
#include "cmd/cli.h"
#include "core/error.h"
#include "core/transcript/entry.h"

namespace hsm::cli {

namespace {

std::string read_text(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("{} '{}' does not exist", what, path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void add_init(Cli& cli, CLI::App* group) {
  struct Opts {
    std::string name, key_source;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("init", "make a witness identity (Ed25519) in --dir and print "
                                    "its verifier key");
  cmd->add_option("--name", o->name, "the witness's key name, e.g. witness.example.org/w1")
      ->required()->type_name("NAME");
  add_source_option(cmd, "--key-source", o->key_source, "32-byte witness key (base64; default: "
                    "a new key kept in DIR/witness.key, mode 0600)");
  with_example(cmd, "hsmctl --dir /var/lib/w1 witness init --name witness.example.org/w1");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      WitnessInitOptions wo{cli.globals.dir, o->name, std::nullopt};
      if (!o->key_source.empty()) wo.key_source = SecretSource::parse(o->key_source);
      const std::string vkey = witness_init(wo);
      cli.emit({{"vkey", vkey}, {"dir", cli.globals.dir}},
               [&](std::ostream& out) { out << vkey << '\n'; });
      return 0;
    };
  });
}

void add_cosign(Cli& cli, CLI::App* group) {
  struct Opts {
    std::vector<std::string> log_keys;
    std::string origin, checkpoint, proof, key_source;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("cosign", "check a checkpoint against the last one this "
                                    "witness cosigned for its log and print a cosignature line");
  cmd->add_option("CHECKPOINT", o->checkpoint, "the signed checkpoint (a file)")->required();
  cmd->add_option("--log-key", o->log_keys, "the log's verifier key (vkey, or a file holding it)")
      ->required()->type_name("VKEY");
  cmd->add_option("--origin", o->origin, "the log's origin; the checkpoint must name it")
      ->required()->type_name("ORIGIN");
  cmd->add_option("--proof", o->proof, "consistency proof from the size last cosigned ('hsmctl "
                  "transcript prove --consistency' output)")->type_name("FILE");
  add_source_option(cmd, "--key-source", o->key_source, "witness key, if not the one 'witness "
                    "init' recorded");
  with_example(cmd, "hsmctl --dir /var/lib/w1 witness cosign --log-key log.vkey --origin "
                    "hsmctl/0a1b2c3d4e5f6071 --proof from-120.txt checkpoint.txt");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      CosignRequest r;
      r.dir = cli.globals.dir;
      for (const auto& k : o->log_keys) r.log_keys.push_back(vkey_arg(k));
      r.checkpoint = read_text(o->checkpoint, "checkpoint");
      const tlog::Checkpoint c = tlog::parse_checkpoint(tlog::parse_note(r.checkpoint).text);
      if (c.origin != o->origin)
        fail(Category::integrity, fmt::format("the checkpoint's origin is '{}', not '{}'",
                                              c.origin, o->origin));
      if (!o->proof.empty()) parse_proof(read_text(o->proof, "proof file"), r.old_size, r.proof);
      if (!o->key_source.empty()) r.key_source = SecretSource::parse(o->key_source);
      const CosignResult res = witness_cosign(r);
      if (res.outcome != CosignOutcome::cosigned) {
        std::string msg = res.message;
        if (!res.evidence.empty()) msg += fmt::format("; both checkpoints kept in {}", res.evidence.string());
        if (cli.globals.json)
          cli.emit({{"ok", false}, {"reason", res.message}, {"latest_size", res.latest_size},
                    {"evidence", res.evidence.string()}}, [](std::ostream&) {});
        fail(res.outcome == CosignOutcome::bad_request ? Category::usage : Category::integrity, msg);
      }
      cli.emit({{"ok", true}, {"cosignature", res.signature_line}, {"size", c.size}},
               [&](std::ostream& out) { out << res.signature_line; });
      return 0;
    };
  });
}

void add_serve(Cli& cli, CLI::App* group) {
  struct Opts {
    std::vector<std::string> log_keys;
    std::string listen, key_source, tls_cert, tls_key;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("serve", "answer C2SP tlog-witness add-checkpoint requests "
                                    "over HTTP(S) until SIGINT or SIGTERM");
  cmd->add_option("--listen", o->listen, "address to listen on; port 0 picks a free one, "
                  "printed as 'listening on HOST:PORT'")->required()->type_name("HOST:PORT");
  cmd->add_option("--log-key", o->log_keys, "verifier key of a log to witness (vkey, or a file "
                  "holding it); its name is the origin")->required()->type_name("VKEY");
  add_source_option(cmd, "--key-source", o->key_source, "witness key, if not the one 'witness "
                    "init' recorded (read once, at start)");
  cmd->add_option("--tls-cert", o->tls_cert, "serve HTTPS with this PEM certificate (chain)")
      ->type_name("FILE");
  cmd->add_option("--tls-key", o->tls_key, "the PEM private key of --tls-cert")->type_name("FILE");
  with_example(cmd, "hsmctl --dir /var/lib/w1 witness serve --listen 0.0.0.0:8443 --log-key "
                    "log.vkey --tls-cert w1.crt --tls-key w1.key");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      WitnessServeOptions so;
      so.dir = cli.globals.dir;
      so.listen = parse_listen_address(o->listen);
      for (const auto& k : o->log_keys) so.log_keys.push_back(vkey_arg(k));
      if (!o->key_source.empty()) so.key_source = SecretSource::parse(o->key_source);
      so.tls_cert = o->tls_cert;
      so.tls_key = o->tls_key;
      WitnessServeHooks hooks;
      hooks.listening = [&cli](const std::string& address) {
        cli.emit({{"listening", address}, {"vkey", witness_vkey(cli.globals.dir)}},
                 [&](std::ostream& out) { out << "listening on " << address << '\n'; });
        std::cout.flush();
      };
      hooks.log = [](const std::string& line) {
        std::cerr << transcript::utc_now_rfc3339() << ' ' << line << std::endl;
      };
      serve_witness(so, hooks);
      return 0;
    };
  });
}

void add_status(Cli& cli, CLI::App* group) {
  auto origin = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("status", "print this witness's verifier key and, with "
                                    "--origin, the size and root it last cosigned for that log");
  cmd->add_option("--origin", *origin, "a log origin")->type_name("ORIGIN");
  with_example(cmd, "hsmctl --dir /var/lib/w1 witness status --origin hsmctl/0a1b2c3d4e5f6071");
  cmd->callback([&cli, origin] {
    cli.action = [&cli, origin] {
      const std::string vkey = witness_vkey(cli.globals.dir);
      nlohmann::json doc{{"vkey", vkey}};
      std::optional<WitnessLogState> s;
      if (!origin->empty()) {
        s = witness_state(cli.globals.dir, *origin);
        doc["origin"] = *origin;
        doc["size"] = s ? s->size : 0;
        doc["root"] = s ? tlog::to_base64(s->root) : "";
      }
      cli.emit(doc, [&](std::ostream& out) {
        out << "witness " << vkey << '\n';
        if (!origin->empty())
          out << (s ? fmt::format("{}: last cosigned size {}, root {}\n", *origin, s->size,
                                  tlog::to_base64(s->root))
                    : fmt::format("{}: never cosigned\n", *origin));
      });
      return 0;
    };
  });
}

}  // namespace

void add_witness_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("witness", "be a witness for a log: cosign its "
                                       "checkpoints, refuse forks and rollbacks");
  group->require_subcommand(1);
  add_init(cli, group);
  add_cosign(cli, group);
  add_serve(cli, group);
  add_status(cli, group);
}

}  // namespace hsm::cli
