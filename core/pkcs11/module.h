// A loaded PKCS#11 module: dlopen'd once per path, C_Initialize'd once, C_Finalize'd when the
// last user lets go. Never unloads a module while a session on it is open.
#pragma once

#include <memory>
#include <string>

#include "core/pkcs11/p11.h"

namespace hsm::p11 {

class Module {
 public:
  // Loads (or returns the already loaded) module at `path`. Throws Error(token) naming the path
  // when it does not exist, cannot be loaded or is not a PKCS#11 module.
  static std::shared_ptr<Module> load(const std::string& path);
  // The SoftHSMv2 module found on this system, or "" when there is none.
  static std::string find_softhsm();

  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const noexcept { return fn_; }
  const std::string& path() const noexcept { return path_; }
  std::string description() const;  // "SoftHSM 2.6 (SoftHSM project)"

 private:
  Module(std::string path, void* handle, CK_FUNCTION_LIST* fn);
  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
};

}  // namespace hsm::p11
