// Remote approval, host side: the request is written when the operation starts gathering, then
// each approval that arrives is checked in this order (format, request digest, replay, opening
// under the one-use key, the share against its commitment) before its share is handed to the
// same checks a typed share gets. Every approval, accepted or refused, is recorded in the
// operation's own ceremony as quorum.approval; a share never is.
#include "ceremonies/quorum/remote_approval.h"

#include <poll.h>
#include <sodium.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>

#include "ceremonies/recorder.h"
#include "core/error.h"
#include "core/files.h"
#include "core/interrupt.h"
#include "core/shamir/slip39.h"
#include "core/transcript/pgp_words.h"

namespace hsm::quorum {

namespace {

constexpr int kPollMs = 500;
constexpr std::size_t kMaxApproval = 64 * 1024;

void record_event(const std::string& event, const nlohmann::json& data) {
  if (Recorder* r = Recorder::current()) r->record(event, data);
}

bool single_level(const keystore::ShareSet& s) {
  return s.group_names.empty() && s.member_thresholds.size() == 1;
}

std::string group_name_of(const keystore::ShareSet& s, std::size_t g) {
  return g < s.group_names.size() ? s.group_names[g] : fmt::format("group {}", g + 1);
}

}  // namespace

RemoteApproval::RemoteApproval(RemoteOptions options) : o_(std::move(options)) {}

ShareIntake RemoteApproval::intake() {
  ShareIntake in;
  in.on_gather = [this](const keystore::ShareSet& s) { write_request(s); };
  in.prompt = [this](int) { return next_share(); };
  in.on_share = [this](bool ok, const std::string& what) { on_share(ok, what); };
  return in;
}

std::string RemoteApproval::expires_text() const { return utc_text(expires_); }

void RemoteApproval::forget_key() noexcept { key_.reset(); }

void RemoteApproval::write_request(const keystore::ShareSet& set) {
  if (set.custodians.empty())
    fail(Category::usage, "remote approval needs the workspace's record of the share set and its "
                          "commitments; a restore that learns the set from the shares takes "
                          "them typed or with --shares-file");
  if (set.identifier != o_.master_set_identifier)
    fail(Category::usage, fmt::format("this operation gathers shares of share set {}, not of the "
                                      "workspace's current set {}; remote approval is only for "
                                      "the current set", set.identifier,
                                      o_.master_set_identifier));
  if (request_) fail(Category::usage, "this operation asks for a second quorum; one request "
                                      "approves one quorum");
  set_ = set;
  key_ = crypto::x25519_generate();
  const std::time_t now = std::time(nullptr);
  expires_ = now + static_cast<std::time_t>(o_.lifetime.count());
  unsigned char id[16];
  randombytes_buf(id, sizeof id);
  nlohmann::json body{{"format", kRequestFormat},
                      {"ceremony_id", to_hex(ByteView(id, sizeof id))},
                      {"operation", o_.operation},
                      {"workspace", o_.workspace},
                      {"share_set", share_set_json(set)},
                      {"created", utc_text(now)},
                      {"expires", utc_text(expires_)},
                      {"public_key", to_hex(key_->public_key)}};
  request_ = make_request(std::move(body));
  const auto path = o_.dir / "request.json";
  const std::string text = request_text(*request_);
  write_new_file(path, as_bytes(text), 0644);
  record_event("quorum.requested",
               {{"ceremony_id", request_->ceremony_id()}, {"operation", o_.operation.at("words")},
                {"digest", request_->digest_hex()}, {"expires", expires_text()},
                {"share_set", set.identifier}, {"request", path.string()}});
  if (o_.say) {
    o_.say(fmt::format("request written to {}; it expires at {}", path.string(), expires_text()));
    o_.say(fmt::format("request digest (custodians compare it before approving):\n  {}\n  {}",
                       request_->digest_hex(), transcript::pgp_words(request_->digest)));
    o_.say(fmt::format("waiting for approvals in {}: {}", o_.dir.string(), progress()));
  }
}

Secret RemoteApproval::next_share() {
  std::error_code ec;
  for (;;) {
    check_interrupt();
    if (std::time(nullptr) >= expires_) {
      expired_ = true;
      if (o_.say) o_.say(fmt::format("the request expired at {}: {}", expires_text(), progress()));
      return Secret();
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(o_.dir, ec))
      if (e.path().extension() == ".approval") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      struct stat st {};
      if (::stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      const std::pair<off_t, std::int64_t> id{
          st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
      const std::string name = f.filename().string();
      if (auto it = seen_.find(name); it != seen_.end() && it->second == id) continue;
      if (auto it = settling_.find(name); it == settling_.end() || it->second != id) {
        settling_[name] = id;  // looked at again at the next poll, if it has stayed the same
        continue;
      }
      seen_[name] = id;
      if (std::optional<Secret> share = consider(f)) return std::move(*share);
    }
    struct pollfd p {interrupt_fd(), POLLIN, 0};
    ::poll(&p, p.fd >= 0 ? 1 : 0, kPollMs);
  }
}

std::optional<Secret> RemoteApproval::consider(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  Bytes raw;
  try {
    raw = read_file(file, "approval");
  } catch (const Error& e) {
    refuse(name, "", e.what(), false);
    return std::nullopt;
  }
  if (raw.size() > kMaxApproval) {
    refuse(name, "", "it is too large to be an approval", true);
    return std::nullopt;
  }
  Approval a;
  try {
    a = parse_approval(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  } catch (const Error& e) {
    refuse(name, "", e.what(), true);
    return std::nullopt;
  }
  if (a.request_digest != request_->digest_hex()) {
    refuse(name, a.custodian,
           fmt::format("it approves another request (digest {}, ceremony {}), not this one "
                       "(digest {})", a.request_digest.substr(0, 16), a.ceremony_id,
                       request_->digest_hex().substr(0, 16)), false);
    return std::nullopt;
  }
  const std::string eph = to_hex(a.sealed.ephemeral_public);
  if (ephemeral_keys_.contains(eph) || accepted_.contains(a.custodian)) {
    refuse(name, a.custodian, fmt::format("custodian '{}' has already approved this request (a "
                                          "replayed or duplicate approval)", a.custodian), false);
    return std::nullopt;
  }
  if (!key_) {
    refuse(name, a.custodian, "the request's key is gone", false);
    return std::nullopt;
  }
  std::optional<Secret> share = crypto::open_share(*key_, request_->digest, a.custodian, a.sealed);
  if (!share) {
    refuse(name, a.custodian, "it does not open under this request's key: changed after it was "
                              "written, or made for another request", true);
    return std::nullopt;
  }
  try {
    const slip39::Share parsed = slip39::parse_mnemonic(*share);
    const std::string holder = check_share(set_, parsed).name;
    if (holder != a.custodian)
      fail(Category::integrity, fmt::format("the share inside is custodian '{}''s, but the "
                                            "approval names '{}'", holder, a.custodian));
  } catch (const Error& e) {
    refuse(name, a.custodian, e.what(), true);
    return std::nullopt;
  }
  ephemeral_keys_.insert(eph);
  pending_custodian_ = a.custodian;
  pending_file_ = name;
  return share;
}

void RemoteApproval::refuse(const std::string& file, const std::string& custodian,
                            const std::string& reason, bool integrity) {
  if (integrity) forged_.push_back(fmt::format("{}: {}", file, reason));
  nlohmann::json data{{"file", file}, {"accepted", false}, {"reason", reason}};
  if (!custodian.empty()) data["custodian"] = custodian;
  record_event("quorum.approval", data);
  if (o_.say) o_.say(fmt::format("approval '{}' refused: {}", file, reason));
}

void RemoteApproval::on_share(bool accepted, const std::string& what) {
  if (!accepted) {
    refuse(pending_file_, pending_custodian_, what, true);
    return;
  }
  for (const auto& c : set_.custodians)
    if (c.name == pending_custodian_) accepted_[c.name] = c.group_index;
  record_event("quorum.approval",
               {{"file", pending_file_}, {"custodian", pending_custodian_}, {"accepted", true}});
  if (o_.say)
    o_.say(fmt::format("approval of custodian '{}' accepted; {}", pending_custodian_, progress()));
}

std::string RemoteApproval::progress() const {
  std::vector<int> have(set_.member_thresholds.size(), 0);
  for (const auto& [name, g] : accepted_)
    if (g >= 0 && static_cast<std::size_t>(g) < have.size()) ++have[static_cast<std::size_t>(g)];
  if (single_level(set_)) {
    const int m = set_.member_thresholds.front();
    const int more = std::max(0, m - have.front());
    return more == 0 ? fmt::format("{} of {} approvals in: quorum met", have.front(), m)
                     : fmt::format("{} of {} approvals in, {} more needed", have.front(), m, more);
  }
  std::string groups;
  int complete = 0;
  for (std::size_t g = 0; g < have.size(); ++g) {
    const bool done = have[g] >= set_.member_thresholds[g];
    complete += done ? 1 : 0;
    groups += fmt::format("{}'{}' {} of {}{}", groups.empty() ? "" : ", ", group_name_of(set_, g),
                          have[g], set_.member_thresholds[g], done ? " (complete)" : "");
  }
  return fmt::format("{} of {} groups complete ({}){}", complete, set_.group_threshold, groups,
                     complete >= set_.group_threshold ? ": quorum met" : "");
}

}  // namespace hsm::quorum
