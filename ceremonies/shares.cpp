// Share commitments, files and intake.
#include "ceremonies/shares.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/crypto/public_key.h"
#include "core/error.h"

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
  const auto path = share_file_path(dir, custodian);
  const auto tmp = dir / ("." + custodian + ".share.tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    fail(Category::general, fmt::format("cannot create share file in '{}'", dir.string()),
         std::strerror(errno));
  const bool ok = ::write(fd, mnemonic.data(), mnemonic.size()) == static_cast<ssize_t>(mnemonic.size()) &&
                  ::write(fd, "\n", 1) == 1 && ::fsync(fd) == 0;
  ::close(fd);
  // link() refuses an existing name: the share file appears whole, never over another one.
  if (!ok || ::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST)
      fail(Category::not_found, fmt::format("share file '{}' already exists; move it away first",
                                            path.string()));
    fail(Category::general, fmt::format("cannot write share file '{}'", path.string()),
         std::strerror(err));
  }
  ::unlink(tmp.c_str());
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
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
