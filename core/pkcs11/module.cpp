// dlopen + C_GetFunctionList + C_Initialize, cached per canonical path so that two tokens on
// the same module (clone) share one initialisation.
#include "core/pkcs11/module.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "core/pkcs11/rv.h"
#include "core/pkcs11/text.h"

namespace hsm::p11 {

namespace {
std::mutex g_mutex;
std::map<std::string, std::weak_ptr<Module>> g_modules;
}  // namespace

std::string Module::find_softhsm() {
  for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so",
                        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
                        "/usr/local/lib/softhsm/libsofthsm2.so"}) {
    struct stat st {};
    if (::stat(p, &st) == 0) return p;
  }
  return {};
}

std::shared_ptr<Module> Module::load(const std::string& path) {
  std::error_code ec;
  if (path.empty())
    fail(Category::token, "no PKCS#11 module given and no SoftHSMv2 found; "
                          "use --module PATH or install softhsm2");
  if (!std::filesystem::exists(path, ec))
    fail(Category::token, fmt::format("PKCS#11 module '{}' does not exist", path));
  const std::string key = std::filesystem::canonical(path, ec).string();

  std::lock_guard lock(g_mutex);
  if (auto existing = g_modules[key].lock()) return existing;

  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr)
    fail(Category::token, fmt::format("cannot load PKCS#11 module '{}': {}", path, ::dlerror()));
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    ::dlclose(handle);
    fail(Category::token, fmt::format("'{}' is not a PKCS#11 module (it exports no "
                                      "C_GetFunctionList)", path));
  }
  // A module that has the function but fails in it is broken, not foreign: say what it returned.
  CK_FUNCTION_LIST* fn = nullptr;
  const CK_RV list_rv = get_list(&fn);
  if (list_rv != CKR_OK || fn == nullptr) {
    ::dlclose(handle);
    throw TokenError(Category::token,
                     list_rv != CKR_OK
                         ? fmt::format("PKCS#11 module '{}' failed in C_GetFunctionList: it "
                                       "returned {} (0x{:x}); check the module's own "
                                       "configuration and logs", path, rv_name(list_rv), list_rv)
                         : fmt::format("PKCS#11 module '{}' returned no function list from "
                                       "C_GetFunctionList", path),
                     list_rv);
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = fn->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    ::dlclose(handle);
    throw TokenError(Category::token,
                     fmt::format("PKCS#11 module '{}' failed to initialise: {}", path, rv_name(rv)),
                     rv);
  }
  std::shared_ptr<Module> module(new Module(path, handle, fn));
  g_modules[key] = module;
  return module;
}

Module::Module(std::string path, void* handle, CK_FUNCTION_LIST* fn)
    : path_(std::move(path)), handle_(handle), fn_(fn) {}

Module::~Module() {
  fn_->C_Finalize(nullptr);
  // SoftHSM and OpenSSL-based modules register atexit handlers; unloading them early would
  // leave dangling pointers, so the handle stays loaded until the process exits.
  (void)handle_;
}

std::string Module::description() const {
  CK_INFO info{};
  if (fn_->C_GetInfo(&info) != CKR_OK) return path_;
  return fmt::format("{} {}.{} ({})", padded(info.libraryDescription), info.libraryVersion.major,
                     info.libraryVersion.minor, padded(info.manufacturerID));
}

}  // namespace hsm::p11
