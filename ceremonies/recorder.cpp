// Recorder: transcript key life and ceremony framing.
#include "ceremonies/recorder.h"

#include "ceremonies/keystore_state.h"
#include "ceremonies/master/master_keys.h"
#include "ceremonies/token/token_check.h"
#include "ceremonies/transcript/checkpoint_ops.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/crypto/public_key.h"
#include "core/files.h"
#include "core/keystore/keystore.h"
#include "core/transcript/canonical_json.h"

namespace hsm {

namespace {

std::filesystem::path pending_path(const Workspace& ws) {
  return ws.options().dir / "transcript.pending.jsonl";
}

nlohmann::json key_data(const TokenSigner& k, const std::string& kind) {
  return {{"alg", std::string(transcript::kAlgorithm)},
          {"public_key", to_base64(k.public_key())},
          {"key_id", to_hex(k.key_id())},
          {"fingerprint", crypto::fingerprint(k.public_key())},
          {"kind", kind}};
}

nlohmann::json failure_data(const Error& e) {
  return {{"outcome", "failure"},
          {"category", category_name(e.category())},
          {"exit_code", exit_code(e.category())},
          {"message", e.what()}};
}

}  // namespace

Recorder::Recorder(Workspace& ws, std::string what)
    : ws_(ws), transcript_(ws.options().dir / "transcript.jsonl"),
      ceremony_(transcript::new_ceremony_id()), what_(std::move(what)) {}

namespace {
thread_local Recorder* current_recorder = nullptr;
}  // namespace

Recorder* Recorder::current() noexcept { return current_recorder; }

Recorder::~Recorder() {
  if (is_current_) current_recorder = outer_;
}

void Recorder::ensure_signer() {
  ws_.open_dir();
  p11::Session& session = ws_.login();
  const transcript::TranscriptState state = transcript_.state();
  const std::string& token = ws_.token().label;
  // The first object hsmctl puts on a token is its provisional transcript key: a token that
  // cannot keep the custody contract is refused before that, and left as it is.
  const auto require_capable = [&] {
    std::string what = what_.empty() ? "hsmctl" : what_;  // "master.init" -> "master init"
    std::replace(what.begin(), what.end(), '.', ' ');
    require_capable_token(ws_, what, "nothing was changed on it");
  };
  if (state.entries == 0) {
    require_capable();
    signer_ = create_provisional_transcript_key(session);
    nlohmann::json data = key_data(*signer_, "provisional");
    data["token"] = token;
    introduce(transcript_, "transcript.open", data);
    return;
  }
  // A fleet's node signs the one transcript of every node: its token must hold the master the
  // fleet's keystore records (a clone of the first node's), or nothing it signs would unwrap.
  if (ws_.is_fleet())
    if (const auto record = ws_.keystore().master())
      if (const auto mk = find_master_keys(session); mk && !mk->kcv.empty() && mk->kcv != record->kcv)
        fail(Category::integrity,
             fmt::format("token '{}' holds master KCV {}, but the fleet's keystore on {} records "
                         "{}: this node's token is not a clone of the fleet's master; make it one "
                         "with 'hsmctl clone' on a node of the fleet; nothing was changed",
                         token, mk->kcv, ws_.keystore().path(), record->kcv));
  signer_ = find_transcript_key(session, from_hex(state.current_key_id));
  if (signer_ && signer_->public_key() == state.current_key) return;
  // The key that signs this transcript is not on this token. An escrowed key is refused
  // (master restore / backup restore put it there); a provisional one, which can never move,
  // is followed by a new provisional key, unendorsed (transcript verify lists it; --strict
  // refuses it).
  signer_.reset();
  refuse_change_from_escrowed_key(state, ws_.keystore(), token);
  require_capable();
  signer_ = create_provisional_transcript_key(session);
  nlohmann::json data = key_data(*signer_, "provisional");
  data["endorsed"] = false;
  data["token"] = token;
  data["reason"] = fmt::format("the current transcript key is not on token '{}'", token);
  introduce(transcript_, "transcript.key", data);
}

// Appends the entry that introduces a freshly made key; if that fails, the key goes too.
void Recorder::introduce(transcript::Transcript& t, const std::string& event,
                         const nlohmann::json& data) {
  try {
    t.append(event, ws_.options().actor, ceremony_, data, *signer_);
  } catch (...) {
    signer_->destroy();
    signer_.reset();
    // A transcript that could not be opened is not left behind as an empty file (which
    // 'transcript verify' refuses); the next ceremony opens it afresh.
    std::error_code ec;
    if (event == "transcript.open" && std::filesystem::file_size(t.file(), ec) == 0 && !ec)
      std::filesystem::remove(t.file(), ec);
    throw;
  }
}

std::vector<std::string> Recorder::enter_pending() {
  std::vector<std::string> closed;
  const auto path = pending_path(ws_);
  std::ifstream in(path);
  if (!in) return closed;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json late;
    try {
      late = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      late = {{"unreadable", true}};
    }
    late["recorded_late"] = true;
    if (late.contains("ceremony") && late["ceremony"].is_string())
      closed.push_back(late["ceremony"].get<std::string>());
    try {
      transcript::canonical_json(late);
    } catch (const Error&) {
      late = {{"unreadable", true}, {"recorded_late", true}};
    }
    const char* event = late.value("outcome", "") == "ok" ? "ceremony.unsigned-end"
                                                           : "ceremony.unsigned-failure";
    append(event, late);
  }
  std::filesystem::remove(path);
  return closed;
}

