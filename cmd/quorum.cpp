// quorum request | approve | show: a quorum step approved by custodians from their own
// machines (hsmctl-quorum(1)). `request` runs a quorum-gated command in this process with its
// share intake replaced by remote approvals; `approve` needs no token and no workspace.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "ceremonies/master/shares.h"
#include "ceremonies/quorum/quorum_request.h"
#include "ceremonies/quorum/remote_approval.h"
#include "cmd/cli.h"
#include "cmd/console.h"
#include "cmd/share_entry.h"
#include "core/error.h"
#include "core/files.h"
#include "core/secure/secret_source.h"
#include "core/shamir/slip39.h"
#include "core/transcript/pgp_words.h"

namespace hsm::cli {

namespace {

struct RequestArgs {
  std::string dir, expires = "30m";
  std::vector<std::string> command;
};

bool path_option(const CLI::Option* o) {
  const std::string t = o->get_type_name();
  return t == "FILE" || t == "F" || t == "PATH" || t == "DIR" || o->get_name() == "FILE";
}

// The parsed command as the request states it: its words, its description, and each option
// given with its values (paths made absolute). Secrets are never on a command line, so what is
// left is public; a --*-source keeps its form (prompt, env:VAR, file:PATH, fd:N).
nlohmann::json operation_of(CLI::App& root) {
  std::vector<std::string> path;
  CLI::App* leaf = &root;
  for (;;) {
    const auto subs = leaf->get_subcommands();
    if (subs.empty()) break;
    leaf = subs.front();
    path.push_back(leaf->get_name());
  }
  std::string words;
  for (const auto& p : path) words += (words.empty() ? "" : " ") + p;
  nlohmann::json params = nlohmann::json::object();
  std::vector<std::string> args = path;
  for (const CLI::Option* o : leaf->get_options()) {
    if (o->count() == 0 || o->get_name() == "--help") continue;
    std::vector<std::string> values = o->results();
    if (path_option(o))
      for (auto& v : values) v = std::filesystem::absolute(v).lexically_normal().string();
    params[o->get_name()] = values;
    if (o->get_name().starts_with("-")) args.push_back(o->get_name());
    args.insert(args.end(), values.begin(), values.end());
  }
  std::string all;
  for (const auto& a : args) all += (all.empty() ? "" : " ") + a;
  return {{"command", words}, {"words", all}, {"description", leaf->get_description()},
          {"parameters", params}, {"args", args}};
}

// What identifies the workspace and its token, read before the operation runs (no PIN).
struct WorkspaceFacts {
  nlohmann::json doc;
  int set_identifier = 0;
};

WorkspaceFacts workspace_facts(const Cli& cli) {
  Workspace ws(cli.workspace_options());
  const auto master = ws.keystore().master();
  if (!master)
    fail(Category::not_found, "this workspace has no master key record; remote approval gathers "
                              "shares of the workspace's share set ('hsmctl master init' first)");
  const p11::TokenInfo& t = ws.token();
  WorkspaceFacts f;
  f.doc = {{"dir", std::filesystem::absolute(cli.globals.dir).lexically_normal().string()},
           {"token", {{"label", t.label}, {"serial", t.serial}, {"manufacturer", t.manufacturer},
                      {"model", t.model}}},
           {"master_kcv", master->kcv}};
  f.set_identifier = master->shares.identifier;
  return f;
}

// Clears the remote intake however `quorum request` ends.
struct RemoteIntakeScope {
  explicit RemoteIntakeScope(quorum::RemoteApproval& ra) {
    set_remote_intake([&ra] { return ra.intake(); });
  }
  ~RemoteIntakeScope() { set_remote_intake(nullptr); }
  RemoteIntakeScope(const RemoteIntakeScope&) = delete;
  RemoteIntakeScope& operator=(const RemoteIntakeScope&) = delete;
};

int run_request(Cli& cli, const RequestArgs& a) {
  const auto lifetime = quorum::parse_duration(a.expires);
  if (a.command.empty())
    fail(Category::usage, "name the command to run after '--', e.g. 'hsmctl quorum request "
                          "--request-dir D -- backup create --out F'");
  if (a.command.front() == "quorum")
    fail(Category::usage, "'quorum request' runs a quorum-gated command, not another quorum "
                          "command");
  Cli op;
  add_all_commands(op);
  op.app.require_subcommand(1);
  std::vector<std::string> reversed(a.command.rbegin(), a.command.rend());
  try {
    op.app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    fail(Category::usage, fmt::format("the command after '--': {} (global options such as "
                                      "--token go before 'quorum')",
                                      usage_error_message(op.app, e)));
  }
  if (!op.action) fail(Category::usage, "the command after '--' names no action");
  op.globals = cli.globals;
  const nlohmann::json operation = operation_of(op.app);
  for (const auto& [name, values] : operation["parameters"].items())
    if (name == "--shares-file")
      fail(Category::usage, "'quorum request' takes the shares from remote approvals; remove "
                            "--shares-file from the command");
  const std::filesystem::path dir = std::filesystem::absolute(a.dir).lexically_normal();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir))
    fail(Category::general, fmt::format("--request-dir '{}' is not a directory and cannot be "
                                        "made", dir.string()));
  if (std::filesystem::exists(dir / "request.json"))
    fail(Category::not_found, fmt::format("'{}' already holds a request.json; give each request "
                                          "a new directory", dir.string()));
  const WorkspaceFacts facts = workspace_facts(cli);

