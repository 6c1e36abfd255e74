// Share commitments, files and intake.
#include "ceremonies/master/shares.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

CreatedFile write_share_file(const std::filesystem::path& dir, const std::string& custodian,
                             const Secret& mnemonic) {
  Secret line(mnemonic.size() + 1);
  std::memcpy(line.data(), mnemonic.data(), mnemonic.size());
  line.data()[mnemonic.size()] = '\n';
  return write_new_file(share_file_path(dir, custodian), line.bytes(), 0600);
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
  const bool adopted = std::all_of(set.custodians.begin(), set.custodians.end(),
                                   [](const auto& c) { return c.name.starts_with("member-"); });
  fail(Category::integrity,
       fmt::format("no custodian of this share set holds member index {}{}",
                   share.header.member_index + 1,
                   adopted ? " (this workspace adopted the set at a restore and knows only the "
                             "shares given then; 'master reshare' issues a fully recorded set)"
                           : ""));
}

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

namespace {

// Gathers shares until `threshold()` (0 while unknown) are in. `check` checks one share
// against what is known and names its custodian. Each share is told to intake.on_share.
Secret gather(const ShareIntake& intake,
              const std::function<std::string(const slip39::Share&)>& check,
              const std::function<int()>& threshold) {
  std::vector<slip39::Share> shares;
  auto tell = [&](bool ok, const std::string& what) {
    if (intake.on_share) intake.on_share(ok, what);
  };
  auto enough = [&] {
    const int t = threshold();
    return t > 0 && static_cast<int>(shares.size()) >= t;
  };
  auto accept = [&](const Secret& mnemonic) {
    slip39::Share share = slip39::parse_mnemonic(mnemonic);
    const std::string custodian = check(share);
    for (const auto& s : shares)
      if (s.header.member_index == share.header.member_index &&
          s.header.group_index == share.header.group_index)
        fail(Category::integrity, fmt::format("custodian '{}' gave a share twice", custodian));
    tell(true, custodian);
    shares.push_back(std::move(share));
  };
  if (!intake.files.empty()) {
    for (const Secret& m : read_share_files(intake.files)) {
      if (enough()) break;
      try {
        accept(m);
      } catch (const Error& e) {
        tell(false, e.what());
        throw;
      }
    }
  } else if (intake.prompt) {
    while (!enough()) {
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
  if (!enough()) {
    const int t = threshold();
    if (t == 0) fail(Category::quorum, "no share given; the share set's threshold of shares is needed");
    fail(Category::quorum, fmt::format("{} of {} shares given; {} more needed", shares.size(), t,
                                       t - static_cast<int>(shares.size())));
  }
  return slip39::combine_shares(shares, Secret());
}

}  // namespace

Secret recover_master_secret(const keystore::ShareSet& set, const ShareIntake& intake) {
  const int threshold = set.member_thresholds.empty() ? 1 : set.member_thresholds.front();
  return gather(
      intake, [&](const slip39::Share& share) { return check_share(set, share).name; },
      [threshold] { return threshold; });
}

Secret adopt_share_set(const ShareIntake& intake, keystore::ShareSet& learnt) {
  learnt = {};
  bool known = false;
  auto check = [&](const slip39::Share& share) {
    const slip39::ShareHeader& h = share.header;
    if (!known) {
      if (h.group_threshold != 1 || h.group_count != 1)
        fail(Category::usage, "a share set with several groups can only be restored in the "
                              "workspace that made it (its keystore knows the groups)");
      learnt.identifier = h.identifier;
      learnt.extendable = h.extendable;
      learnt.iteration_exponent = h.iteration_exponent;
      learnt.group_threshold = 1;
      learnt.member_thresholds = {h.member_threshold};
      known = true;
    } else if (h.identifier != learnt.identifier) {
      fail(Category::integrity,
           fmt::format("this share belongs to another share set (identifier {}, expected {})",
                       h.identifier, learnt.identifier));
    } else if (h.extendable != learnt.extendable ||
               h.iteration_exponent != learnt.iteration_exponent ||
               h.member_threshold != learnt.member_thresholds.front() || h.group_count != 1) {
      fail(Category::integrity, "this share's parameters (threshold, iteration exponent, "
                                "extendable flag) differ from the first share's");
    }
    const std::string name = fmt::format("member-{}", h.member_index + 1);
    for (const auto& seen : learnt.custodians)
      if (seen.member_index == h.member_index) return name;  // a duplicate: gather refuses it
    keystore::CustodianRecord c;
    c.name = name;
    c.member_index = h.member_index;
    c.commitment = share_commitment(share);
    learnt.custodians.push_back(c);
    return c.name;
  };
  return gather(intake, check,
                [&] { return known ? learnt.member_thresholds.front() : 0; });
}

}  // namespace hsm
