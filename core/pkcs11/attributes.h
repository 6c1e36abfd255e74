// Reading attributes of token objects, with absent/sensitive attributes as std::nullopt.
#pragma once

#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/pkcs11/p11.h"
#include "core/pkcs11/session.h"

namespace hsm::p11 {

std::optional<Bytes> get_bytes(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
std::optional<bool> get_bool(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
std::optional<CK_ULONG> get_ulong(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
std::string get_text(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);

}  // namespace hsm::p11
