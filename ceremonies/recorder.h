// The one way ceremonies record what they do: opens the workspace transcript, makes sure the
// token holds the key that signs it (creating a provisional key, or an unendorsed key change,
// when it does not), and writes ceremony.begin, the ceremony's events and ceremony.end.
// A failure that happens before the token can sign (a wrong PIN) is kept unsigned in
// transcript.pending.jsonl and entered, marked as late, by the next ceremony that can sign.
// A ceremony runs inside an InterruptScope: SIGINT, SIGTERM or SIGHUP stops it at the next
// prompt or record (Error(interrupted)); its rollback runs and end_failure writes
// ceremony.aborted instead of ceremony.end. A ceremony whose process died without an end is
// closed by the next one with ceremony.interrupted. Never writes a secret: public facts only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/transcript/transcript_key.h"
#include "ceremonies/workspace.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/transcript/appender.h"

namespace hsm {

class Recorder {
 public:
  // `what` names the ceremony for a failure that ends it before begin() (a file refused while
  // it is read, before there is anything to record): the pending record still says what failed.
  explicit Recorder(Workspace& ws, std::string what = {});
  ~Recorder();

  // Logs in, makes sure the signing key is on the token, enters pending failures, closes an
  // earlier ceremony that never ended (ceremony.interrupted), and writes ceremony.begin with
  // `what` and its public parameters.
  void begin(const std::string& what, const nlohmann::json& params);
  // Appends a signed entry; returns its sequence number. A safe point: throws
  // Error(interrupted), before writing, once a signal has been noted.
  std::uint64_t record(const std::string& event, const nlohmann::json& data);
  // Names the step the ceremony is in and merges public `facts` (custodians whose share was
  // shown, ...) into what ceremony.aborted will say if a signal stops it now.
  void progress(const std::string& step, const nlohmann::json& facts = nlohmann::json::object());
  // What an abort leaves behind, in one clause for the line printed ("nothing was kept; ...");
  // the default says that what the ceremony had begun was rolled back.
  void on_abort_say(std::string clause) { abort_clause_ = std::move(clause); }
  // Records `event`, then writes `content` to `out` as a new file (atomically, never over an
  // existing one). The one order every output takes: a file hsmctl made exists only once the
  // transcript holds it, so a token that cannot sign the record leaves no file behind a failed
  // command. Returns the record's sequence number.
  std::uint64_t record_output(const std::string& event, const nlohmann::json& data,
                              const std::filesystem::path& out, ByteView content, unsigned mode);
  // Writes ceremony.end with outcome ok; if the token cannot sign it, keeps it pending (the
  // work is done: the ceremony is not turned into a failure) and returns normally.
  void end_ok(const nlohmann::json& result = nlohmann::json::object());
  // Writes ceremony.end with the failure (signed when possible, else pending); for an interrupt
  // (Error(interrupted), or any failure after a signal was noted) ceremony.aborted instead,
  // with the signal, the step and the facts given to progress(), and sets the abort report.
  void end_failure(const Error& e) noexcept;
  // Introduces `next` with a transcript.key entry endorsed by the current key.
  void change_key(std::unique_ptr<TokenSigner> next, const std::string& kind);

  bool begun() const noexcept { return signer_ != nullptr; }
  // The innermost ceremony of this process that has begun and not yet been destroyed, or
  // nullptr: for events that a ceremony's collaborators record in its name (the remote
  // approvals gathered for it, ceremonies/quorum/remote_approval.h).
  static Recorder* current() noexcept;
  // Why the checkpoint after ceremony.end could not be made (empty when it was): the ceremony
  // stands, and the next one or 'transcript checkpoint' signs one.
  const std::string& checkpoint_error() const noexcept { return checkpoint_error_; }
  Category checkpoint_error_category() const noexcept { return checkpoint_category_; }
  const std::string& ceremony_id() const noexcept { return ceremony_; }
  transcript::Transcript& transcript() noexcept { return transcript_; }
  TokenSigner& signer() { return *signer_; }

 private:
  void ensure_signer();
  // Enters the pending records; returns the ceremonies they close.
  std::vector<std::string> enter_pending();
  std::uint64_t append(const std::string& event, const nlohmann::json& data);
  // Adds data.state (the keystore's state root and the state rows changed since the last
  // entry) when this process has the keystore open and something changed, and always to the
  // ceremony's end, so the last state is never far from the end of the transcript.
  void attach_state(const std::string& event, nlohmann::json& data);
  void end_aborted(const Error& e) noexcept;
  // Appends one canonical JSON line to DIR/transcript.pending.jsonl (best effort).
  void keep_pending(nlohmann::json data) noexcept;
  void introduce(transcript::Transcript& t, const std::string& event, const nlohmann::json& data);
  Recorder* outer_ = nullptr;  // current() before this one began
  bool is_current_ = false;
  InterruptScope scope_;  // first: a signal is noted, not fatal, for the Recorder's whole life
  Workspace& ws_;
  transcript::Transcript transcript_;
  std::string ceremony_;
  std::string what_;
  void checkpoint() noexcept;
  std::unique_ptr<TokenSigner> signer_;
  bool ended_ = false;
  bool failed_ = false;  // ending with a failure or an abort
  std::set<std::string> reported_rows_;  // state rows this ceremony's entries named
  std::string checkpoint_error_;
  Category checkpoint_category_ = Category::general;
  bool began_ = false;  // ceremony.begin is in the transcript
  std::string step_, last_event_, abort_clause_;
  nlohmann::json facts_ = nlohmann::json::object();
};

// Runs `body` as a recorded ceremony: begin, body, end_ok; on an hsm::Error, end_failure and
// rethrow. The body receives the Recorder to write its events.
template <class Body>
auto run_ceremony(Workspace& ws, const std::string& what, const nlohmann::json& params, Body&& body) {
  Recorder rec(ws);
  try {
    rec.begin(what, params);
    if constexpr (std::is_void_v<decltype(body(rec))>) {
      body(rec);
      rec.end_ok();
    } else {
      auto result = body(rec);
      rec.end_ok();
      return result;
    }
  } catch (const Error& e) {
    rec.end_failure(e);
    throw;
  }
}

}  // namespace hsm
