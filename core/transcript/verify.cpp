// The verifier. Each check names the first seq it fails at; nothing after a failure is trusted.
// Threads check chunks of lines ahead (line_check.h: parse, body hash, signature under the key
// they expect); this file walks the entries in order and makes every decision itself: seq,
// prev, which key is in force, and a signature check of its own wherever a thread guessed the
// key wrong. So the report is the same for any number of threads.
#include "core/transcript/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "core/error.h"
#include "core/transcript/entry.h"
#include "core/transcript/line_check.h"

namespace hsm::transcript {

namespace {

// Lines [begin, end) of the content and what the checks found in them.
struct LineChunk {
  std::size_t begin = 0, end = 0;
  std::vector<CheckedLine> lines;
  std::exception_ptr failure;  // the checks themselves failed (out of memory, say)
  bool done = false;           // guarded by ChunkPipeline::mutex_
};

// Checks the chunks of a transcript on `threads` threads (the caller's among them), in order
// of their start and never more than kWindow chunks ahead of the sequential pass, so memory
// stays bounded and a failure early in the log stops the work soon.
class ChunkPipeline {
 public:
  ChunkPipeline(std::string_view content, const std::vector<ExpectedKey>& keys, unsigned threads,
                std::size_t chunk_bytes)
      : content_(content), keys_(keys), caller_checker_(keys) {
    const std::size_t step = std::max<std::size_t>(chunk_bytes, 1);
    for (std::size_t begin = 0; begin < content.size();) {
      // A chunk ends after the first newline at or after begin + step - 1.
      const std::size_t nl = content.size() - begin > step - 1
                                 ? content.find('\n', begin + step - 1)
                                 : std::string_view::npos;
      const std::size_t end = nl == std::string_view::npos ? content.size() : nl + 1;
      chunks_.push_back(LineChunk{begin, end, {}, nullptr, false});
      begin = end;
    }
    const std::size_t workers = std::min<std::size_t>(threads, chunks_.size());
    try {
      for (std::size_t t = 1; t < workers; ++t) threads_.emplace_back([this] { work(); });
    } catch (const std::system_error&) {
      // Fewer threads than wanted: the caller and those started do the work.
    }
  }

  ~ChunkPipeline() {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  ChunkPipeline(const ChunkPipeline&) = delete;
  ChunkPipeline& operator=(const ChunkPipeline&) = delete;

  std::size_t size() const { return chunks_.size(); }

  // Chunk i, checked; chunks are taken in order, and taking one releases the one before. The
  // caller checks it itself if no thread has started on it.
  LineChunk& take(std::size_t i) {
    if (i > 0) chunks_[i - 1].lines = {};
    std::unique_lock lock(mutex_);
    consumed_ = i;
    cv_.notify_all();
    while (!chunks_[i].done) {
      // While chunk i is checked elsewhere, the caller checks the next chunk nobody has
      // claimed (chunk i itself when nobody has it) instead of waiting: it is one of the
      // threads.
      if (next_ < chunks_.size() && (next_ <= i || next_ < consumed_ + kWindow)) {
        const std::size_t j = next_++;
        lock.unlock();
        run(j, caller_checker_);
        lock.lock();
      } else {
        cv_.wait(lock);
      }
    }
    return chunks_[i];
  }

 private:
  static constexpr std::size_t kWindow = 8;

  void work() {
    std::optional<LineChecker> checker;
    try {
      checker.emplace(keys_);
    } catch (...) {
      return;  // the caller checks what this thread would have
    }
    for (;;) {
      std::size_t i;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] {
          return stop_ || next_ >= chunks_.size() || next_ < consumed_ + kWindow;
        });
        if (stop_ || next_ >= chunks_.size()) return;
        i = next_++;
      }
      run(i, *checker);
    }
  }

  void run(std::size_t i, LineChecker& checker) {
    LineChunk& c = chunks_[i];
    try {
      checker.check(content_, c.begin, c.end, c.lines);
    } catch (...) {
      c.failure = std::current_exception();
    }
    {
      const std::lock_guard lock(mutex_);
      c.done = true;
    }
    cv_.notify_all();
  }

  std::string_view content_;
  const std::vector<ExpectedKey>& keys_;
  std::vector<LineChunk> chunks_;
  LineChecker caller_checker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t next_ = 0;      // the next chunk nobody has claimed
  std::size_t consumed_ = 0;  // the chunk the sequential pass is at
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

unsigned verify_threads(unsigned asked) {
  if (asked > 0) return std::min(asked, kMaxVerifyThreads);
  return std::clamp(std::thread::hardware_concurrency(), 1u, kMaxVerifyThreads);
}

}  // namespace

