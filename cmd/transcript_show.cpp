// transcript show: the transcript for people (one line per event: what happened, to what, by
// whom, with what outcome, long data summarised) and for tools (--json: JSON Lines), with
// filters. It reads only; it never verifies (that is `transcript verify`).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cmd/cli.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/transcript/canonical_json.h"

namespace hsm::cli {

namespace {

using nlohmann::json;

struct ShowFilters {
  std::string file, ceremony, user, key, since, until;
  std::vector<std::string> events;
  bool full = false;
};

// "user.create" for ceremony.begin/end (their `what`), else the event itself.
std::string subject_event(const json& e) {
  const json& d = e["data"];
  if (d.is_object() && d.contains("what") && d["what"].is_string()) return d["what"];
  return e.value("event", "");
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Whether `v` holds `name` under one of `keys` (at any depth). `name_key` also counts "name"
// (for user.* events the user is called "name"; for group.* events it is the group's).
bool mentions(const json& v, const std::vector<std::string>& keys, const std::string& name,
              bool under_key = false) {
  if (v.is_string()) return under_key && v.get_ref<const std::string&>() == name;
  if (v.is_array()) {
    for (const auto& x : v)
      if (mentions(x, keys, name, under_key)) return true;
    return false;
  }
  if (!v.is_object()) return false;
  for (const auto& [k, x] : v.items())
    if (mentions(x, keys, name, std::find(keys.begin(), keys.end(), k) != keys.end())) return true;
  return false;
}

bool mentions_user(const json& e, const std::string& user) {
  std::vector<std::string> keys{"user", "users", "member", "members"};
  if (starts_with(subject_event(e), "user.")) keys.push_back("name");
  return mentions(e["data"], keys, user);
}

bool mentions_key(const json& e, const std::string& key) {
  std::vector<std::string> keys{"key"};
  const std::string ev = subject_event(e);
  if (starts_with(ev, "key.") || starts_with(ev, "sign.")) keys.push_back("label");
  return mentions(e["data"], keys, key);
}

bool is_seq(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// SEQ, or a time: 2026-11-24, 2026-11-24T19:00 or 2026-11-24T19:00:00Z (UTC, as recorded).
void check_bound(const std::string& option, const std::string& v) {
  if (v.empty() || is_seq(v)) return;
  const std::string shape = "dddd-dd-ddTdd:dd:ddZ";
  bool ok = v.size() == 10 || v.size() == 16 || v.size() == 19 || v.size() == 20;
  for (std::size_t i = 0; ok && i < v.size(); ++i)
    ok = shape[i] == 'd' ? (v[i] >= '0' && v[i] <= '9') : v[i] == shape[i];
  if (!ok)
    fail(Category::usage, fmt::format("{} '{}' is neither a seq number nor a UTC time such as "
                                      "2026-11-24 or 2026-11-24T19:00:00Z", option, v));
}

// Whether entry `e` is at or after (`after`) / at or before the bound `v`.
bool within(const json& e, const std::string& v, bool after) {
  if (v.empty()) return true;
  if (is_seq(v)) {
    const auto seq = e.value("seq", 0ULL), bound = std::stoull(v);
    return after ? seq >= bound : seq <= bound;
  }
  const std::string time = e.value("time", "").substr(0, v.size() == 20 ? 20 : v.size());
  return after ? time >= v : time <= v;
}

bool event_matches(const std::string& event, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return true;
  for (const auto& w : wanted)
    if (event == w || starts_with(event, w + ".")) return true;
  return false;
}

bool entry_selected(const json& e, const ShowFilters& f) {
  return event_matches(e.value("event", ""), f.events) &&
         (f.ceremony.empty() || starts_with(e.value("ceremony", ""), f.ceremony)) &&
         (f.user.empty() || mentions_user(e, f.user)) && (f.key.empty() || mentions_key(e, f.key)) &&
         within(e, f.since, true) && within(e, f.until, false);
}

// "user 'alice'", "key 'root'", ...: what the event happened to.
std::string entry_target(const json& e) {
  const json& d = e["data"];
  if (!d.is_object()) return "";
  const json& p = d.contains("params") && d["params"].is_object() ? d["params"] : d;
  const std::string ev = subject_event(e);
  auto str = [](const json& o, const char* k) {
    return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  auto quoted = [](const char* kind, const std::string& n) { return fmt::format("{} '{}'", kind, n); };
  for (const json* o : {&d, &p}) {
    if (starts_with(ev, "user.") && !str(*o, "name").empty()) return quoted("user", str(*o, "name"));
    if (starts_with(ev, "group.") && !str(*o, "name").empty()) return quoted("group", str(*o, "name"));
    if (!str(*o, "group").empty()) return quoted("group", str(*o, "group"));
    if (!str(*o, "user").empty()) return quoted("user", str(*o, "user"));
    if (!str(*o, "key").empty()) return quoted("key", str(*o, "key"));
    if ((starts_with(ev, "key.") || starts_with(ev, "sign.")) && !str(*o, "label").empty())
      return quoted("key", str(*o, "label"));
    if (!str(*o, "witness").empty()) return quoted("witness", str(*o, "witness"));
    if (!str(*o, "custodian").empty()) return quoted("custodian", str(*o, "custodian"));
  }
  if (p.contains("custodians") && p["custodians"].is_array()) {
    std::string names;
    for (const auto& c : p["custodians"])
      names += (names.empty() ? "" : ",") +
               (c.is_string() ? c.get<std::string>() : c.is_object() ? c.value("name", "?") : "?");
    return "custodians " + names;
  }
  if (!str(d, "token").empty()) return quoted("token", str(d, "token"));
  return "";
}

std::string entry_outcome(const json& e) {
  const json& d = e["data"];
  if (d.is_object() && d.contains("outcome") && d["outcome"].is_string()) return d["outcome"];
  const std::string ev = e.value("event", "");
  for (const char* bad : {"failed", "refused", "rejected", "skipped"})
    if (ev.size() > std::string(bad).size() && ev.substr(ev.size() - std::string(bad).size()) == bad)
      return bad;
  return "ok";
}

// One value, short: long strings cut, arrays and objects counted unless small.
std::string summary_value(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    const std::string shown = s.size() > 24 ? s.substr(0, 16) + "..." : s;
    return shown.find(' ') != std::string::npos ? "\"" + shown + "\"" : shown;
  }
  if (v.is_array()) {
    std::string joined;
    for (const auto& x : v) {
      if (!x.is_primitive() || joined.size() > 40) return fmt::format("[{} items]", v.size());
      joined += (joined.empty() ? "" : ",") + summary_value(x);
    }
    return joined.size() > 40 ? fmt::format("[{} items]", v.size()) : "[" + joined + "]";
  }
  if (v.is_object()) return fmt::format("{{{} fields}}", v.size());
  return v.dump();
}

// The data not already shown as subject and outcome, as key=value, at most ~100 characters.
std::string entry_details(const json& e) {
  const json& d = e["data"];
  if (!d.is_object()) return summary_value(d);
  std::string out;
  std::size_t hidden = 0;
  auto add = [&](const std::string& k, const json& v) {
    const std::string item = k + "=" + summary_value(v);
    if (out.size() + item.size() > 100) {
      ++hidden;
      return;
    }
    out += (out.empty() ? "" : " ") + item;
  };
  for (const auto& [k, v] : d.items()) {
    if (k == "outcome" || k == "what") continue;
    if (k == "params" && v.is_object()) {
      for (const auto& [pk, pv] : v.items()) add(pk, pv);
      continue;
    }
    add(k, v);
  }
  if (hidden > 0) out += fmt::format(" (+{} more; --full shows all)", hidden);
  return out;
}

std::vector<json> read_entries(const std::filesystem::path& path, std::size_t& total) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("transcript '{}' does not exist", path.string()));
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) {
    json e;
    try {
      e = transcript::parse_canonical_line(line);
    } catch (const Error&) {
      continue;  // a torn line; `verify` reports it
    }
    ++total;
    e.erase("sig");
    out.push_back(std::move(e));
  }
  return out;
}

std::string filters_text(const ShowFilters& f) {
  std::string s;
  auto add = [&s](const char* opt, const std::string& v) {
    if (!v.empty()) s += fmt::format("{}{} {}", s.empty() ? "" : " ", opt, v);
  };
  std::string events;
  for (const auto& ev : f.events) events += (events.empty() ? "" : ",") + ev;
  add("--event", events);
  add("--user", f.user);
  add("--key", f.key);
  add("--ceremony", f.ceremony);
  add("--since", f.since);
  add("--until", f.until);
  return s;
}

void print_table(std::ostream& out, const std::vector<json>& shown, bool full) {
  std::vector<std::array<std::string, 5>> rows;  // event, target, actor, outcome, details
  std::size_t ew = 5, tw = 6, aw = 2, ow = 7;
  for (const auto& e : shown) {
    rows.push_back({printable(e.value("event", "")), printable(entry_target(e)),
                    printable(e.value("actor", "")), printable(entry_outcome(e)),
                    printable(full ? transcript::canonical_json(e["data"]) : entry_details(e))});
    ew = std::max(ew, rows.back()[0].size());
    tw = std::min<std::size_t>(32, std::max(tw, rows.back()[1].size()));
    aw = std::min<std::size_t>(16, std::max(aw, rows.back()[2].size()));
    ow = std::max(ow, rows.back()[3].size());
  }
  out << fmt::format("{:>5}  {:<20}  {:<8}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", "SEQ", "TIME",
                     "CEREMONY", "EVENT", ew, "TARGET", tw, "BY", aw, "OUTCOME", ow, "DETAILS");
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const auto& e = shown[i];
    const auto& r = rows[i];
    out << fmt::format("{:>5}  {:<20}  {:<8}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n",
                       e.value("seq", 0ULL), printable(e.value("time", "")),
                       printable(e.value("ceremony", "").substr(0, 8)), r[0], ew, r[1], tw,
                       r[2], aw, r[3], ow, r[4]);
  }
}

}  // namespace

