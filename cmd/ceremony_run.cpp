// ceremony run PLAN [--rehearse]: validates the plan, records plan.begin, runs each step as its
// own hsmctl process after a typed confirmation, records plan.end (ok, or the failed step), and
// prints the final head last.
// The PIN is read once here and handed to each step through a pipe; the workspace lock is never
// held while a step runs.
#include <fmt/format.h>
#include <sodium.h>
#include <stdlib.h>

#include <iostream>
#include <optional>

#include "ceremonies/plans/plan_exec.h"
#include "ceremonies/plans/plan_rules.h"
#include "ceremonies/recorder.h"
#include "cmd/ceremony.h"
#include "core/bytes.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/transcript/appender.h"
#include "core/transcript/pgp_words.h"

namespace hsm::cli {

namespace {

struct RunArgs {
  std::string plan, rehearsal_dir;
  bool rehearse = false;
};

// What every step is given: the workspace, token and module of the run.
struct Target {
  std::filesystem::path dir, sandbox;
  std::string token, module;
  Secret pin, so_pin;
};

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

Secret random_pin() {
  unsigned char raw[12];
  randombytes_buf(raw, sizeof raw);
  const std::string hex = to_hex(Bytes(raw, raw + sizeof raw));
  sodium_memzero(raw, sizeof raw);
  return Secret::copy_of(hex);
}

Category category_of(int code) {
  for (Category c : {Category::usage, Category::auth, Category::integrity, Category::quorum,
                     Category::token, Category::not_found})
    if (exit_code(c) == code) return c;
  return Category::general;
}

// Records one short ceremony of the run itself (plan.begin, plan.end) and releases the
// workspace (its lock, the module) before any step runs.
void record(const Cli& cli, const Target& t, const std::string& what, const nlohmann::json& data,
            const Error* failure = nullptr) {
  WorkspaceOptions o = cli.workspace_options();
  for (const auto& s : data.value("steps", nlohmann::json::array()))
    if (starts_workspace(s.value("run", ""))) o.dir_use = DirUse::start;
  o.dir = t.dir;
  o.token = t.token;
  o.module_path = t.module;
  Workspace ws(o);
  ws.use_pin(Secret::copy_of(t.pin.bytes()));
  Recorder rec(ws);
  try {
    rec.begin(what, {{"plan", data["plan"]}});
    rec.record(what, data);
    if (failure != nullptr) {
      rec.end_failure(*failure);
      return;
    }
    rec.end_ok();
  } catch (const Error& e) {
    rec.end_failure(e);
    throw;
  }
}

std::vector<std::string> globals_for(const Cli& cli, const Target& t, const std::string& pin_fd) {
  std::vector<std::string> g{"--dir", t.dir.string(), "--pin-source", pin_fd};
  if (!t.token.empty()) g.insert(g.end(), {"--token", t.token});
  if (!t.module.empty()) g.insert(g.end(), {"--module", t.module});
  if (cli.globals.yes) g.push_back("--yes");
  if (!cli.globals.actor.empty()) g.insert(g.end(), {"--actor", cli.globals.actor});
  return g;
}

int init_token(const Cli& cli, const Target& t, bool rehearse) {
  ChildRun c;
  c.secrets = {&t.pin, &t.so_pin};
  c.stdout_to_stderr = cli.globals.json;
  c.args = [&](const std::vector<std::string>& fd) {
    auto a = globals_for(cli, t, fd[0]);
    a.erase(a.begin() + 4, a.begin() + 6);  // token init picks a free slot, not --token
    a.insert(a.end(), {"token", "init", "--label", t.token, "--so-pin-source",
                       rehearse ? fd[1] : std::string("prompt")});
    return a;
  };
  return run_self(c);
}

bool confirmed(const Cli& cli, const PlanStep& s) {
  if (cli.globals.yes) return true;
  const Secret typed = prompt_visible(fmt::format("Type {} or yes to run step {}: ", s.number,
                                                  s.number));
  const std::string_view answer(reinterpret_cast<const char*>(typed.data()), typed.size());
  return answer == "yes" || answer == std::to_string(s.number);
}

void setup_rehearsal(RunArgs& a, Target& t, const Plan& plan) {
  if (a.rehearsal_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hsmctl-rehearsal-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) fail(Category::general, "cannot make a rehearsal directory");
    a.rehearsal_dir = tmpl;
  } else if (std::filesystem::exists(a.rehearsal_dir) && !std::filesystem::is_empty(a.rehearsal_dir)) {
    fail(Category::not_found, fmt::format("rehearsal directory '{}' is not empty; give a new one",
                                          a.rehearsal_dir));
  }
  t.sandbox = std::filesystem::absolute(a.rehearsal_dir);
  std::filesystem::create_directories(t.sandbox / "tokens");
  std::filesystem::permissions(t.sandbox, std::filesystem::perms::owner_all);
  t.dir = t.sandbox / "workspace";
  const auto conf = t.sandbox / "softhsm2.conf";
  const std::string text = fmt::format("directories.tokendir = {}\nobjectstore.backend = file\n"
                                       "log.level = ERROR\nslots.removable = false\n",
                                       (t.sandbox / "tokens").string());
  write_new_file(conf, as_bytes(text), 0600);
  ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);  // this process and every step
  t.module = resolve_module_path("");
  if (t.token.empty()) t.token = plan.token.empty() ? "rehearsal" : plan.token;
  t.pin = random_pin();
  t.so_pin = random_pin();
}

