// Requests to witnesses: one POST per witness, one retry from the size a 409 names.
#include "ceremonies/transcript/witness_client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ceremonies/transcript/checkpoint_ops.h"
#include "ceremonies/witness/add_checkpoint.h"
#include "core/crypto/public_key.h"
#include "core/files.h"
#include "core/printable.h"
#include "core/tlog/merkle.h"

namespace hsm {

namespace {

namespace fs = std::filesystem;

struct WitnessUrl {
  std::string origin;  // scheme://host[:port], what the HTTP client connects to
  std::string prefix;  // the path before /add-checkpoint, without a trailing slash
};

WitnessUrl split_url(const std::string& url) {
  const auto bad = [&] {
    fail(Category::usage, fmt::format("--witness '{}' is not an http:// or https:// URL",
                                      printable(url)));
  };
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) bad();
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") bad();
  const std::size_t path = url.find('/', scheme_end + 3);
  WitnessUrl w;
  w.origin = url.substr(0, path);
  if (w.origin.size() == scheme_end + 3 || w.origin.find_first_of(" @?#") != std::string::npos)
    bad();
  w.prefix = path == std::string::npos ? "" : url.substr(path);
  while (!w.prefix.empty() && w.prefix.back() == '/') w.prefix.pop_back();
  if (w.prefix.find_first_of(" ?#") != std::string::npos) bad();
  return w;
}

std::uint64_t remembered_size(const fs::path& memory) {
  std::ifstream in(memory, std::ios::binary);
  if (!in) return 0;
  try {
    return nlohmann::json::parse(in).at("size").get<std::uint64_t>();
  } catch (const nlohmann::json::exception&) {
    return 0;  // unreadable: start from 0, and the witness's 409 says where it is
  }
}

class WitnessCall {
 public:
  WitnessCall(transcript::Transcript& log, const tlog::Note& note, const WitnessTarget& w,
              const fs::path& ca_file)
      : log_(log), note_(note), target_(w), url_(split_url(w.url)),
        checkpoint_(tlog::parse_checkpoint(note.text)), client_(url_.origin) {
    client_.set_connection_timeout(5);
    client_.set_read_timeout(15);
    client_.set_write_timeout(15);
    client_.enable_server_certificate_verification(true);
    if (!ca_file.empty()) client_.set_ca_cert_path(ca_file.string());
    answer_.url = w.url;
    answer_.name = w.key.name;
  }

  WitnessAnswer run() {
    const fs::path memory = witness_memory_path(log_.file(), target_.key);
    std::uint64_t old = remembered_size(memory);
    if (old > checkpoint_.size) old = 0;  // a size this log never had here: ask the witness
    for (int attempt = 0; attempt < 2; ++attempt) {
      answer_.old_size = old;
      const httplib::Result res = post(old);
      if (!res) return refused(Category::general, 0, fmt::format("cannot reach it: {}",
                                                                 httplib::to_string(res.error())));
      answer_.status = res->status;
      if (res->status == 200) return keep(res->body, memory);
      if (res->status != 409) return refused_by_status(*res);
      std::uint64_t latest = 0;
      try {
        latest = parse_tlog_size(res->body);
      } catch (const Error& e) {
        return refused(Category::general, 409, e.what());
      }
      if (latest > checkpoint_.size)
        return refused(Category::integrity, 409, fmt::format(
            "it has cosigned size {} of this log, larger than this checkpoint's {}: the log was "
            "truncated or rolled back", latest, checkpoint_.size));
      if (latest == old)
        return refused(Category::integrity, 409, fmt::format(
            "it refuses a fork: it cosigned another tree at size {}", latest));
      if (attempt == 1)
        return refused(Category::general, 409, fmt::format(
            "its last cosigned size moved again, to {}; try again", latest));
      old = latest;
    }
    return answer_;
  }

 private:
  httplib::Result post(std::uint64_t old) {
    const std::vector<tlog::Hash> proof = tlog::consistency_proof(log_.tree(), old, checkpoint_.size);
    return client_.Post(url_.prefix + kAddCheckpointPath,
                        format_add_checkpoint(old, proof, note_.format()), "text/plain");
  }

  WitnessAnswer keep(const std::string& body, const fs::path& memory) {
    std::vector<tlog::NoteSignature> sigs;
    try {
      sigs = tlog::parse_signature_lines(body);
    } catch (const Error& e) {
      return refused(Category::integrity, 200, fmt::format("its answer is not cosignature lines: {}", e.what()));
    }
    std::string good;
    for (const tlog::NoteSignature& s : sigs)
      if (s.name == target_.key.name && s.key_id == target_.key.key_id() &&
          tlog::verify_note_signature(target_.key, note_.text, s))
        good += s.line();  // lines by other keys are ignored, as tlog-witness says
    if (good.empty())
      return refused(Category::integrity, 200, "its answer holds no cosignature of this "
                                               "checkpoint that verifies under its key");
    add_cosignatures(log_.file(), good, {target_.key});
    fs::create_directories(memory.parent_path());
    replace_file(memory, nlohmann::json{{"vkey", target_.key.format()}, {"url", target_.url},
                                        {"size", checkpoint_.size}}.dump() + "\n", 0644);
    answer_.cosigned = true;
    return answer_;
  }

  WitnessAnswer refused_by_status(const httplib::Response& res) {
    std::string said = res.body.substr(0, std::min<std::size_t>(res.body.find('\n'), 200));
    said = said.empty() ? "" : ": " + printable(said);
    switch (res.status) {
      case 422:
        return refused(Category::integrity, 422, "the consistency proof does not link this "
                       "checkpoint to the one it cosigned: a fork" + said);
      case 404:
        return refused(Category::general, 404, "it does not serve this log's origin" + said);
      case 403:
        return refused(Category::general, 403, "it does not trust this log's key" + said);
      default:
        return refused(Category::general, res.status, fmt::format("it answered HTTP {}{}",
                                                                  res.status, said));
    }
  }

  WitnessAnswer refused(Category c, int status, std::string message) {
    answer_.failure = c;
    answer_.status = status;
    answer_.message = std::move(message);
    return answer_;
  }

  transcript::Transcript& log_;
  const tlog::Note& note_;
  const WitnessTarget& target_;
  WitnessUrl url_;
  tlog::Checkpoint checkpoint_;
  httplib::Client client_;
  WitnessAnswer answer_;
};

}  // namespace

void check_witness_url(const std::string& url) { split_url(url); }

fs::path witness_memory_path(const fs::path& transcript, const tlog::VerifierKey& key) {
  return transcript.parent_path() / "tlog" / "witnesses" /
         (to_hex(crypto::sha256(as_bytes(key.format()))).substr(0, 16) + ".json");
}

std::vector<WitnessAnswer> request_cosignatures(transcript::Transcript& log, const tlog::Note& note,
                                                const std::vector<WitnessTarget>& witnesses,
                                                const fs::path& ca_file) {
  std::vector<WitnessAnswer> out;
  for (const WitnessTarget& w : witnesses) {
    try {
      out.push_back(WitnessCall(log, note, w, ca_file).run());
    } catch (const Error& e) {  // the proof or keeping the cosignature failed on this side
      WitnessAnswer a;
      a.url = w.url;
      a.name = w.key.name;
      a.failure = e.category();
      a.message = e.what();
      out.push_back(a);
    }
  }
  return out;
}

}  // namespace hsm