  quorum::RemoteOptions o;
  o.dir = dir;
  o.lifetime = lifetime;
  o.operation = operation;
  o.workspace = facts.doc;
  o.master_set_identifier = facts.set_identifier;
  o.say = [](const std::string& line) { std::cerr << "hsmctl: " << printable_lines(line) << '\n'; };
  quorum::RemoteApproval ra(std::move(o));
  int code = 0;
  {
    const RemoteIntakeScope scope(ra);
    try {
      code = op.action();
    } catch (const Error& e) {
      ra.forget_key();
      if (e.category() != Category::quorum || !ra.expired()) throw;
      const auto& forged = ra.integrity_refusals();
      if (!forged.empty())
        fail(Category::integrity,
             fmt::format("the request expired at {} without its quorum, and {} approval{} "
                         "failed the integrity checks (first: {}); {}", ra.expires_text(),
                         forged.size(), forged.size() == 1 ? "" : "s", forged.front(), e.what()));
      fail(Category::quorum, fmt::format("the request expired at {} without its quorum: {}",
                                         ra.expires_text(), e.what()));
    }
  }
  ra.forget_key();
  if (!ra.requested())
    std::cerr << fmt::format("hsmctl: note: 'hsmctl {}' asked for no shares; no request was "
                             "written\n", operation["command"].get<std::string>());
  return code;
}

struct ApproveArgs {
  std::string request, out, share_file;
};