// The head after the run's last entry (plan.end's ceremony.end): the one witnesses write down
// and `transcript verify --head` accepts, because the run appends nothing after it.
struct FinalHead {
  std::string head, words;
  std::uint64_t entries = 0;
};

FinalHead final_head(const Target& t) {
  transcript::Transcript tr(t.dir / "transcript.jsonl");
  const auto st = tr.state();
  return {st.head, transcript::pgp_words(from_hex(st.head)), st.entries};
}

void add_head(nlohmann::json& doc, const FinalHead& h) {
  doc["head"] = h.head;
  doc["pgp_words"] = h.words;
  doc["entries"] = h.entries;
}

void print_head(std::ostream& out, const FinalHead& h) {
  out << fmt::format("\nFinal transcript head after {} entries, for the witnesses to write "
                     "down (transcript verify --head accepts it):\n  {}\n  {}\n",
                     h.entries, h.head, h.words);
}

nlohmann::json plan_data(const Plan& p, const std::string& text, bool rehearse) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : p.steps)
    steps.push_back({{"step", s.number}, {"run", s.run}, {"title", s.title()}, {"args", s.argv()},
                     {"roles", s.roles}, {"witnesses", s.witnesses}});
  return {{"plan", p.name}, {"plan_sha256", to_hex(crypto::sha256(as_bytes(text)))},
          {"witnesses", p.witnesses}, {"roles", p.roles}, {"steps", steps},
          {"rehearsal", rehearse}};
}

