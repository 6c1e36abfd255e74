// hsmctl.toml through toml++ (never a hand-written TOML parser). Strict: unknown keys are errors,
// so a typo does not silently fall back to a default during a ceremony.
#include "core/config/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/keystore/postgres.h"
#include "core/tlog/note.h"
#include "core/secure/secret_source.h"

namespace hsm {

namespace {

std::optional<std::string> string_key(const toml::table& t, std::string_view key,
                                      std::string_view source) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_string())
    fail(Category::usage, fmt::format("{}:{}: '{}' must be a string", source,
                                      n->source().begin.line, key));
  return n->as_string()->get();
}

}  // namespace

WorkspaceConfig parse_config(std::string_view text, std::string_view source_name) {
  // toml++ nests tables recursively: tens of thousands of dotted keys ("[x.x.x...]") overflow the
  // stack (found by fuzzing). A workspace config is a few lines, so bound its size first.
  if (text.size() > kMaxConfigBytes)
    fail(Category::usage, fmt::format("{}: is {} bytes, but an hsmctl.toml may be at most {} "
                                      "bytes; it holds only a few settings", source_name,
                                      text.size(), kMaxConfigBytes));
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    fail(Category::usage, fmt::format("{}:{}: {}", source_name, e.source().begin.line,
                                      e.description()));
  }
  WorkspaceConfig c;
  for (const auto& [key, node] : root) {
    const std::string_view k = key.str();
    const auto line = node.source().begin.line;
    if (k == "module" || k == "token" || k == "pin_source" || k == "log_origin" ||
        k == "store" || k == "users")
      continue;
    if (k == "max_auth_failures" || k == "min_password_length")
      fail(Category::usage, fmt::format("{}:{}: '{}' belongs in the [users] table", source_name,
                                        line, k));
    if (k.find("pin") != std::string_view::npos || k.find("password") != std::string_view::npos)
      fail(Category::usage, fmt::format("{}:{}: '{}' looks like a secret; secrets never go in "
                                        "hsmctl.toml, use pin_source = \"env:VAR\"",
                                        source_name, line, k));
    fail(Category::usage, fmt::format("{}:{}: unknown key '{}' (known: module, token, "
                                      "pin_source, log_origin, store, [users])", source_name, line, k));
  }
  c.module = string_key(root, "module", source_name);
  c.token = string_key(root, "token", source_name);
  c.pin_source = string_key(root, "pin_source", source_name);
  c.log_origin = string_key(root, "log_origin", source_name);
  c.store = string_key(root, "store", source_name);
  if (c.store) {
    try {
      check_store(*c.store);
    } catch (const Error& e) {
      fail(Category::usage, fmt::format("{}: store: {}", source_name, e.what()));
    }
  }
  if (c.log_origin) {
    try {
      tlog::check_key_name(*c.log_origin, "log_origin");
    } catch (const Error& e) {
      fail(Category::usage, fmt::format("{}: {}", source_name, e.what()));
    }
  }
  if (c.pin_source) {
    try {
      SecretSource::parse(*c.pin_source);
    } catch (const Error& e) {
      fail(Category::usage, fmt::format("{}: pin_source: {}", source_name, e.what()));
    }
  }
  if (const toml::node* users = root.get("users")) {
    const toml::table* t = users->as_table();
    if (t == nullptr)
      fail(Category::usage, fmt::format("{}:{}: 'users' must be a table", source_name,
                                        users->source().begin.line));
    for (const auto& [key, node] : *t) {
      if (key.str() == "min_password_length") {
        const auto v = node.value<int64_t>();
        if (!v || *v < 8 || *v > 1024)
          fail(Category::usage, fmt::format("{}:{}: users.min_password_length must be an integer "
                                            "from 8 to 1024", source_name,
                                            node.source().begin.line));
        c.min_password_length = static_cast<int>(*v);
        continue;
      }
      if (key.str() != "max_auth_failures")
        fail(Category::usage, fmt::format("{}:{}: unknown key 'users.{}' (known: "
                                          "max_auth_failures, min_password_length)", source_name,
                                          node.source().begin.line, key.str()));
      const auto v = node.value<int64_t>();
      if (!v || *v < 1 || *v > 1000)
        fail(Category::usage, fmt::format("{}:{}: users.max_auth_failures must be an integer "
                                          "from 1 to 1000", source_name, node.source().begin.line));
      c.max_auth_failures = static_cast<int>(*v);
    }
  }
  return c;
}

void check_store(const std::string& store) {
  if (!keystore::pg::is_url(store))
    fail(Category::usage, fmt::format("'{}' is not a keystore store: give a postgresql:// URL, or "
                                      "nothing for the workspace's keystore.sqlite",
                                      store.substr(0, 64)));
  keystore::pg::check_url(store);
}

WorkspaceConfig read_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), file.string());
}

}  // namespace hsm
