// A share encrypted to a custodian's OpenPGP key with gpgme, in a throwaway GnuPG home.
#include "core/delivery/openpgp.h"

#include <gpgme.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace hsm::delivery {

namespace {

// A 0700 temporary directory, removed with everything in it when this goes away.
class ThrowawayHome {
 public:
  ThrowawayHome() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hsmctl-gpg-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      fail(Category::general, "cannot make a temporary GnuPG home: " +
                                  std::system_category().message(errno));
    path_ = tmpl;
    // Importing a public key and encrypting to it need no gpg-agent, keyboxd or dirmngr; one
    // started anyway would outlive this home and put its sockets back into it while it is
    // being removed (seen under load: the directory was left behind).
    std::ofstream(path_ / "gpg.conf") << "no-autostart\n";
  }
  ~ThrowawayHome() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ThrowawayHome(const ThrowawayHome&) = delete;
  ThrowawayHome& operator=(const ThrowawayHome&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

struct CtxDeleter {
  void operator()(gpgme_ctx_t c) const noexcept { gpgme_release(c); }
};
struct DataDeleter {
  void operator()(gpgme_data_t d) const noexcept { gpgme_data_release(d); }
};
struct KeyDeleter {
  void operator()(gpgme_key_t k) const noexcept { gpgme_key_unref(k); }
};
using Ctx = std::unique_ptr<gpgme_context, CtxDeleter>;
using Data = std::unique_ptr<gpgme_data, DataDeleter>;
using Key = std::unique_ptr<_gpgme_key, KeyDeleter>;

void check(gpgme_error_t err, const std::string& what) {
  if (gpgme_err_code(err) != GPG_ERR_NO_ERROR)
    fail(Category::general, fmt::format("{}: {} ({})", what, gpgme_strerror(err),
                                        gpgme_strsource(err)));
}

// Every key now in the context's keyring.
std::vector<Key> all_keys(gpgme_ctx_t ctx) {
  std::vector<Key> keys;
  check(gpgme_op_keylist_start(ctx, nullptr, 0), "listing the imported key");
  for (;;) {
    gpgme_key_t k = nullptr;
    const gpgme_error_t err = gpgme_op_keylist_next(ctx, &k);
    if (gpgme_err_code(err) == GPG_ERR_EOF) break;
    check(err, "listing the imported key");
    keys.emplace_back(k);
  }
  gpgme_op_keylist_end(ctx);
  return keys;
}

// A gpgme context on a throwaway home with the key file's one usable public key imported.
struct LoadedKey {
  ThrowawayHome home;
  Ctx ctx;
  Key key;
  OpenPgpRecipient recipient;
};

std::unique_ptr<LoadedKey> load_key_file(const std::filesystem::path& key_file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(key_file, ec))
    fail(Category::not_found, fmt::format("OpenPGP key file '{}' not found", key_file.string()));
  static const bool initialised = gpgme_check_version(nullptr) != nullptr;
  if (!initialised) fail(Category::general, "gpgme could not be initialised");

  auto loaded = std::make_unique<LoadedKey>();
  gpgme_ctx_t raw = nullptr;
  check(gpgme_new(&raw), "starting gpgme");
  loaded->ctx.reset(raw);
  gpgme_ctx_t ctx = loaded->ctx.get();
  check(gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, nullptr,
                                  loaded->home.path().c_str()),
        "choosing a temporary GnuPG home");
  gpgme_set_armor(ctx, 1);

  gpgme_data_t key_raw = nullptr;
  check(gpgme_data_new_from_file(&key_raw, key_file.c_str(), 1),
        fmt::format("reading OpenPGP key file '{}'", key_file.string()));
  const Data key_data(key_raw);
  check(gpgme_op_import(ctx, key_data.get()),
        fmt::format("importing OpenPGP key file '{}'", key_file.string()));
  const gpgme_import_result_t imported = gpgme_op_import_result(ctx);
  if (imported != nullptr && imported->secret_read > 0)
    fail(Category::usage, fmt::format("OpenPGP key file '{}' holds a secret key: give the "
                                      "custodian's public key only (gpg --export)",
                                      key_file.string()));
  std::vector<Key> keys = all_keys(ctx);
  if (keys.size() != 1)
    fail(Category::usage, fmt::format("OpenPGP key file '{}' holds {} keys; it must hold "
                                      "exactly one, the custodian's public key",
                                      key_file.string(), keys.size()));
  loaded->key = std::move(keys.front());
  gpgme_key_t key = loaded->key.get();
  loaded->recipient.fingerprint = key->fpr != nullptr ? key->fpr : "";
  if (key->uids != nullptr && key->uids->uid != nullptr) loaded->recipient.user_id = key->uids->uid;
  if (key->revoked || key->expired || key->disabled || key->invalid || !key->can_encrypt)
    fail(Category::usage,
         fmt::format("the OpenPGP key {} in '{}' cannot encrypt ({})",
                     loaded->recipient.fingerprint, key_file.string(),
                     key->revoked ? "revoked" : key->expired ? "expired"
                     : key->disabled ? "disabled" : key->invalid ? "invalid"
                                      : "no encryption subkey"));
  return loaded;
}

}  // namespace

OpenPgpRecipient inspect_key_file(const std::filesystem::path& key_file) {
  return load_key_file(key_file)->recipient;
}

OpenPgpMessage encrypt_to_key_file(const std::filesystem::path& key_file,
                                   const Secret& plaintext) {
  const std::unique_ptr<LoadedKey> loaded = load_key_file(key_file);
  gpgme_ctx_t ctx = loaded->ctx.get();
  gpgme_key_t key = loaded->key.get();
  OpenPgpMessage out;
  out.recipient = loaded->recipient;

  gpgme_data_t in_raw = nullptr;
  check(gpgme_data_new_from_mem(&in_raw, reinterpret_cast<const char*>(plaintext.data()),
                                plaintext.size(), 0),
        "preparing the share for encryption");
  const Data in(in_raw);
  gpgme_data_t out_raw = nullptr;
  check(gpgme_data_new(&out_raw), "preparing the encrypted share");
  Data out_data(out_raw);
  gpgme_key_t recipients[] = {key, nullptr};
  // The key is trusted because the administrator named this file for this custodian; its
  // fingerprint is shown and recorded so the custodian can confirm it is theirs.
  check(gpgme_op_encrypt(ctx, recipients, GPGME_ENCRYPT_ALWAYS_TRUST, in.get(),
                         out_data.get()),
        fmt::format("encrypting to OpenPGP key {}", out.recipient.fingerprint));
  const gpgme_encrypt_result_t result = gpgme_op_encrypt_result(ctx);
  if (result != nullptr && result->invalid_recipients != nullptr)
    fail(Category::usage, fmt::format("GnuPG refused OpenPGP key {}: {}",
                                      out.recipient.fingerprint,
                                      gpgme_strerror(result->invalid_recipients->reason)));
  std::size_t n = 0;
  char* armored = gpgme_data_release_and_get_mem(out_data.release(), &n);
  if (armored == nullptr) fail(Category::general, "GnuPG returned no encrypted share");
  out.armored.assign(armored, n);
  gpgme_free(armored);
  return out;
}

}  // namespace hsm::delivery
