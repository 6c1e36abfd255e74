// Secret: locked, zeroized memory for every secret hsmctl touches (core/secure/arena.h).
#include "core/secure/secret.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "core/error.h"
#include "core/secure/arena.h"

namespace hsm {

void init_secure_memory() {
  static const int rc = sodium_init();
  if (rc < 0) fail(Category::general, "libsodium failed to initialise");
}

Secret::Secret(std::size_t size) {
  if (size == 0) return;
  init_secure_memory();
  data_ = secure_memory::allocate(size);  // zero-filled
  size_ = size;
}

Secret Secret::copy_of(std::span<const std::uint8_t> bytes) {
  Secret s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

Secret Secret::copy_of(std::string_view chars) {
  return copy_of(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(chars.data()), chars.size()));
}

Secret::~Secret() {
  secure_memory::release(data_, size_);  // zeroizes
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    secure_memory::release(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Secret Secret::prefix(std::size_t n) const {
  return copy_of(bytes().first(std::min(n, size_)));
}

bool Secret::equals(const Secret& other) const noexcept {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data_, size_) == 0;
}

}  // namespace hsm
