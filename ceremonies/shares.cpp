// Share commitments, files and intake.
#include "ceremonies/shares.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

std::string share_commitment(const slip39::Share& share) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  const std::string domain = "hsmctl v1 share commitment";
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(domain.data()), domain.size());
  const std::uint8_t header[4] = {static_cast<std::uint8_t>(share.header.identifier >> 8),
                                  static_cast<std::uint8_t>(share.header.identifier & 0xff),
                                  share.header.group_index, share.header.member_index};
  crypto_hash_sha256_update(&st, header, sizeof header);
  crypto_hash_sha256_update(&st, share.value.data(), share.value.size());
  std::uint8_t out[32];
  crypto_hash_sha256_final(&st, out);
  return to_hex(ByteView(out, 32));
}

std::filesystem::path share_file_path(const std::filesystem::path& dir, const std::string& custodian) {
  return dir / (custodian + ".share");
}

void write_share_file(const std::filesystem::path& dir, const std::string& custodian,
                      const Secret& mnemonic) {
  Secret line(mnemonic.size() + 1);
  std::memcpy(line.data(), mnemonic.data(), mnemonic.size());
  line.data()[mnemonic.size()] = '\n';
  write_new_file(share_file_path(dir, custodian), line.bytes(), 0600);
}

const keystore::CustodianRecord& check_share(const keystore::ShareSet& set,
                                             const slip39::Share& share) {
  if (share.header.identifier != set.identifier)
    fail(Category::integrity,
         fmt::format("this share belongs to another share set (identifier {}, expected {})",
                     share.header.identifier, set.identifier));
  for (const auto& c : set.custodians) {
    if (c.group_index != share.header.group_index || c.member_index != share.header.member_index)
      continue;
    if (share_commitment(share) != c.commitment)
      fail(Category::integrity, fmt::format("the share for custodian '{}' does not match its "
                                            "recorded commitment (corrupted or forged)", c.name));
    return c;
  }
  fail(Category::integrity, fmt::format("no custodian of this share set holds member index {}",
                                        share.header.member_index + 1));
}

namespace {

std::vector<Secret> read_share_files(const std::vector<std::string>& files) {
  std::vector<Secret> out;
  for (const auto& f : files) {
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail(Category::not_found, fmt::format("cannot open shares file '{}'", f), std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
      ::close(fd);
      fail(Category::general, fmt::format("shares file '{}' is readable by group or others "
                                          "(mode {:04o}); run 'chmod 600 {}'", f,
                                          st.st_mode & 07777, f));
    }
    Secret buf(64 * 1024);
    size_t n = 0;
    ssize_t r;
    while (n < buf.size() && (r = ::read(fd, buf.data() + n, buf.size() - n)) > 0) n += static_cast<size_t>(r);
    ::close(fd);
    size_t start = 0;
    for (size_t i = 0; i <= n; ++i) {
      if (i == n || buf.data()[i] == '\n') {
        size_t end = i;
        while (end > start && (buf.data()[end - 1] == '\r' || buf.data()[end - 1] == ' ')) --end;
        if (end > start) out.push_back(Secret::copy_of(buf.bytes().subspan(start, end - start)));
        start = i + 1;
      }
    }
  }
  return out;
}

}  // namespace

Secret recover_master_secret(const keystore::ShareSet& set, const ShareIntake& intake) {
  const int threshold = set.member_thresholds.empty() ? 1 : set.member_thresholds.front();
  std::vector<slip39::Share> shares;
  auto tell = [&](bool ok, const std::string& what) {
    if (intake.on_share) intake.on_share(ok, what);
  };
  auto accept = [&](const Secret& mnemonic) {
    slip39::Share share = slip39::parse_mnemonic(mnemonic);
    const auto& custodian = check_share(set, share);
    for (const auto& s : shares)
      if (s.header.member_index == share.header.member_index &&
          s.header.group_index == share.header.group_index)
        fail(Category::integrity, fmt::format("custodian '{}' gave a share twice", custodian.name));
    tell(true, custodian.name);
    shares.push_back(std::move(share));
  };
  if (!intake.files.empty()) {
    for (const Secret& m : read_share_files(intake.files)) {
      if (static_cast<int>(shares.size()) == threshold) break;
      try {
        accept(m);
      } catch (const Error& e) {
        tell(false, e.what());
        throw;
      }
    }
  } else if (intake.prompt) {
    while (static_cast<int>(shares.size()) < threshold) {
      Secret typed = intake.prompt(static_cast<int>(shares.size()) + 1);
      if (typed.empty()) break;
      try {
        accept(typed);
      } catch (const Error& e) {
        if (e.category() != Category::integrity) throw;
        tell(false, e.what());  // named; the custodian may type it again
      }
    }
  }
  if (static_cast<int>(shares.size()) < threshold)
    fail(Category::quorum, fmt::format("{} of {} shares given; {} more needed", shares.size(),
                                       threshold, threshold - static_cast<int>(shares.size())));
  return slip39::combine_shares(shares, Secret());
}

}  // namespace hsm
