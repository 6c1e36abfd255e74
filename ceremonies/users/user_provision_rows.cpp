// Reading the provisioning file: permission check, CSV (RFC 4180 quoting) or JSONL, each row
// validated on its own. The whole file is read into a Secret and parsed in place, so the
// passwords it holds never sit in ordinary heap memory (except nlohmann's lexer buffer for
// JSONL, which is freed at once); messages name a row by line and user name only.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "ceremonies/users/password_rules.h"
#include "ceremonies/users/user_layers.h"
#include "ceremonies/users/user_provision.h"
#include "core/error.h"

namespace hsm {

namespace {

Secret read_private_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    fail(Category::not_found, fmt::format("cannot open '{}': {}", file.string(),
                                          std::strerror(errno)));
  struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    fail(Category::general, fmt::format("'{}' is not a regular file", file.string()));
  if (st.st_uid != ::geteuid())
    fail(Category::general, fmt::format("'{}' holds passwords but belongs to uid {}, not to you "
                                        "(uid {}); copy it to a file of your own with mode 0600",
                                        file.string(), st.st_uid, ::geteuid()));
  if ((st.st_mode & 077) != 0)
    fail(Category::general, fmt::format("'{}' holds passwords but group or others have access "
                                        "(mode {:04o}); run 'chmod 600 {}' first", file.string(),
                                        st.st_mode & 07777, file.string()));
  Secret content(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < content.size()) {
    const ssize_t n = ::read(fd, content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(Category::general, fmt::format("cannot read '{}'", file.string()));
    got += static_cast<std::size_t>(n);
  }
  return content;
}

// Checks one row's fields and adds it (or its rejection) to `in`.
void add_row(ProvisionInput& in, std::set<std::string>& seen, std::size_t line, std::string name,
             std::string algorithm, Secret password, std::vector<std::string> groups,
             std::size_t min_password_length) {
  auto reject = [&](std::string why) { in.rejected.push_back({line, name, std::move(why)}); };
  if (!valid_user_name(name))
    return reject(fmt::format("line {}: user name '{}' must be 1-64 letters, digits, '.', '_', "
                              "'-' or '@', not starting with '.', '-' or '@'", line, name));
  if (!seen.insert(name).second)
    return reject(fmt::format("line {}: user '{}' appears more than once in the file", line,
                              name));
  try {
    algorithm = std::string(user_algorithm(algorithm).name);  // either spelling; stored short
  } catch (const Error& e) {
    return reject(fmt::format("line {}: {}", line, e.what()));
  }
  if (password.empty())
    return reject(fmt::format("line {}: user '{}' has an empty password", line, name));
  for (const std::string& g : groups)
    if (!valid_user_name(g))
      return reject(fmt::format("line {}: group name '{}' must be 1-64 letters, digits, '.', '_', "
                                "'-' or '@', not starting with '.', '-' or '@'", line, g));
  if (const std::string rule = password_rule_broken(password, name, min_password_length);
      !rule.empty())
    return reject(fmt::format("line {}: the password of user '{}' {}", line, name, rule));
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  in.rows.push_back({line, std::move(name), std::move(algorithm), std::move(password),
                     std::move(groups)});
}

std::vector<std::string> split_groups(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find_first_of(";|", start), s.size());
    std::string g(s.substr(start, end - start));
    if (!g.empty()) out.push_back(std::move(g));
    start = end + 1;
  }
  return out;
}

// CSV records parsed in place: quoted fields are unescaped into the bytes they came from
// (the output never outruns the input), so fields are views into the Secret.
struct CsvRecord {
  std::size_t line = 0;
  std::vector<std::string_view> fields;
  std::string error;
};