VerifyReport verify_transcript(std::string_view content, const VerifyOptions& options) {
  VerifyReport r;
  std::string prev = kZeroHash;
  std::shared_ptr<const TranscriptKey> current;
  std::unordered_set<std::string> ceremonies;
  std::string last_ceremony;
  std::uint64_t seq = 0;
  // A run of unsigned entries waiting for the signed entry of their ceremony that covers them
  // (docs/design.md, "Deferred signatures"): where it began, and the last entry before it.
  bool in_run = false;
  std::uint64_t run_from = 0;
  std::string run_ceremony, run_prev_head;
  auto bad = [&](std::string reason) {
    r.bad_seq = seq;
    r.reason = std::move(reason);
    if (in_run) {  // unsigned entries before the failure were never covered: not verified
      r.entries = run_from;
      r.head = run_prev_head;
    }
    return r;
  };
  // Unsigned entries nothing covers: the failure is at the first of them.
  auto bad_run = [&](std::string reason) {
    seq = run_from;
    return bad(std::move(reason));
  };
  std::uint64_t lines = 0;
  {
    const std::vector<ExpectedKey> keys = find_key_entries(content);
    ChunkPipeline pipeline(content, keys, verify_threads(options.threads), options.chunk_bytes);
    for (std::size_t i = 0; i < pipeline.size(); ++i) {
      LineChunk& chunk = pipeline.take(i);
      if (chunk.failure) std::rethrow_exception(chunk.failure);
      for (CheckedLine& c : chunk.lines) {
        if (options.on_progress && ++lines % 256 == 0) options.on_progress(c.begin, content.size());
        if (c.torn) {
          r.torn_last_line = true;
          return bad("torn last line (an interrupted write); 'hsmctl transcript verify --repair' "
                     "cuts it");
        }
        if (c.parse_error) return bad(*c.parse_error);
        const Entry& e = c.entry;
        if (e.seq != seq)
          return bad(fmt::format("found seq {} where {} was expected (an entry was deleted, "
                                 "inserted or moved)", e.seq, seq));
        if (e.prev != prev)
          return bad("prev does not match the hash of the entry before (an entry was deleted, "
                     "inserted or moved)");
        if (c.hash_failure) std::rethrow_exception(c.hash_failure);
        if (!c.hash_ok) return bad("hash does not match the entry's content");
        try {
          if (seq == 0) {
            if (e.event != "transcript.open") return bad("the first entry is not transcript.open");
            current = std::make_shared<const TranscriptKey>(load_transcript_key(e));
            if (options.trusted_key && *options.trusted_key != current->spki)
              return bad("the transcript was opened with a different key than --pubkey");
            r.trusted_first_key = !options.trusted_key;
            r.first_key_fingerprint = current->fingerprint;
            r.keys.push_back(current->spki);
            if (!signed_by(e, *current))
              return bad("signature does not verify under the opening key");
          } else if (e.event == "transcript.key") {
            if (in_run)
              return bad_run(fmt::format("a key change (seq {}) follows unsigned entries ({} to "
                                         "{}): only a signed entry of their own ceremony covers "
                                         "them", seq, run_from, seq - 1));
            auto next = std::make_shared<const TranscriptKey>(load_transcript_key(e));
            const bool endorsed = e.data.value("endorsed", true);
            if (!signed_by(e, endorsed ? *current : *next))
              return bad(endorsed
                             ? "key change is not signed by the key before it (bad endorsement)"
                             : "unendorsed key change is not signed by its own key");
            if (!endorsed && options.strict)
              return bad("unendorsed key change (--strict)");
            r.key_changes.push_back({seq, current->fingerprint, next->fingerprint, endorsed});
            r.keys.push_back(next->spki);
            current = std::move(next);
          } else {
            if (e.event == "transcript.open") return bad("transcript.open after the first entry");
            if (in_run && e.ceremony != run_ceremony)
              return bad_run(fmt::format("an entry of another ceremony (seq {}) follows unsigned "
                                         "entries ({} to {}): only a signed entry of their own "
                                         "ceremony covers them", seq, run_from, seq - 1));
            if (e.sig.empty()) {  // covered, if at all, by a signed entry further on
              if (!in_run) {
                in_run = true;
                run_from = seq;
                run_ceremony = e.ceremony;
                run_prev_head = r.head;
              }
              ++r.unsigned_entries;
            } else {
              // A thread's answer counts only if it checked under the key actually in force.
              const bool good =
                  c.signature_key != nullptr && c.signature_key->spki == current->spki
                      ? c.signature_ok
                      : signed_by(e, *current);
              if (!good) return bad("signature does not verify under the current transcript key");
              in_run = false;
            }
          }
        } catch (const Error& err) {
          return bad(err.what());
        } catch (const nlohmann::json::exception&) {
          return bad("a key entry's data has fields of the wrong type");
        }
        if (!c.node.empty()) ++r.nodes[c.node];
        if (ceremonies.empty() || e.ceremony != last_ceremony) {  // a ceremony's lines adjoin
          ceremonies.insert(e.ceremony);
          last_ceremony = e.ceremony;
        }
        prev = e.hash;
        r.head = e.hash;
        r.entries = ++seq;
      }
    }
  }
  r.ceremonies = ceremonies.size();
  if (in_run) {
    const std::uint64_t last = seq - 1;
    return bad_run(fmt::format("entries {} to {} are unsigned and no signed entry of their "
                               "ceremony follows: an unsealed tail (a batch that stopped before "
                               "its seal, or lines added without the key); the next ceremony "
                               "cuts it", run_from, last));
  }
  if (r.entries == 0) return bad("the transcript is empty");
  std::string expected = options.head.value_or("");
  std::transform(expected.begin(), expected.end(), expected.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (options.head && expected != r.head) {
    // Where is the expected head? Earlier: entries were appended after it; nowhere: truncated.
    size_t at = content.find("\"hash\":\"" + expected + "\"");
    if (at != std::string_view::npos) {
      const std::uint64_t n = static_cast<std::uint64_t>(
          std::count(content.begin(), content.begin() + static_cast<long>(at), '\n'));
      seq = n + 1;
      return bad(fmt::format("the transcript goes on after the expected head (seq {}): entries "
                             "were added after it", n));
    }
    seq = r.entries;
    return bad(fmt::format("the transcript ends at {} and never reaches the expected head: "
                           "entries were cut off", r.head));
  }
  r.ok = true;
  return r;
}

}  // namespace hsm::transcript
