// tlog-witness add-checkpoint bodies and statuses.
#include "ceremonies/witness/add_checkpoint.h"

#include <fmt/format.h>

#include <limits>

#include "core/error.h"
#include "core/tlog/note.h"

namespace hsm {

namespace {

// The spec's decimal: ASCII digits, no leading zero unless the number is 0, no sign or space.
bool parse_decimal(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text.front() == '0')) return false;
  std::uint64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    const auto d = static_cast<std::uint64_t>(ch - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// The next line of `body` from `pos`, without its newline; false when no newline ends it.
bool next_line(std::string_view body, std::size_t& pos, std::string_view& line) {
  const std::size_t nl = body.find('\n', pos);
  if (nl == std::string_view::npos) return false;
  line = body.substr(pos, nl - pos);
  pos = nl + 1;
  return true;
}

}  // namespace

std::string format_add_checkpoint(std::uint64_t old_size, const std::vector<tlog::Hash>& proof,
                                  std::string_view checkpoint_note) {
  std::string out = fmt::format("old {}\n", old_size);
  for (const tlog::Hash& h : proof) out += tlog::to_base64(h) + '\n';
  out += '\n';
  out += checkpoint_note;
  return out;
}

AddCheckpointRequest parse_add_checkpoint(std::string_view body) {
  AddCheckpointRequest r;
  std::size_t pos = 0;
  std::string_view line;
  if (!next_line(body, pos, line) || line.substr(0, 4) != "old " ||
      !parse_decimal(line.substr(4), r.old_size))
    fail(Category::usage, "the request does not start with an 'old N' line");
  while (true) {
    if (!next_line(body, pos, line))
      fail(Category::usage, "the request has no empty line before the checkpoint");
    if (line.empty()) break;
    if (r.proof.size() == 63) fail(Category::usage, "a consistency proof has at most 63 hashes");
    try {
      r.proof.push_back(tlog::hash_from_base64(line));
    } catch (const Error&) {
      fail(Category::usage, fmt::format("consistency proof line {} is not a base64 hash",
                                        r.proof.size() + 1));
    }
  }
  if (r.old_size == 0 && !r.proof.empty())
    fail(Category::usage, "a consistency proof from size 0 must be empty");
  r.checkpoint = std::string(body.substr(pos));
  try {
    tlog::parse_checkpoint(tlog::parse_note(r.checkpoint).text);
  } catch (const Error& e) {
    fail(Category::usage, e.what());
  }
  return r;
}

int http_status(CosignOutcome outcome, std::uint64_t old_size, std::uint64_t checkpoint_size) {
  switch (outcome) {
    case CosignOutcome::cosigned: return 200;
    case CosignOutcome::unknown_origin: return 404;
    case CosignOutcome::not_signed: return 403;
    case CosignOutcome::bad_request: return 400;
    case CosignOutcome::conflict: return 409;
    case CosignOutcome::bad_proof: return 422;
    case CosignOutcome::fork: return 409;
    case CosignOutcome::rollback: return old_size > checkpoint_size ? 400 : 409;
  }
  return 500;
}

const char* outcome_name(CosignOutcome outcome) {
  switch (outcome) {
    case CosignOutcome::cosigned: return "cosigned";
    case CosignOutcome::unknown_origin: return "unknown-origin";
    case CosignOutcome::not_signed: return "not-signed";
    case CosignOutcome::bad_request: return "bad-request";
    case CosignOutcome::conflict: return "conflict";
    case CosignOutcome::bad_proof: return "bad-proof";
    case CosignOutcome::fork: return "fork";
    case CosignOutcome::rollback: return "rollback";
  }
  return "unknown";
}

std::string format_tlog_size(std::uint64_t size) { return fmt::format("{}\n", size); }

std::uint64_t parse_tlog_size(std::string_view body) {
  std::uint64_t size = 0;
  if (body.empty() || body.back() != '\n' || !parse_decimal(body.substr(0, body.size() - 1), size))
    fail(Category::integrity, "the witness's 409 answer is not a tree size line");
  return size;
}

}  // namespace hsm
