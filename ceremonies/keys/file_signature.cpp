// The --in/--out checks and the signed-file event of user sign and group sign.
#include "ceremonies/keys/file_signature.h"

#include <fmt/format.h>

#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm {

void check_sign_files(const std::filesystem::path& in, const std::filesystem::path& out) {
  if (in.empty()) fail(Category::usage, "--in names no file to sign");
  if (out.empty()) fail(Category::usage, "--out names no signature file");
  if (!std::filesystem::is_regular_file(in))
    fail(Category::not_found, fmt::format("input file '{}' does not exist", in.string()));
  if (std::filesystem::exists(std::filesystem::symlink_status(out)))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an output "
                                          "file", out.string()));
  const auto dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    fail(Category::not_found, fmt::format("directory '{}' for --out does not exist", dir.string()));
}

FileSignature record_file_signature(Recorder& rec, const std::string& event,
                                    const nlohmann::json& signer, const std::string& algorithm,
                                    std::string_view signature_alg, std::int64_t key_version,
                                    ByteView public_key, const std::filesystem::path& in,
                                    ByteView data, const std::filesystem::path& out,
                                    ByteView signature) {
  FileSignature f;
  f.algorithm = algorithm;
  f.signature_alg = signature_alg;
  f.key_version = key_version;
  f.fingerprint = crypto::fingerprint(public_key);
  f.file_sha256 = to_hex(crypto::sha256(data));
  f.signature_sha256 = to_hex(crypto::sha256(signature));
  nlohmann::json facts = signer;
  facts.update({{"algorithm", f.algorithm},
                {"signature_alg", f.signature_alg},
                {"key_version", f.key_version},
                {"fingerprint", f.fingerprint},
                {"file", in.string()},
                {"file_size", data.size()},
                {"file_sha256", f.file_sha256},
                {"signature_sha256", f.signature_sha256},
                {"out", out.string()}});
  f.seq = rec.record_output(event, facts, out, signature, 0644);
  return f;
}

}  // namespace hsm