int run_plan(Cli& cli, RunArgs& a) {
  std::string text;
  const Plan plan = validated_plan(a.plan, &text);
  std::ostream& say = cli.globals.json ? std::cerr : std::cout;
  Target t;
  t.token = plan.token;
  if (!plan.token.empty() && !cli.globals.token.empty() && cli.globals.token != plan.token && !a.rehearse)
    fail(Category::usage, fmt::format("the plan runs on token '{}' but --token (or HSMCTL_TOKEN) "
                                      "says '{}'", plan.token, cli.globals.token));
  if (!cli.globals.yes && !has_terminal())
    fail(Category::usage, "each step needs a typed confirmation and there is no terminal; pass "
                          "--yes to run the plan unattended");
  if (a.rehearse) {
    setup_rehearsal(a, t, plan);
  } else {
    t.dir = std::filesystem::absolute(cli.globals.dir);
    if (t.token.empty()) t.token = cli.globals.token;
    t.module = cli.globals.module;
    const SecretSource src = SecretSource::parse(cli.globals.pin_source);
    t.pin = plan.init_token ? read_new_secret(src, "user PIN for the new token")
                            : read_secret(src, fmt::format("user PIN of token '{}'", t.token));
  }
  if (a.rehearse || plan.init_token) {
    say << fmt::format("Initialising token '{}'{}\n", t.token, a.rehearse ? " (throwaway)" : "");
    say.flush();
    if (const int code = init_token(cli, t, a.rehearse); code != 0) {
      std::cerr << fmt::format("hsmctl: error: the token could not be initialised (exit {}); "
                               "no step of the plan has run\n", code);
      return code;
    }
  }
  record(cli, t, "plan.begin", plan_data(plan, text, a.rehearse));
  Rehearsal rehearsal(t.sandbox);
  nlohmann::json done = nlohmann::json::array();
  const int total = static_cast<int>(plan.steps.size());
  for (const auto& s : plan.steps) {
    const auto command = a.rehearse ? rehearsal.command(s) : s.command();
    say << fmt::format("\nStep {} of {}: {}\n  roles present: {}\n  witnesses: {}\n  hsmctl {}\n",
                       s.number, total, s.title(), s.roles.empty() ? "-" : join(s.roles),
                       s.witnesses.empty() ? "-" : join(s.witnesses), join(command, " "));
    if (s.run == "transcript head")
      say << "  (not the final head: the run prints that after its last entry)\n";
    say.flush();
    int code = 1;
    std::string why;
    if (!confirmed(cli, s)) {
      why = fmt::format("step {} was not confirmed", s.number);
    } else {
      ChildRun c;
      c.secrets = {&t.pin};
      c.stdout_to_stderr = cli.globals.json;
      c.args = [&](const std::vector<std::string>& fd) {
        auto args = globals_for(cli, t, fd[0]);
        args.insert(args.end(), command.begin(), command.end());
        return args;
      };
      code = run_self(c);
      why = fmt::format("step {} ({}) failed with exit code {}", s.number, s.title(), code);
    }
    if (code == 0) {
      done.push_back({{"step", s.number}, {"run", s.run}, {"exit_code", 0}});
      if (a.rehearse) rehearsal.after(s);
      continue;
    }
    const Error failure(category_of(code), why);
    try {
      record(cli, t, "plan.end", {{"plan", plan.name}, {"steps_done", done.size()},
                                  {"failed_step", s.number}, {"run", s.run}, {"exit_code", code}},
             &failure);
    } catch (const Error& e) {
      std::cerr << "hsmctl: the failure could not be recorded: " << printable(e.what()) << '\n';
    }
    std::optional<FinalHead> head;
    try {
      head = final_head(t);
    } catch (const Error& e) {
      std::cerr << "hsmctl: the transcript head could not be read: " << printable(e.what()) << '\n';
    }
    const auto undo = undo_list(plan, s.number - 1);
    say << fmt::format("\nThe plan stopped at step {} of {}. Done so far: {}\n", s.number, total,
                       done.empty()       ? std::string("nothing")
                       : done.size() == 1 ? std::string("step 1")
                                          : fmt::format("steps 1 to {}", done.size()));
    if (!undo.empty()) say << "To undo, or to keep in mind before running again:\n";
    for (const auto& u : undo) say << "  " << u << '\n';
    if (head) print_head(say, *head);
    if (cli.globals.json) {
      nlohmann::json doc{{"plan", plan.name}, {"ok", false}, {"steps", done},
                         {"failed_step", s.number}, {"exit_code", code}, {"undo", undo}};
      if (head) add_head(doc, *head);
      cli.emit(doc, [](std::ostream&) {});
    }
    std::cerr << "hsmctl: error: " << printable(one_style(why)) << '\n';
    return code;
  }
  record(cli, t, "plan.end", {{"plan", plan.name}, {"steps_done", done.size()}});
  const auto transcript = t.dir / "transcript.jsonl";
  const FinalHead head = final_head(t);
  nlohmann::json doc{{"plan", plan.name}, {"ok", true}, {"steps", done}, {"rehearsal", a.rehearse},
                     {"workspace", t.dir.string()}, {"transcript", transcript.string()}};
  add_head(doc, head);
  cli.emit(doc, [&](std::ostream& out) {
    out << fmt::format("\nplan '{}' done: {} steps; transcript {}\n", plan.name, total,
                       transcript.string());
    if (a.rehearse)
      out << fmt::format("rehearsal kept in {}; after the live run compare with\n"
                         "  hsmctl ceremony diff {} LIVE/transcript.jsonl\n",
                         t.sandbox.string(), transcript.string());
    print_head(out, head);  // the last lines: what the witnesses write down
  });
  return 0;
}

}  // namespace

void add_ceremony_run(Cli& cli, CLI::App* group) {
  auto a = std::make_shared<RunArgs>();
  auto* run = group->add_subcommand("run", "run a plan step by step, each announced and "
                                    "confirmed, or rehearse it on a throwaway SoftHSM token");
  run->add_option("PLAN", a->plan, "plan file (TOML, see hsmctl-plan(5))")->required();
  run->add_flag("--rehearse", a->rehearse, "run on a new throwaway SoftHSM token with a random "
                "PIN; shares and --out files go into the rehearsal directory");
  run->add_option("--rehearsal-dir", a->rehearsal_dir, "where the rehearsal keeps its token, "
                  "workspace and files (new or empty; default: a new /tmp/hsmctl-rehearsal-*)")
      ->type_name("DIR");
  with_example(run, "hsmctl --dir /ceremony --token root-hsm ceremony run root-2026.toml");
  run->callback([&cli, a] {
    cli.action = [&cli, a] { return run_plan(cli, *a); };
  });
}

}  // namespace hsm::cli