int run_approve(Cli& cli, const ApproveArgs& a) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(a.out, ec)))
    fail(Category::not_found, fmt::format("'{}' already exists; an approval never overwrites a "
                                          "file, choose another --out", a.out));
  const quorum::Request r = quorum::read_request(a.request);
  const keystore::ShareSet set = quorum::share_set_of(r);
  if (std::time(nullptr) >= quorum::parse_utc(r.expires()))
    fail(Category::quorum, fmt::format("this request expired at {}; ask the host for a new one",
                                       r.expires()));
  std::ostream& say = cli.globals.json ? std::cerr : std::cout;
  say << "You are asked to approve, with your share:\n\n" << printable_lines(quorum::describe(r))
      << "\nCompare the digest words with the ceremony host before you go on.\n";
  say.flush();
  if (!cli.globals.yes) {
    if (!has_terminal())
      fail(Category::usage, "approving needs a typed confirmation and there is no terminal; "
                            "pass --yes once you have read the request ('hsmctl quorum show')");
    const Secret answer = prompt_visible("Type yes to approve exactly this operation: ");
    if (answer.chars() != "yes") fail(Category::general, "not approved; nothing was written");
  }
  Secret share;
  if (a.share_file.empty()) {
    share = type_share("Your share (words separated by spaces; the first four letters of each "
                       "are enough): ");
    if (share.empty()) fail(Category::usage, "no share typed; nothing was written");
  } else {
    share = read_secret(SecretSource::parse("file:" + a.share_file), "share");
    check_share_spelling(share, 1, a.share_file);
  }
  const slip39::Share parsed = slip39::parse_mnemonic(share);
  const std::string custodian = check_share(set, parsed).name;
  quorum::Approval ap;
  ap.request_digest = r.digest_hex();
  ap.ceremony_id = r.ceremony_id();
  ap.custodian = custodian;
  ap.sealed = crypto::seal_share(r.public_key(), r.digest, custodian, share);
  write_new_file(a.out, as_bytes(quorum::approval_text(ap)), 0600);
  cli.emit({{"out", a.out}, {"custodian", custodian}, {"request_digest", r.digest_hex()},
            {"ceremony_id", r.ceremony_id()}, {"expires", r.expires()}},
           [&](std::ostream& out) {
             out << fmt::format("approval of custodian '{}' written to {}; send it to the "
                                "ceremony host before {}\n", custodian, a.out, r.expires());
           });
  return 0;
}

}  // namespace

void add_quorum_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("quorum", "quorum steps approved by custodians from their "
                                       "own machines, bound to the exact operation");
  group->require_subcommand(1);

  auto ra = std::make_shared<RequestArgs>();
  auto* request = group->add_subcommand("request", "run a quorum-gated command with its shares "
                                        "from remote approvals: writes DIR/request.json and waits "
                                        "for DIR/*.approval");
  request->add_option("--request-dir", ra->dir, "where request.json is written and approvals "
                      "are dropped (made if missing; one request per directory)")
      ->type_name("DIR")->required();
  request->add_option("--expires", ra->expires, "how long the request is valid (90s, 30m, 2h, "
                      "1d; default 30m)")->type_name("DURATION");
  request->add_option("COMMAND", ra->command, "the command and its options, after '--'")
      ->expected(-1)->required();
  with_example(request, "hsmctl quorum request --request-dir /srv/approvals/r1 --expires 2h -- "
                        "backup restore site-a.hsmbk");
  request->callback([&cli, ra] {
    cli.action = [&cli, ra] { return run_request(cli, *ra); };
  });

  auto aa = std::make_shared<ApproveArgs>();
  auto* approve = group->add_subcommand("approve", "a custodian approves a request with their "
                                        "share, on their own machine (no token, no workspace)");
  approve->add_option("REQUEST", aa->request, "the request.json the host wrote")
      ->type_name("FILE")->required();
  approve->add_option("--out", aa->out, "the approval to write (0600; never overwrites)")
      ->type_name("FILE")->required();
  approve->add_option("--share-file", aa->share_file, "file holding your share (default: typed, "
                      "hidden, word by word corrections)")->type_name("F");
  with_example(approve, "hsmctl quorum approve request.json --out ann.approval");
  approve->callback([&cli, aa] {
    cli.action = [&cli, aa] { return run_approve(cli, *aa); };
  });

  auto sp = std::make_shared<std::string>();
  auto* show = group->add_subcommand("show", "print a request in words (checks its digest)");
  show->add_option("REQUEST", *sp, "the request.json")->type_name("FILE")->required();
  with_example(show, "hsmctl quorum show request.json");
  show->callback([&cli, sp] {
    cli.action = [&cli, sp] {
      const quorum::Request r = quorum::read_request(*sp);
      nlohmann::json doc = r.body;
      doc["digest"] = r.digest_hex();
      doc["pgp_words"] = transcript::pgp_words(r.digest);
      doc["expired"] = std::time(nullptr) >= quorum::parse_utc(r.expires());
      cli.emit(doc, [&](std::ostream& out) { out << quorum::describe(r); });
      return 0;
    };
  });
}

}  // namespace hsm::cli
