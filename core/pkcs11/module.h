// A loaded PKCS#11 module: dlopen'd once per path, C_Initialize'd once, C_Finalize'd when the
// last user lets go. Never unloads a module while a session on it is open.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/pkcs11/p11.h"
#include "core/pkcs11/uri.h"

namespace hsm::p11 {

class Module {
 public:
  // Loads (or returns the already loaded) module at `path`. Throws Error(token) naming the path
  // when it does not exist, cannot be loaded or is not a PKCS#11 module.
  static std::shared_ptr<Module> load(const std::string& path);
  // The SoftHSMv2 module found on this system, or "" when there is none.
  static std::string find_softhsm();
  // p11-kit's proxy module (which reaches every module the system registers), or "".
  static std::string find_p11_kit_proxy();
  // The module used when none is given: SoftHSMv2 where found, otherwise p11-kit-proxy; "" when
  // neither exists.
  static std::string find_default();

  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const noexcept { return fn_; }
  const std::string& path() const noexcept { return path_; }
  std::string description() const;  // "SoftHSM 2.6 (SoftHSM project)"
  // CK_INFO's manufacturer, description and library version (RFC 7512 library-* attributes).
  LibraryIdentity library() const;

 private:
  Module(std::string path, void* handle, CK_FUNCTION_LIST* fn);
  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
};

// The directories a module-name is looked up in, in order: p11-kit's module directory
// (pkg-config p11-kit-1 p11_module_path) and SoftHSM's directories.
std::vector<std::string> module_search_dirs();

// The module a pkcs11: URI's module-path and module-name choose (RFC 7512 section 2.3), or ""
// when it has neither. module-path is the module itself, or a directory module-name is looked
// up in; module-name alone is looked up in module_search_dirs() as NAME.so or libNAME.so
// ("p11-kit-proxy" is also p11-kit's proxy module). Throws Error(token) naming where it looked
// when there is no such module, Error(usage) when module-path is a file that module-name does
// not name, or a directory without a module-name.
std::string module_for_uri(const Pkcs11Uri& uri);

// True when the two paths name the same module file (symlinks resolved).
bool same_module(const std::string& a, const std::string& b);

}  // namespace hsm::p11
