// hsm::Error: the one exception type core/ and ceremonies/ throw. It carries a category that
// cmd/main.cpp turns into an exit code, a message that says what happened and what to do,
// and the underlying cause (a CK_RV name, errno text, SQLite code). Never carries a secret.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace hsm {

enum class Category {
  general,    // 1: anything else (I/O, bad file permissions, unexpected state)
  usage,      // 2: bad command line or configuration
  auth,       // 3: wrong PIN, password or OTP; locked out
  integrity,  // 4: tampered transcript, backup or blob; bad share checksum
  quorum,     // 5: not enough valid shares
  token,      // 6: PKCS#11 module or token failure; unsupported by the token
  not_found,  // 7: not found, or already exists
  interrupted,  // 130: a ceremony stopped by SIGINT, SIGTERM or SIGHUP (core/interrupt.h)
};

class Error : public std::runtime_error {
 public:
  Error(Category category, std::string message, std::string cause = {})
      : std::runtime_error(std::move(message)), category_(category), cause_(std::move(cause)) {}

  Category category() const noexcept { return category_; }
  // The underlying cause, for example "CKR_PIN_INCORRECT" or "No such file or directory".
  const std::string& cause() const noexcept { return cause_; }

 private:
  Category category_;
  std::string cause_;
};

// The documented exit code of a category (hsmctl(1), "EXIT STATUS"): the one table.
int exit_code(Category c) noexcept;

// A short stable name for a category ("auth", "integrity", ...), used in JSON and transcripts.
const char* category_name(Category c) noexcept;

[[noreturn]] inline void fail(Category c, std::string message, std::string cause = {}) {
  throw Error(c, std::move(message), std::move(cause));
}

}  // namespace hsm