std::vector<CsvRecord> parse_csv(Secret& text) {
  std::vector<CsvRecord> out;
  char* p = reinterpret_cast<char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0, line = 1;
  while (i < n) {
    CsvRecord rec;
    rec.line = line;
    for (;;) {
      char* start = p + i;
      std::size_t len = 0;
      if (i < n && p[i] == '"') {
        ++i;
        for (;;) {
          if (i >= n) {
            rec.error = fmt::format("line {}: a quoted field is not closed", rec.line);
            break;
          }
          if (p[i] == '"' && i + 1 < n && p[i + 1] == '"') { start[len++] = '"'; i += 2; continue; }
          if (p[i] == '"') { ++i; break; }
          if (p[i] == '\n') ++line;
          start[len++] = p[i++];
        }
        if (rec.error.empty() && i < n && p[i] != ',' && p[i] != '\n' && p[i] != '\r')
          rec.error = fmt::format("line {}: text after a closing quote", rec.line);
        while (i < n && p[i] != ',' && p[i] != '\n') ++i;  // skip to the field's end
      } else {
        while (i < n && p[i] != ',' && p[i] != '\n') ++i;
        len = static_cast<std::size_t>(p + i - start);
        if (len > 0 && start[len - 1] == '\r') --len;
      }
      rec.fields.emplace_back(start, len);
      if (i < n && p[i] == ',') { ++i; continue; }
      if (i < n && p[i] == '\n') { ++i; ++line; }
      break;
    }
    const bool blank = rec.fields.size() == 1 && rec.fields[0].empty() && rec.error.empty();
    if (!blank) out.push_back(std::move(rec));
  }
  return out;
}

void read_csv(ProvisionInput& in, Secret& text, const std::string& default_algorithm,
              const std::filesystem::path& file, std::size_t min_password_length) {
  std::vector<CsvRecord> records = parse_csv(text);
  if (records.empty()) fail(Category::usage, fmt::format("'{}' is empty", file.string()));
  int name_col = -1, pw_col = -1, algo_col = -1, groups_col = -1;
  const CsvRecord& header = records.front();
  for (std::size_t c = 0; c < header.fields.size(); ++c) {
    const std::string_view h = header.fields[c];
    int* col = h == "name" ? &name_col : h == "password" ? &pw_col : h == "algo" ? &algo_col
                                                                   : h == "groups" ? &groups_col
                                                                                    : nullptr;
    if (col == nullptr || *col >= 0)
      fail(Category::usage, fmt::format("'{}': header column '{}' is unknown or repeated; the "
                                        "header is name,password and optionally algo,groups",
                                        file.string(), h));
    *col = static_cast<int>(c);
  }
  if (name_col < 0 || pw_col < 0)
    fail(Category::usage, fmt::format("'{}': the header must name the columns name and password "
                                      "(optionally algo, groups)", file.string()));
  std::set<std::string> seen;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    if (!rec.error.empty()) {
      in.rejected.push_back({rec.line, "", rec.error});
      continue;
    }
    if (rec.fields.size() != header.fields.size()) {
      in.rejected.push_back({rec.line, "", fmt::format("line {}: {} fields, the header has {}",
                                                       rec.line, rec.fields.size(),
                                                       header.fields.size())});
      continue;
    }
    auto col = [&](int c) { return c < 0 ? std::string_view() : rec.fields[static_cast<std::size_t>(c)]; };
    std::string algo(col(algo_col));
    add_row(in, seen, rec.line, std::string(col(name_col)), algo.empty() ? default_algorithm : algo,
            Secret::copy_of(col(pw_col)), split_groups(col(groups_col)), min_password_length);
  }
}