void Recorder::begin(const std::string& what, const nlohmann::json& params) {
  what_ = what;
  // One ceremony at a time per workspace: with the lock held, a ceremony another process is
  // still running is never taken for one that died.
  ws_.hold_lock();
  // A fleet's node: the transcript is the database's; the file catches up with it first.
  if (transcript::FleetLog* fleet = ws_.fleet_log()) {
    transcript_.set_fleet(fleet);
    transcript_.sync_with_fleet();
  }
  // Looked at before this ceremony appends anything: the last one to begin, if it never ended.
  std::optional<transcript::UnclosedCeremony> earlier;
  try {
    earlier = transcript_.unclosed_ceremony();
  } catch (const Error&) {
    // A damaged tail: ensure_signer() refuses it with the reason and the fix.
  }
  ensure_signer();
  // A ceremony that ended without a signed end (killed, or its token stopped signing) may have
  // recorded a keystore change it never committed: the keystore is then as it was before it
  // (or at one of its chunks), and the transcript says so again.
  std::optional<nlohmann::json> restated;
  if (earlier && earlier->ceremony != ceremony_)
    restated = state_after_interrupted(ws_, transcript_, earlier->begin_seq);
  const std::vector<std::string> entered = enter_pending();
  if (earlier && earlier->ceremony != ceremony_ &&
      std::find(entered.begin(), entered.end(), earlier->ceremony) == entered.end()) {
    nlohmann::json data{{"ceremony", earlier->ceremony}, {"what", earlier->what},
                        {"begin_seq", earlier->begin_seq}, {"recorded_late", true},
                        {"reason", "its process ended without recording an end (killed, crashed "
                                   "or the machine stopped); what it left is what 'hsmctl "
                                   "doctor' reports"}};
    if (restated) data["state"] = std::move(*restated);
    restated.reset();
    append("ceremony.interrupted", data);
  }
  const p11::TokenInfo& t = ws_.token();
  nlohmann::json begin_data{{"what", what},
                            {"params", params},
                            {"account", ws_.options().account},
                            {"tool", std::string("hsmctl ") + HSMCTL_VERSION},
                            {"token", t.label},
                            {"token_serial", t.serial},
                            {"module", ws_.module().path()}};
  if (restated) begin_data["state"] = std::move(*restated);  // closed by a pending record
  record("ceremony.begin", begin_data);
  began_ = true;
  if (!is_current_) {
    outer_ = current_recorder;
    current_recorder = this;
    is_current_ = true;
  }
}

std::uint64_t Recorder::record(const std::string& event, const nlohmann::json& data) {
  check_interrupt();
  return append(event, data);
}

std::uint64_t Recorder::append(const std::string& event, const nlohmann::json& data) {
  nlohmann::json with_state = data;
  attach_state(event, with_state);
  const std::uint64_t seq =
      transcript_.append(event, ws_.options().actor, ceremony_, with_state, *signer_).seq;
  last_event_ = event;
  return seq;
}

void Recorder::attach_state(const std::string& event, nlohmann::json& data) {
  keystore::Keystore* ks = ws_.keystore_if_open();
  if (ks == nullptr || !data.is_object() || data.contains("state") ||
      !keystore::Keystore::state_upkeep_on())
    return;
  const bool closing = event == "ceremony.end" || event == "ceremony.aborted";
  std::map<std::string, std::string> rows = ks->take_changed_rows();
  if (closing && failed_) {
    // What this ceremony recorded may have been rolled back since: say what holds now.
    for (const std::string& key : reported_rows_) rows[key] = "";
    for (auto& [key, digest] : rows) digest = ks->row_digest(key);
  }
  if (rows.empty() && !closing) return;
  nlohmann::json state{{"root", ks->state_root()}};
  if (!rows.empty()) {
    state["rows"] = nlohmann::json::object();
    for (const auto& [key, digest] : rows) {
      state["rows"][key] = digest;
      reported_rows_.insert(key);
    }
  }
  data["state"] = std::move(state);
}

