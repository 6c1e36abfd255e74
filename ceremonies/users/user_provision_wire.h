// What a user provision worker tells its parent, as binary frames on a pipe: "ready" once logged
// in, then one frame per row (the sealed user's public values, or why it failed), and "fatal"
// if it has to stop. Only public values and sealed blobs ever cross; never a password.
// A frame is a 4-byte little-endian length, then that many bytes: a kind byte and its fields.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ceremonies/users/user_provision.h"
#include "core/error.h"
#include "core/keystore/records.h"

namespace hsm {

// A row turned into a keystore record (name, algorithm, public key, secrets), or the error.
struct SealOutcome {
  std::size_t index = 0;  // into the rows
  bool ok = false;
  keystore::UserRecord user;
  Category category = Category::general;
  std::string error;
};

namespace wire {

enum class Kind : char { ready = 'r', outcome = 'o', fatal = 'f' };

std::string ready_frame();
// Name, algorithm and KDF profile are the parent's already: not sent.
std::string outcome_frame(const SealOutcome& o);
std::string fatal_frame(Category category, std::string_view message);

struct Frame {
  Kind kind = Kind::ready;
  SealOutcome outcome;  // for outcome; for fatal, category and error only
};

// Collects a pipe's bytes and hands out whole frames. A frame that does not parse, or names a
// row outside `rows`, throws Error(general): the worker is ours, so that is a bug or a
// corrupted process, not input to recover from.
class FrameReader {
 public:
  void append(const char* data, std::size_t size);
  // The next whole frame, or std::nullopt until more bytes arrive.
  std::optional<Frame> next(const std::vector<ProvisionRow>& rows, const std::string& profile);
  // The kind of the next whole frame, without taking it.
  std::optional<Kind> peek() const;
  bool empty() const noexcept { return pos_ == buffer_.size(); }

 private:
  // The body of the first whole frame not handed out (kind byte and fields), or nullopt until
  // it has all arrived; a length no frame can have throws.
  std::optional<std::string_view> front() const;

  std::string buffer_;
  std::size_t pos_ = 0;  // start of the first frame not handed out
};

}  // namespace wire
}  // namespace hsm
