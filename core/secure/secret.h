// hsm::Secret: the only home of secret bytes (PINs, passwords, the master secret, shares,
// derived keys). Memory is mlock'd, kept out of core dumps, behind guard pages (small Secrets
// share a guarded slab: core/secure/arena.h) and zeroized on free. A Secret cannot be copied, printed, formatted or put into JSON: every such
// attempt is a compile error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <fmt/core.h>

namespace hsm {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::size_t size);  // zero-filled
  static Secret copy_of(std::span<const std::uint8_t> bytes);
  static Secret copy_of(std::string_view chars);
  ~Secret();

  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  std::uint8_t* data() noexcept { return data_; }
  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const std::uint8_t> bytes() const noexcept { return {data_, size_}; }
  std::span<std::uint8_t> bytes() noexcept { return {data_, size_}; }
  // For passing a password or PIN to an API that takes characters; do not keep the view.
  std::string_view chars() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }

  // A new Secret holding the first n bytes (n <= size()).
  Secret prefix(std::size_t n) const;
  // Constant-time comparison.
  bool equals(const Secret& other) const noexcept;

  template <class Stream>
  friend Stream& operator<<(Stream&, const Secret&) = delete;

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Must run before the first Secret: initialises libsodium. Idempotent and thread-safe.
void init_secure_memory();

}  // namespace hsm

// Formatting a Secret with fmt is a compile error: its formatter is declared, never defined.
template <>
struct fmt::formatter<hsm::Secret>;
