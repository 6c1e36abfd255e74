// Reading attributes of token objects, with absent/sensitive attributes as std::nullopt.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/pkcs11/p11.h"
#include "core/pkcs11/session.h"

namespace hsm::p11 {

std::optional<Bytes> get_bytes(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
std::optional<bool> get_bool(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
std::optional<CK_ULONG> get_ulong(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
std::string get_text(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);

// Several public attributes in one call, each into a buffer of at most the given size: the
// values in the order asked, or std::nullopt if the token did not answer all of them in that
// one call (absent, sensitive, larger than the buffer): then ask for each with get_bytes. A
// token failure (any other CKR_) throws, as everywhere.
std::optional<std::vector<Bytes>> get_bytes_at_once(
    const Session& s, CK_OBJECT_HANDLE h,
    std::initializer_list<std::pair<CK_ATTRIBUTE_TYPE, std::size_t>> wanted);

}  // namespace hsm::p11
