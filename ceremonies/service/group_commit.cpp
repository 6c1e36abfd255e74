// The batches of the service's signatures: leader election among the waiting requests, and the
// one ceremony a batch runs in.
#include "ceremonies/service/group_commit.h"

#include <fmt/format.h>

#include "ceremonies/transcript/receipt_ops.h"
#include "core/keystore/keystore.h"
#include "core/test_hooks.h"

#include <algorithm>
#include <exception>
#include <utility>

namespace hsm {

GroupCommit::GroupCommit(const WorkspaceOptions& workspace, const Secret& pin, TokenGate& gate,
                         int limit, ServiceMetrics& metrics)
    : workspace_(workspace),
      pin_(pin),
      gate_(gate),
      limit_(limit),
      metrics_(metrics),
      token_(workspace, pin) {}

GroupCommit::Result GroupCommit::run(nlohmann::json request, Work work, Prepare prepare) {
  Job job{std::move(request), std::move(work), std::move(prepare), {}, {}, false};
  std::unique_lock<std::mutex> lock(m_);
  if (leading_ && waiting_.size() >= static_cast<std::size_t>(limit_)) {
    metrics_.count_refusal(ServiceMetrics::Refusal::queue_full);
    throw NotAdmitted{503, 1, "the service is at capacity: try again shortly"};
  }
  waiting_.push_back(&job);
  metrics_.queue_change(+1);
  while (!job.done) {
    if (leading_) {
      cv_.wait(lock);
      continue;
    }
    // No batch is running: this request leads the next one, with everyone waiting now.
    leading_ = true;
    std::deque<Job*> batch;
    while (!waiting_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(waiting_.front());
      waiting_.pop_front();
    }
    metrics_.queue_change(-static_cast<int>(batch.size()));
    lock.unlock();
    run_batch(batch);
    lock.lock();
    for (Job* j : batch) j->done = true;
    leading_ = false;
    cv_.notify_all();
  }
  return std::move(job.result);
}

void GroupCommit::run_batch(std::deque<Job*>& batch) {
  nlohmann::json requests = nlohmann::json::array();
  try {
    const TokenGate::Turn one_at_a_time(gate_);
    // The requests that arrive while the batch does its token work join it (and have theirs
    // done), up to kMaxBatch: the lock, the ceremony's ends and the checkpoint are then shared
    // by more of them.
    for (std::size_t prepared = 0;;) {
      prepare_batch(batch, prepared);
      prepared = batch.size();
      const std::lock_guard<std::mutex> lock(m_);
      int took = 0;
      for (; !waiting_.empty() && batch.size() < kMaxBatch; ++took) {
        batch.push_back(waiting_.front());
        waiting_.pop_front();
      }
      metrics_.queue_change(-took);
      if (took == 0) break;
    }
    for (const Job* j : batch) requests.push_back(j->request);
    test_hook("serve.batch.prepared");
    // The master keys are found once for the batch, under the lock (a failure here is the
    // service's: every request gets it, none is counted against a user).
    std::optional<Workspace> opened;
    MasterKeys mk;
    for (int attempt = 0;; ++attempt) {
      opened.emplace(workspace_);
      opened->use_pin(Secret::copy_of(pin_.bytes()));
      try {
        mk = require_master(opened->login());
        break;
      } catch (const Error& e) {
        // The module stays initialised between batches (the worker's kept session holds it).
        // Should it no longer see the token or its master as this workspace does (a token
        // made again by another process), the batch starts once more on a module loaded
        // afresh. Anything else (a wrong PIN, the workspace lock not had in time) is final.
        const bool stale = e.category() == Category::token || e.category() == Category::not_found;
        if (attempt > 0 || !stale) throw;
        opened.reset();
        token_.reset();
      }
    }
    Workspace& ws = *opened;
    Recorder rec(ws);
    try {
      // The batch's entries are written without waiting for the disk, and its keystore changes
      // (codes used, failures counted) are one transaction: one sync of the transcript, then
      // the keystore's commit of what it records, then the end's sync, for the whole batch.
      // The requests' entries are also written unsigned: one signed ceremony.sealed covers them
      // all before that commit (docs/design.md, "Deferred signatures").
      rec.transcript().defer_sync(true);
      rec.begin("serve.sign", {{"via", "serve"}, {"requests", requests}});
      std::size_t succeeded = 0;
      {
        keystore::Transaction batch_changes(ws.keystore());
        rec.transcript().defer_signatures(true);
        const std::uint64_t first = rec.transcript().state().entries;
        for (Job* j : batch) {
          try {
            j->receipt_seqs = j->work(ws, rec, mk, j->result.outcome);
            j->result.ok = true;
            ++succeeded;
          } catch (const Error& e) {
            if (e.category() == Category::interrupted) throw;  // a signal ends the whole batch
            j->result.error = e;
          }
        }
        test_hook("serve.batch.before-seal");
        rec.transcript().defer_signatures(false);
        const std::uint64_t unsigned_entries = rec.transcript().state().entries - first;
        if (unsigned_entries > 0) rec.record("ceremony.sealed", {{"entries", unsigned_entries}});
        rec.transcript().sync();  // recorded before the keystore commits it
        test_hook("serve.batch.before-commit");
        batch_changes.commit();
      }
      rec.transcript().defer_sync(false);
      rec.end_ok({{"requests", batch.size()}, {"succeeded", succeeded}});
      // end_ok keeps an end it could not sign as pending and returns: the entries before it
      // are what the signatures need, and they must be on disk before any leaves.
      rec.transcript().sync();
      make_receipts(batch, rec);
      test_hook("serve.batch.before-answer");
    } catch (const Error& e) {
      rec.transcript().defer_sync(false);
      rec.transcript().defer_signatures(false);  // the end, signed, covers what was written
      rec.end_failure(e);
      throw;
    }
  } catch (const NotAdmitted& n) {
    for (Job* j : batch) {
      j->result.ok = false;
      j->result.refused = n;
    }
  } catch (const Error& e) {
    // The batch could not be recorded to its end: no signature of it leaves.
    for (Job* j : batch) {
      if (j->result.ok) {
        j->result.ok = false;
        j->result.error =
            Error(Category::general, fmt::format("the signature could not be recorded: {}", e.what()));
      } else if (!j->result.error) {
        j->result.error = e;
      }
    }
  } catch (const std::exception& e) {
    for (Job* j : batch) {
      j->result.ok = false;
      if (!j->result.error) j->result.error = Error(Category::general, e.what());
    }
  }
}

void GroupCommit::make_receipts(std::deque<Job*>& batch, Recorder& rec) {
  std::vector<std::uint64_t> seqs;
  for (const Job* j : batch)
    if (j->result.ok) seqs.insert(seqs.end(), j->receipt_seqs.begin(), j->receipt_seqs.end());
  try {
    const std::vector<std::string> made =
        hsm::make_receipts(rec.transcript(), workspace_.dir / "transcript.jsonl", seqs);
    std::size_t i = 0;
    for (Job* j : batch)
      if (j->result.ok)
        for (const std::uint64_t seq : j->receipt_seqs) j->result.receipts.emplace(seq, made[i++]);
  } catch (const Error&) {
    // No checkpoint (it could not be signed): the answers go without receipts, as logged.
  }
}

void GroupCommit::prepare_batch(std::deque<Job*>& batch, std::size_t from) {
  const auto first = batch.begin() + static_cast<std::ptrdiff_t>(from);
  const bool any = std::any_of(first, batch.end(), [](const Job* j) { return j->prepare; });
  if (!any) return;
  const p11::Session* s = nullptr;
  const MasterKeys* mk = nullptr;
  try {
    s = &token_.session();
    mk = &token_.master();
  } catch (const Error&) {
    token_.reset();  // the ceremony meets the same problem under the lock and says what it is
    return;
  }
  for (auto it = first; it != batch.end(); ++it) {
    Job* j = *it;
    if (!j->prepare) continue;
    try {
      j->prepare(*s, *mk);
    } catch (const Error& e) {
      // A hint lost: the Work does it all under the lock. A token failure may mean the kept
      // session is stale (a master restored by a ceremony, a token taken out): open it again.
      if (e.category() == Category::token) {
        token_.reset();
        return;
      }
    } catch (const std::exception&) {
      // the same: a lost hint, never an answer
    }
  }
}

}  // namespace hsm