void add_transcript_show(Cli& cli, CLI::App* group) {
  auto f = std::make_shared<ShowFilters>();
  auto* cmd = group->add_subcommand("show", "list the transcript's events, one readable line "
                                    "each (--json: JSON Lines)");
  cmd->add_option("FILE", f->file, "transcript (default: DIR/transcript.jsonl)");
  cmd->add_option("--event", f->events, "only these events (comma separated; 'user' also "
                  "matches user.created and every other user.* event)")
      ->delimiter(',')->type_name("EVENT");
  cmd->add_option("--user", f->user, "only entries about this user")->type_name("NAME");
  cmd->add_option("--key", f->key, "only entries about this signing key")->type_name("LABEL");
  cmd->add_option("--since", f->since, "only from this seq number or UTC time on "
                  "(2026-11-24 or 2026-11-24T19:00:00Z)")->type_name("SEQ|TIME");
  cmd->add_option("--until", f->until, "only up to this seq number or UTC time")
      ->type_name("SEQ|TIME");
  cmd->add_option("--ceremony", f->ceremony, "only this ceremony id (or a prefix of it)")
      ->type_name("ID");
  cmd->add_flag("--full", f->full, "all of each entry's data, not a summary");
  with_example(cmd, "hsmctl transcript show --user alice --since 2026-11-24\n"
                    "  hsmctl transcript show --event ceremony.end --json");
  cmd->callback([&cli, f] {
    cli.action = [&cli, f] {
      check_bound("--since", f->since);
      check_bound("--until", f->until);
      if (f->file.empty()) require_workspace(cli.globals.dir);
      const auto path = f->file.empty()
                            ? std::filesystem::path(cli.globals.dir) / "transcript.jsonl"
                            : std::filesystem::path(f->file);
      std::size_t total = 0;
      std::vector<json> shown;
      for (auto& e : read_entries(path, total))
        if (entry_selected(e, *f)) shown.push_back(std::move(e));
      if (shown.empty()) {
        const std::string none =
            total == 0 ? fmt::format("transcript '{}' has no entries", path.string())
                       : fmt::format("no entry of the {} in '{}' matches {}", total,
                                     path.string(), printable(filters_text(*f)));
        (cli.globals.json ? std::cerr : std::cout) << (cli.globals.json ? "hsmctl: " : "")
                                                   << none << '\n';
        return 0;
      }
      if (cli.globals.json) {
        for (const auto& e : shown) std::cout << transcript::canonical_json(e) << '\n';
      } else {
        print_table(std::cout, shown, f->full);
      }
      std::cout.flush();
      return 0;
    };
  });
}

}  // namespace hsm::cli
