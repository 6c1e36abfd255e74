// Names of error categories; the exit-code table itself lives in cmd/main.cpp.
#include "core/error.h"

namespace hsm {

const char* category_name(Category c) noexcept {
  switch (c) {
    case Category::general: return "error";
    case Category::usage: return "usage";
    case Category::auth: return "auth";
    case Category::integrity: return "integrity";
    case Category::quorum: return "quorum";
    case Category::token: return "token";
    case Category::not_found: return "not-found";
  }
  return "error";
}

}  // namespace hsm
