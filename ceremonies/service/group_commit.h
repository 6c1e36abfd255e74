// Group commit for the service's signatures (issue 29): requests that sign at the token are run
// in batches, so that a token login, a ceremony's begin and end entries, the transcript's
// fsyncs and the checkpoint's signature are paid once per batch, not once per request.
// The first request that finds no batch running leads one with every request waiting at that
// moment (up to kMaxBatch): one turn at the token; first the requests' token work that needs
// no lock (prepared on the worker's kept session, beside the other worker's batch); then one
// workspace (one login), one recorded
// ceremony `serve.sign` whose ceremony.begin names every request (user or group, and the
// client's fingerprint), each request's own events (user.auth.failed, user.signed, ...),
// one ceremony.end and one checkpoint; then each waiting request gets its own answer. No
// signature leaves before its batch's end is recorded: when the batch cannot be recorded, every
// request in it fails and the signatures made are dropped. A request that fails (a wrong
// password) fails alone; the others in its batch are answered as if it were not there.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/recorder.h"
#include "ceremonies/service/admission.h"
#include "ceremonies/service/service_metrics.h"
#include "ceremonies/service/service_sign.h"
#include "ceremonies/service/worker_token.h"
#include "ceremonies/workspace.h"
#include "core/error.h"
#include "core/secure/secret.h"

namespace hsm {

inline constexpr std::size_t kMaxBatch = 64;

class GroupCommit {
 public:
  // One request's work inside its batch's ceremony, with the master keys the batch found. What
  // it makes (signatures) it keeps in the caller's hands, to be used only when run() says the
  // batch was recorded (Result::ok). It returns the seqs of the entries that want a receipt
  // (its signatures'), made once the batch's checkpoint exists.
  using Work =
      std::function<std::vector<std::uint64_t>(Workspace&, Recorder&, const MasterKeys&, AuthOutcome&)>;
  // A request's token work that needs no lock (checking factors against a row read without
  // it, making the signature), run on the worker's kept session before the batch takes the
  // workspace, while the other worker records its own batch. Its results are hints: the Work
  // uses them only after checking them under the lock. Whatever it throws is dropped (the
  // Work then does everything itself).
  using Prepare = std::function<void(const p11::Session&, const MasterKeys&)>;
  struct Result {
    bool ok = false;                     // the work was done and its batch is on disk
    std::optional<Error> error;          // otherwise why not
    std::optional<NotAdmitted> refused;  // or: the token's queue was full
    AuthOutcome outcome;
    // Receipts (c2sp.org/tlog-proof@v1) of the seqs the Work returned, against the batch's
    // checkpoint; a seq is missing when its receipt could not be made (the signature stands).
    std::map<std::uint64_t, std::string> receipts;
  };
  // `limit` requests may wait for a batch (the one running not counted); beyond that run()
  // throws NotAdmitted 503. `gate` is the worker's token, which the batch takes for its turn.
  GroupCommit(const WorkspaceOptions& workspace, const Secret& pin, TokenGate& gate, int limit,
              ServiceMetrics& metrics);
  // Runs `work` in a batch; `request` (public facts: what is signed for whom, the client's
  // fingerprint) goes into the batch's ceremony.begin. Blocks until the batch has ended.
  Result run(nlohmann::json request, Work work, Prepare prepare = nullptr);

 private:
  struct Job {
    nlohmann::json request;
    Work work;
    Prepare prepare;
    Result result;
    std::vector<std::uint64_t> receipt_seqs;
    bool done = false;
  };
  void run_batch(std::deque<Job*>& batch);
  // The token work of batch[from..] (the Prepare of each job that has one).
  void prepare_batch(std::deque<Job*>& batch, std::size_t from);
  void make_receipts(std::deque<Job*>& batch, Recorder& rec);
  const WorkspaceOptions& workspace_;
  const Secret& pin_;
  TokenGate& gate_;
  int limit_;
  ServiceMetrics& metrics_;
  WorkerToken token_;  // used by the batch's leader only
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Job*> waiting_;
  bool leading_ = false;  // a batch is running
};

}  // namespace hsm
