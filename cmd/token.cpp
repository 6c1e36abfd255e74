// token list | info | objects | check | init: what is on the module, what a token can do for
// hsmctl, and a new token.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/token/token_check.h"
#include "ceremonies/token/token_init.h"
#include "cmd/cli.h"
#include "core/bytes.h"
#include "core/pkcs11/objects.h"

namespace hsm::cli {

namespace {

nlohmann::json token_json(const p11::TokenInfo& t) {
  return {{"label", t.label},
          {"manufacturer", t.manufacturer},
          {"model", t.model},
          {"serial", t.serial},
          {"slot_id", t.slot_id},
          {"initialized", t.initialized},
          {"login_required", t.login_required},
          {"user_pin_initialized", t.user_pin_initialized},
          {"user_pin_count_low", t.user_pin_count_low},
          {"user_pin_final_try", t.user_pin_final_try},
          {"user_pin_locked", t.user_pin_locked},
          {"so_pin_locked", t.so_pin_locked},
          {"rng", t.has_rng},
          {"firmware", t.firmware},
          {"hardware", t.hardware},
          {"free_private_memory", t.free_private_memory}};
}

nlohmann::json optional_bool(const std::optional<bool>& b) {
  return b ? nlohmann::json(*b) : nlohmann::json(nullptr);
}

nlohmann::json object_json(const p11::ObjectInfo& o) {
  nlohmann::json j{{"label", o.label},
                   {"id", to_hex(o.id)},
                   {"class", o.object_class},
                   {"key_type", o.key_type},
                   {"token", optional_bool(o.token)},
                   {"private", optional_bool(o.is_private)},
                   {"sensitive", optional_bool(o.sensitive)},
                   {"extractable", optional_bool(o.extractable)},
                   {"local", optional_bool(o.local)},
                   {"modifiable", optional_bool(o.modifiable)},
                   {"always_sensitive", optional_bool(o.always_sensitive)},
                   {"never_extractable", optional_bool(o.never_extractable)}};
  if (o.check_value) j["kcv"] = to_hex(*o.check_value);
  return j;
}

const char* yes_no(const std::optional<bool>& b) { return !b ? "-" : *b ? "yes" : "no"; }

void print_token(std::ostream& out, const p11::TokenInfo& t) {
  out << fmt::format("  label        {}\n  manufacturer {}\n  model        {}\n  serial       {}\n"
                     "  slot         {}\n  firmware     {}\n",
                     t.label, t.manufacturer, t.model, t.serial, t.slot_id, t.firmware);
  std::string pin = t.user_pin_locked      ? "LOCKED"
                    : t.user_pin_final_try ? "one try left"
                    : t.user_pin_count_low ? "few tries left"
                    : t.user_pin_initialized ? "set" : "not set";
  out << fmt::format("  user PIN     {}\n  SO PIN       {}\n", pin, t.so_pin_locked ? "LOCKED" : "ok");
}

nlohmann::json capability_json(const p11::Capability& c) {
  nlohmann::json j{{"id", c.id}, {"feature", c.feature}, {"needed_for", c.needed_for},
                   {"required", c.required}, {"status", c.status}};
  if (!c.fallback.empty()) j["fallback"] = c.fallback;
  if (!c.ok()) {
    for (const auto& [key, value] : {std::pair{"call", &c.call}, {"mechanism", &c.mechanism},
                                     {"attribute", &c.attribute}, {"rv", &c.rv},
                                     {"detail", &c.detail}})
      if (!value->empty()) j[key] = *value;
  }
  return j;
}

void print_capabilities(std::ostream& out, const TokenCheckResult& r) {
  for (const p11::Capability& c : r.capabilities) {
    const std::string status = c.status == "fallback"
                                   ? fmt::format("supported through a fallback ({})", c.fallback)
                                   : c.status;
    out << fmt::format("  {:<14} {:<13} {}{}\n", c.id, status, c.needed_for,
                       c.required ? " (required)" : "");
    if (c.ok()) continue;
    std::string how = c.call;
    if (!c.mechanism.empty()) how += " " + c.mechanism;
    if (!c.attribute.empty()) how += ", refused " + c.attribute;
    if (!c.rv.empty()) how += ": " + c.rv;
    if (!how.empty()) out << fmt::format("  {:<14} {:<13} {}\n", "", "", how);
  }
}

void add_check(Cli& cli, CLI::App* group) {
  auto slot = std::make_shared<std::string>();
  auto* check = group->add_subcommand("check", "try, without changing the token, each operation "
                                      "hsmctl needs, and say which the token supports");
  check->add_option("--slot", *slot, "check this slot (decimal id or pkcs11: URI) instead of "
                    "--token; a token not initialised yet is judged by its mechanism list")
      ->type_name("ID|URI");
  with_example(check, "hsmctl --token ceremony-2026 --pin-source env:PIN token check");
  check->callback([&cli, slot] {
    cli.action = [&cli, slot] {
      Workspace ws(cli.workspace_options(DirUse::none));
      const TokenCheckResult r = check_token(ws, *slot);
      nlohmann::json features = nlohmann::json::array();
      for (const p11::Capability& c : r.capabilities) features.push_back(capability_json(c));
      const nlohmann::json doc{{"token", r.token.label},
                               {"slot_id", r.token.slot_id},
                               {"module", ws.module().path()},
                               {"mode", r.mode},
                               {"usable", r.usable()},
                               {"features", std::move(features)}};
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("Token '{}' (slot {}) on {}: {}\n", r.token.label, r.token.slot_id,
                           ws.module().description(),
                           r.mode == "operations" ? "each operation tried on session objects"
                                                  : "not initialised: its mechanism list read");
        print_capabilities(out, r);
        out << (r.usable() ? "hsmctl can use this token\n"
                           : "hsmctl cannot use this token: it lacks a required feature\n");
      });
      return r.usable() ? 0 : exit_code(Category::token);
    };
  });
}

}  // namespace

