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

// [serve]: strings, integers and rates (integer or float); ranges are checked by the service
// itself, which names the option.
ServeConfig parse_serve(const toml::node& node, std::string_view source) {
  const toml::table* t = node.as_table();
  if (t == nullptr)
    fail(Category::usage, fmt::format("{}:{}: 'serve' must be a table", source,
                                      node.source().begin.line));
  ServeConfig c;
  const std::pair<const char*, std::optional<std::string>*> strings[] = {
      {"listen", &c.listen},   {"tls_cert", &c.tls_cert}, {"tls_key", &c.tls_key},
      {"client_ca", &c.client_ca}, {"allow", &c.allow},   {"access_log", &c.access_log}};
  const std::pair<const char*, std::optional<int>*> ints[] = {
      {"workers", &c.workers}, {"sad_ttl", &c.sad_ttl}, {"queue", &c.queue},
      {"request_timeout", &c.request_timeout}};
  const std::pair<const char*, std::optional<double>*> rates[] = {
      {"client_rate", &c.client_rate}, {"user_rate", &c.user_rate}};
  for (const auto& [key, value] : *t) {
    const std::string_view k = key.str();
    const auto line = value.source().begin.line;
    bool known = false;
    for (const auto& [name, slot] : strings)
      if (k == name) {
        if (!value.is_string())
          fail(Category::usage, fmt::format("{}:{}: serve.{} must be a string", source, line, k));
        *slot = value.as_string()->get();
        known = true;
      }
    for (const auto& [name, slot] : ints)
      if (k == name) {
        const auto v = value.value<int64_t>();
        if (!value.is_integer() || !v || *v < 0 || *v > 1000000)
          fail(Category::usage, fmt::format("{}:{}: serve.{} must be a whole number", source,
                                            line, k));
        *slot = static_cast<int>(*v);
        known = true;
      }
    for (const auto& [name, slot] : rates)
      if (k == name) {
        const auto v = value.value<double>();
        if (!(value.is_integer() || value.is_floating_point()) || !v)
          fail(Category::usage, fmt::format("{}:{}: serve.{} must be a number (requests a "
                                            "second)", source, line, k));
        *slot = *v;
        known = true;
      }
    if (!known)
      fail(Category::usage,
           fmt::format("{}:{}: unknown key 'serve.{}' (known: listen, tls_cert, tls_key, "
                       "client_ca, allow, access_log, workers, sad_ttl, queue, "
                       "request_timeout, client_rate, user_rate)", source, line, k));
  }
  return c;
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
        k == "store" || k == "node" || k == "users" || k == "serve")
      continue;
    if (k == "max_auth_failures" || k == "min_password_length")
      fail(Category::usage, fmt::format("{}:{}: '{}' belongs in the [users] table", source_name,
                                        line, k));
    if (k.find("pin") != std::string_view::npos || k.find("password") != std::string_view::npos)
      fail(Category::usage, fmt::format("{}:{}: '{}' looks like a secret; secrets never go in "
                                        "hsmctl.toml, use pin_source = \"env:VAR\"",
                                        source_name, line, k));
    fail(Category::usage, fmt::format("{}:{}: unknown key '{}' (known: module, token, "
                                      "pin_source, log_origin, store, node, [users], [serve])", source_name, line, k));
  }
  c.module = string_key(root, "module", source_name);
  c.token = string_key(root, "token", source_name);
  c.pin_source = string_key(root, "pin_source", source_name);
  c.log_origin = string_key(root, "log_origin", source_name);
  c.store = string_key(root, "store", source_name);
  c.node = string_key(root, "node", source_name);
  if (c.node && (c.node->empty() || c.node->size() > 64 ||
                 c.node->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789.-_") != std::string::npos))
    fail(Category::usage, fmt::format("{}: node: give 1 to 64 letters, digits, '.', '-' or '_'",
                                      source_name));
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
  if (const toml::node* serve = root.get("serve")) c.serve = parse_serve(*serve, source_name);
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
