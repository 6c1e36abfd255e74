// Exit codes and names of error categories.
#include "core/error.h"

namespace hsm {

int exit_code(Category c) noexcept {
  switch (c) {
    case Category::general: return 1;
    case Category::usage: return 2;
    case Category::auth: return 3;
    case Category::integrity: return 4;
    case Category::quorum: return 5;
    case Category::token: return 6;
    case Category::not_found: return 7;
    case Category::interrupted: return 130;
  }
  return 1;
}

const char* category_name(Category c) noexcept {
  switch (c) {
    case Category::general: return "error";
    case Category::usage: return "usage";
    case Category::auth: return "auth";
    case Category::integrity: return "integrity";
    case Category::quorum: return "quorum";
    case Category::token: return "token";
    case Category::not_found: return "not-found";
    case Category::interrupted: return "interrupted";
  }
  return "error";
}

}  // namespace hsm