void add_token_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("token", "list tokens, show one, list its objects, "
                                       "initialise a new one");
  group->require_subcommand(1);

  auto* list = group->add_subcommand("list", "list the slots of the module and their tokens");
  with_example(list, "hsmctl token list --json");
  list->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options(DirUse::none));
      const auto slots = p11::list_slots(ws.module());
      nlohmann::json doc{{"module", ws.module().path()}, {"slots", nlohmann::json::array()}};
      for (const auto& s : slots)
        doc["slots"].push_back({{"slot_id", s.slot_id},
                                {"description", s.description},
                                {"token", s.token ? token_json(*s.token) : nlohmann::json()}});
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("Module {}\n", ws.module().description());
        out << fmt::format("{:>12}  {:<32}  {:<16}  {}\n", "SLOT", "TOKEN", "SERIAL", "STATE");
        for (const auto& s : slots) {
          const bool init = s.token && s.token->initialized;
          out << fmt::format("{:>12}  {:<32}  {:<16}  {}\n", s.slot_id,
                             init ? s.token->label : "-", init ? s.token->serial : "-",
                             !s.token ? "no token" : init ? "initialised" : "free");
        }
      });
      return 0;
    };
  });

  auto* info = group->add_subcommand("info", "show the selected token (--token)");
  with_example(info, "hsmctl --token ceremony-2026 token info");
  info->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options(DirUse::none));
      const p11::TokenInfo& t = ws.token();
      nlohmann::json doc = token_json(t);
      doc["module"] = ws.module().path();
      doc["module_description"] = ws.module().description();
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("Token '{}' on {}\n", t.label, ws.module().description());
        print_token(out, t);
      });
      return 0;
    };
  });

  auto* objects = group->add_subcommand("objects", "log in and list the token's objects with "
                                        "their security attributes");
  with_example(objects, "hsmctl --token ceremony-2026 --pin-source env:PIN token objects");
  objects->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options(DirUse::none));
      const auto objs = p11::list_objects(ws.login());
      nlohmann::json doc{{"token", ws.token().label}, {"objects", nlohmann::json::array()}};
      for (const auto& o : objs) doc["objects"].push_back(object_json(o));
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("{:<28} {:<12} {:<14} {:<5} {:<9} {:<11} {:<5} {:<10} {}\n", "LABEL",
                           "CLASS", "TYPE", "TOKEN", "SENSITIVE", "EXTRACTABLE", "LOCAL",
                           "MODIFIABLE", "ID");
        for (const auto& o : objs)
          out << fmt::format("{:<28} {:<12} {:<14} {:<5} {:<9} {:<11} {:<5} {:<10} {}\n", o.label,
                             o.object_class, o.key_type, yes_no(o.token), yes_no(o.sensitive),
                             yes_no(o.extractable), yes_no(o.local), yes_no(o.modifiable),
                             to_hex(o.id));
        out << fmt::format("{} object(s)\n", objs.size());
      });
      return 0;
    };
  });

  add_check(cli, group);

  auto* init = group->add_subcommand("init", "initialise a token on a free slot (or the slot "
                                     "--slot names) and set its SO and user PINs");
  auto opts = std::make_shared<TokenInitOptions>();
  auto so_src = std::make_shared<std::string>("prompt");
  auto current_src = std::make_shared<std::string>();
  init->add_option("--label", opts->label, "label of the new token (at most 32 bytes)")
      ->required()->type_name("L");
  init->add_option("--slot", opts->slot, "the slot to initialise: its decimal slot id or a "
                   "pkcs11: URI naming one slot (default: the first free slot); a slot whose "
                   "token is initialised is re-initialised only when confirmed (typed, or --yes)")
      ->type_name("ID|URI");
  add_source_option(init, "--so-pin-source", *so_src, "new SO PIN");
  add_source_option(init, "--current-so-pin-source", *current_src,
                    "SO PIN the token has now (a factory SO PIN, or that of a token being "
                    "re-initialised; default: prompt when re-initialising); the token ends with "
                    "the new one");
  with_example(init, "hsmctl token init --label ceremony-2026 --so-pin-source prompt "
                     "--pin-source prompt");
  init->callback([&cli, opts, so_src, current_src] {
    cli.action = [&cli, opts, so_src, current_src] {
      opts->so_pin_source = SecretSource::parse(*so_src);
      if (!current_src->empty()) opts->current_so_pin_source = SecretSource::parse(*current_src);
      opts->yes = cli.globals.yes;
      opts->validate();
      WorkspaceOptions o = cli.workspace_options(DirUse::start);
      choose_module_for_slot(o, opts->slot);
      Workspace ws(o);
      const p11::TokenInfo t = init_token(ws, *opts);
      cli.emit(token_json(t), [&](std::ostream& out) {
        out << fmt::format("Initialised token '{}' (serial {}) in slot {}\n", t.label, t.serial,
                           t.slot_id);
      });
      return 0;
    };
  });
}

}  // namespace hsm::cli