void read_jsonl(ProvisionInput& in, const Secret& text, const std::string& default_algorithm,
                std::size_t min_password_length) {
  const std::string_view all = text.chars();
  std::set<std::string> seen;
  std::size_t pos = 0, line = 0;
  while (pos < all.size()) {
    ++line;
    const std::size_t end = std::min(all.find('\n', pos), all.size());
    const std::string_view raw = all.substr(pos, end - pos);
    pos = end + 1;
    if (raw.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    // nlohmann keeps the last of two equal member names without a word: track them per object
    // (as the transcript parser does), so {"password":"p1","password":"p2"} is refused.
    std::vector<std::set<std::string>> open_objects;
    std::string repeated;
    const auto track = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      using E = nlohmann::json::parse_event_t;
      if (event == E::object_start) open_objects.emplace_back();
      if (event == E::object_end && !open_objects.empty()) open_objects.pop_back();
      if (event == E::key && !open_objects.empty() && repeated.empty() &&
          !open_objects.back().insert(parsed.get<std::string>()).second)
        repeated = parsed.get<std::string>();
      return true;
    };
    nlohmann::json doc = nlohmann::json::parse(raw, track, false);
    auto reject = [&](std::string why) { in.rejected.push_back({line, "", std::move(why)}); };
    auto wipe = [&] {
      if (doc.is_object() && doc.contains("password") && doc["password"].is_string()) {
        auto& pw = doc["password"].get_ref<std::string&>();
        sodium_memzero(pw.data(), pw.size());
      }
    };
    if (!doc.is_object()) { reject(fmt::format("line {}: not a JSON object", line)); continue; }
    if (!repeated.empty()) {
      wipe();
      reject(fmt::format("line {}: field '{}' appears more than once; give each field once",
                         line, repeated));
      continue;
    }
    std::string bad;
    for (const auto& [key, value] : doc.items()) {
      const bool text_field = key == "name" || key == "password" || key == "algo";
      if (text_field && !value.is_string()) bad = key;
      if (key == "groups" && !value.is_string() &&
          !(value.is_array() && std::all_of(value.begin(), value.end(),
                                            [](const auto& g) { return g.is_string(); })))
        bad = key;
      if (!text_field && key != "groups") bad = key;
    }
    if (!bad.empty() || !doc.contains("name") || !doc.contains("password")) {
      wipe();
      reject(fmt::format("line {}: needs string fields name and password (optionally algo, and "
                         "groups as a string or an array of strings){}",
                         line, bad.empty() ? "" : "; field '" + bad + "' is wrong"));
      continue;
    }
    std::vector<std::string> groups;
    if (doc.contains("groups")) {
      if (doc["groups"].is_string()) groups = split_groups(doc["groups"].get<std::string>());
      else for (const auto& g : doc["groups"]) groups.push_back(g.get<std::string>());
    }
    Secret password = Secret::copy_of(doc["password"].get_ref<const std::string&>());
    wipe();
    add_row(in, seen, line, doc["name"].get<std::string>(),
            doc.contains("algo") ? doc["algo"].get<std::string>() : default_algorithm,
            std::move(password), std::move(groups), min_password_length);
  }
}

}  // namespace

ProvisionInput read_provision_file(const std::filesystem::path& file, const std::string& format,
                                   const std::string& default_algorithm,
                                   std::size_t min_password_length) {
  std::string f = format;
  if (f == "auto") {
    const std::string ext = file.extension().string();
    f = ext == ".csv" ? "csv" : (ext == ".jsonl" || ext == ".ndjson") ? "jsonl" : "";
    if (f.empty())
      fail(Category::usage, fmt::format("cannot tell the format of '{}' from its extension; add "
                                        "--format csv or --format jsonl", file.string()));
  }
  if (f != "csv" && f != "jsonl")
    fail(Category::usage, fmt::format("unknown format '{}'; use csv or jsonl", f));
  Secret text = read_private_file(file);
  return parse_provision_text(text, f, default_algorithm, file.string(), min_password_length);
}

ProvisionInput parse_provision_text(Secret& text, const std::string& format,
                                    const std::string& default_algorithm,
                                    const std::string& source, std::size_t min_password_length) {
  ProvisionInput in;
  if (format == "csv") read_csv(in, text, default_algorithm, source, min_password_length);
  else if (format == "jsonl") read_jsonl(in, text, default_algorithm, min_password_length);
  else fail(Category::usage, fmt::format("unknown format '{}'; use csv or jsonl", format));
  return in;
}

}  // namespace hsm
