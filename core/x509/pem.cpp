// PEM encoding and decoding with OpenSSL's generic PEM_write_bio / PEM_read_bio (see pem.h).
#include "core/x509/pem.h"

#include <openssl/pem.h>

#include <string_view>

#include "core/x509/assembly.h"

namespace hsm::x509 {

namespace {

const char* label(PemKind kind) {
  switch (kind) {
    case PemKind::certificate: return "CERTIFICATE";
    case PemKind::certificate_request: return "CERTIFICATE REQUEST";
    case PemKind::crl: return "X509 CRL";
    case PemKind::cms: return "CMS";
    case PemKind::public_key: return "PUBLIC KEY";
  }
  return "";
}

bool label_matches(PemKind kind, std::string_view found) {
  if (found == label(kind)) return true;
  if (kind == PemKind::certificate_request) return found == "NEW CERTIFICATE REQUEST";
  if (kind == PemKind::cms) return found == "PKCS7";
  return false;
}

struct PemBlock {
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long length = 0;
  ~PemBlock() {
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
};

}  // namespace

std::string to_pem(PemKind kind, ByteView der) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio(bio.get(), label(kind), "", der.data(), static_cast<long>(der.size())) <= 0)
    fail(Category::general, "cannot write PEM", openssl_error());
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

Bytes from_pem_or_der(ByteView text, PemKind kind) {
  constexpr std::string_view begin = "-----BEGIN ";
  const std::string_view as_text(reinterpret_cast<const char*>(text.data()), text.size());
  if (as_text.find(begin) == std::string_view::npos) return Bytes(text.begin(), text.end());
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  std::string found;
  for (;;) {
    PemBlock block;
    if (PEM_read_bio(bio.get(), &block.name, &block.header, &block.data, &block.length) != 1) break;
    if (label_matches(kind, block.name)) return Bytes(block.data, block.data + block.length);
    found += found.empty() ? block.name : std::string(", ") + block.name;
  }
  openssl_error();  // the end of the input, or a damaged block: either way, nothing of `kind`
  fail(Category::usage, std::string("expected PEM ") + label(kind) + " but found " +
                            (found.empty() ? "no readable PEM block" : found));
}

}  // namespace hsm::x509