void Recorder::progress(const std::string& step, const nlohmann::json& facts) {
  step_ = step;
  for (const auto& [k, v] : facts.items()) facts_[k] = v;
}

std::uint64_t Recorder::record_output(const std::string& event, const nlohmann::json& data,
                                      const std::filesystem::path& out, ByteView content,
                                      unsigned mode) {
  const std::uint64_t seq = record(event, data);
  write_new_file(out, content, mode);
  return seq;
}

void Recorder::end_ok(const nlohmann::json& result) {
  nlohmann::json data = result;
  data["outcome"] = "ok";
  data["what"] = what_;
  ended_ = true;
  try {
    append("ceremony.end", data);
    checkpoint();
  } catch (const std::exception& e) {  // ended_ is set: nothing else would record it
    // The ceremony's work is done, recorded and (files, keys, keystore) in place; only its end
    // could not be signed. Failing now would report a failure with the outputs left behind, so
    // the end is kept as pending, for the next ceremony to enter as ceremony.unsigned-end.
    data["end_not_signed"] = e.what();
    keep_pending(std::move(data));
  }
}

void Recorder::end_failure(const Error& e) noexcept {
  if (ended_) return;
  ended_ = true;
  failed_ = true;
  if (e.category() == Category::interrupted || interrupt_signal() != 0) return end_aborted(e);
  nlohmann::json data = failure_data(e);
  data["what"] = what_;
  try {
    if (signer_) {
      append("ceremony.end", data);
      checkpoint();
      return;
    }
  } catch (const std::exception&) {
    // The token stopped answering mid-ceremony: keep the failure as a pending record.
  }
  keep_pending(std::move(data));
}

void Recorder::checkpoint() noexcept {
  try {
    sign_checkpoint(transcript_, *signer_, ws_.options().log_origin);
  } catch (const Error& e) {
    checkpoint_error_ = e.what();
    checkpoint_category_ = e.category();
  } catch (const std::exception& e) {
    checkpoint_error_ = e.what();
  }
}

void Recorder::end_aborted(const Error& e) noexcept {
  failed_ = true;
  try {
    const int sig = interrupt_signal();
    const std::string signal = sig != 0 ? signal_name(sig) : std::string("a signal");
    std::string name = what_.empty() ? std::string("the ceremony") : what_;
    std::replace(name.begin(), name.end(), '.', ' ');
    if (!began_) {  // stopped at its PIN prompt or lock wait: nothing to record, nothing kept
      set_abort_report(fmt::format("{} interrupted by {} before it began: nothing of it was "
                                   "kept", name, signal));
      return;
    }
    const std::string step = !step_.empty()        ? step_
                             : last_event_.empty() ? std::string("start")
                                                   : "after " + last_event_;
    nlohmann::json data = facts_;
    data["outcome"] = "aborted";
    data["what"] = what_;
    data["signal"] = signal;
    data["step"] = step;
    data["message"] = e.what();
    std::string where;
    try {
      if (signer_) {
        where = fmt::format("transcript seq {}", append("ceremony.aborted", data));
        checkpoint();
      }
    } catch (const std::exception&) {
      // The token stopped answering: kept as pending, like a failure.
    }
    if (where.empty()) {
      keep_pending(data);
      where = "kept in transcript.pending.jsonl for the next ceremony to enter";
    }
    set_abort_report(fmt::format("{} aborted by {} at step '{}': {}; recorded as ceremony.aborted "
                                 "({})", name, signal, step,
                                 abort_clause_.empty() ? "what it had begun was rolled back"
                                                       : abort_clause_,
                                 where));
  } catch (...) {
  }
}

void Recorder::keep_pending(nlohmann::json data) noexcept {
  try {
    data["time"] = transcript::utc_now_rfc3339();
    data["ceremony"] = ceremony_;
    data["actor"] = ws_.options().actor;
    data["account"] = ws_.options().account;
    if (!is_workspace(ws_.options().dir)) return;  // nothing is made in a non-workspace
    const std::string line = transcript::canonical_json(data) + "\n";
    const int fd = ::open(pending_path(ws_).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      [[maybe_unused]] const ssize_t n = ::write(fd, line.data(), line.size());
      ::fdatasync(fd);
      ::close(fd);
    }
  } catch (...) {
  }
}

void Recorder::change_key(std::unique_ptr<TokenSigner> next, const std::string& kind) {
  nlohmann::json data = key_data(*next, kind);
  data["endorsed"] = true;
  data["token"] = ws_.token().label;
  record("transcript.key", data);
  signer_ = std::move(next);
}

}  // namespace hsm
