# Sourced by scripts/test and scripts/demo: installs the Debian 12 packages hsmctl needs,
# only when something is missing (apt-get update first, as root).
HSMCTL_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev openssl libsodium-dev libcli11-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev
  sqlite3 p11-kit libp11-kit-dev libgtest-dev libgmock-dev libtomlplusplus-dev libqrencode-dev
  softhsm2 opensc oathtool mandoc valgrind strace clang libclang-rt-14-dev python3
  python3-cryptography python3-jsonschema jq zsh fish libjemalloc-dev libcpp-httplib-dev curl
  # Printed share cards (core/print/): cairo and its fonts; the tests read them back with
  # poppler's pdftoppm/pdftotext and zbar's zbarimg.
  libcairo2-dev fonts-dejavu-core poppler-utils zbar-tools
  # Shares encrypted to custodians' OpenPGP keys (core/delivery/), checked with stock gpg.
  libgpgme-dev gnupg
  # sd_notify for 'hsmctl serve' under systemd (contrib/hsmctl-serve.service).
  libsystemd-dev
  # The PostgreSQL keystore (--store postgresql://...): libpq, and a throwaway server for the
  # release pass's tests (scripts/lib/pg_cluster.sh).
  libpq-dev postgresql-15
  # Real tokens that refuse part of what hsmctl needs (tests/support/real_tokens.cpp, ctest -L
  # realtokens): tpm2-pkcs11 on a software TPM, and opencryptoki's soft token.
  swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools opencryptoki
)

install_deps() {
  local missing=()
  for p in "${HSMCTL_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  echo "==> installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
