// dlopen + C_GetFunctionList + C_Initialize, cached per canonical path so that two tokens on
// the same module (clone) share one initialisation; and where modules are found: the default
// (SoftHSM, else p11-kit-proxy) and RFC 7512 module-path / module-name.
#include "core/pkcs11/module.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "core/pkcs11/rv.h"
#include "core/pkcs11/text.h"

namespace hsm::p11 {

// Where p11-kit keeps modules and its proxy, as its pkg-config file says at build time.
#ifndef HSMCTL_P11_MODULE_DIR
#define HSMCTL_P11_MODULE_DIR "/usr/lib/x86_64-linux-gnu/pkcs11"
#endif
#ifndef HSMCTL_P11_PROXY
#define HSMCTL_P11_PROXY "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
#endif

namespace {
std::mutex g_mutex;
std::map<std::string, std::weak_ptr<Module>> g_modules;

const char* const kSoftHsmDirs[] = {"/usr/lib/softhsm", "/usr/lib/x86_64-linux-gnu/softhsm",
                                    "/usr/lib/aarch64-linux-gnu/softhsm",
                                    "/usr/local/lib/softhsm"};

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// NAME.so or libNAME.so in `dir`, or "".
std::string named_in(const std::string& dir, std::string_view name) {
  for (const std::string& file : {fmt::format("{}.so", name), fmt::format("lib{}.so", name)})
    if (const std::string p = dir + "/" + file; is_file(p)) return p;
  return {};
}

bool file_is_named(const std::string& path, std::string_view name) {
  const std::string file = std::filesystem::path(path).filename().string();
  return file == fmt::format("{}.so", name) || file == fmt::format("lib{}.so", name);
}
}  // namespace

std::string Module::find_softhsm() {
  for (const char* dir : kSoftHsmDirs)
    if (std::string p = named_in(dir, "softhsm2"); !p.empty()) return p;
  return {};
}

std::string Module::find_p11_kit_proxy() {
  for (const char* p : {HSMCTL_P11_PROXY, "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
                        "/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so", "/usr/lib/p11-kit-proxy.so",
                        "/usr/lib64/p11-kit-proxy.so"})
    if (is_file(p)) return p;
  return {};
}

std::string Module::find_default() {
  std::string p = find_softhsm();
  return p.empty() ? find_p11_kit_proxy() : p;
}

std::vector<std::string> module_search_dirs() {
  std::vector<std::string> dirs{HSMCTL_P11_MODULE_DIR};
  dirs.insert(dirs.end(), std::begin(kSoftHsmDirs), std::end(kSoftHsmDirs));
  return dirs;
}

std::string module_for_uri(const Pkcs11Uri& uri) {
  if (!uri.names_module()) return {};
  std::error_code ec;
  if (uri.module_path && !std::filesystem::is_directory(*uri.module_path, ec)) {
    if (uri.module_name && !file_is_named(*uri.module_path, *uri.module_name))
      fail(Category::usage, fmt::format("pkcs11: URI module-path '{}' is not the module its "
                                        "module-name '{}' names; give one of them",
                                        *uri.module_path, *uri.module_name));
    return *uri.module_path;  // Module::load says if it does not exist
  }
  if (!uri.module_name)
    fail(Category::usage, fmt::format("pkcs11: URI module-path '{}' is a directory: add "
                                      "module-name to say which module in it", *uri.module_path));
  const std::vector<std::string> dirs =
      uri.module_path ? std::vector<std::string>{*uri.module_path} : module_search_dirs();
  for (const auto& dir : dirs)
    if (std::string p = named_in(dir, *uri.module_name); !p.empty()) return p;
  if (!uri.module_path && *uri.module_name == "p11-kit-proxy")
    if (std::string p = Module::find_p11_kit_proxy(); !p.empty()) return p;
  fail(Category::token, fmt::format("no PKCS#11 module named '{0}' ({0}.so or lib{0}.so) in {1}",
                                    *uri.module_name, fmt::join(dirs, ", ")));
}

bool same_module(const std::string& a, const std::string& b) {
  std::error_code ea, eb;
  const auto ca = std::filesystem::canonical(a, ea), cb = std::filesystem::canonical(b, eb);
  if (ea || eb) return a == b;
  return ca == cb;
}

std::shared_ptr<Module> Module::load(const std::string& path) {
  std::error_code ec;
  if (path.empty())
    fail(Category::token, "no PKCS#11 module given, and neither SoftHSMv2 nor p11-kit-proxy "
                          "found; use --module PATH, or install softhsm2 or p11-kit-modules");
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

LibraryIdentity Module::library() const {
  CK_INFO info{};
  check(fn_->C_GetInfo(&info), "reading the module's information");
  return {padded(info.manufacturerID), padded(info.libraryDescription),
          {info.libraryVersion.major, info.libraryVersion.minor}};
}

std::string Module::description() const {
  CK_INFO info{};
  if (fn_->C_GetInfo(&info) != CKR_OK) return path_;
  return fmt::format("{} {}.{} ({})", padded(info.libraryDescription), info.libraryVersion.major,
                     info.libraryVersion.minor, padded(info.manufacturerID));
}

}  // namespace hsm::p11
