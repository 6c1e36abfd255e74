// Share commitments, files and intake.
#include "ceremonies/master/shares.h"

#include <fcntl.h>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
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

// What a set needs: its group threshold, and each group's member threshold and name (0 and ""
// while unknown: a set learnt from the shares themselves).
struct QuorumRules {
  std::function<int()> group_threshold;
  std::function<int(int group)> member_threshold;
  std::function<std::string(int group)> group_name;
};

// Gathers shares until enough groups have enough members, and returns S. `check` checks one
// share against what is known and names its custodian. Each share is told to intake.on_share.
// A share of a group that already has its threshold is told and left out (SLIP-0039 combines
// exactly the thresholds).
Secret gather(const ShareIntake& intake,
              const std::function<std::string(const slip39::Share&)>& check,
              const QuorumRules& rules) {
  std::map<int, std::vector<slip39::Share>> groups;
  std::size_t given = 0;
  auto tell = [&](bool ok, const std::string& what) {
    if (intake.on_share) intake.on_share(ok, what);
  };
  auto complete = [&](int g) {
    const int t = rules.member_threshold(g);
    const auto it = groups.find(g);
    return t > 0 && it != groups.end() && static_cast<int>(it->second.size()) >= t;
  };
  auto complete_groups = [&] {
    int n = 0;
    for (const auto& [g, shares] : groups) n += complete(g) ? 1 : 0;
    return n;
  };
  auto enough = [&] {
    const int t = rules.group_threshold();
    return t > 0 && complete_groups() >= t;
  };
  auto accept = [&](const Secret& mnemonic) {
    slip39::Share share = slip39::parse_mnemonic(mnemonic);
    const std::string custodian = check(share);
    const int g = share.header.group_index;
    for (const auto& s : groups[g])
      if (s.header.member_index == share.header.member_index)
        fail(Category::integrity, fmt::format("custodian '{}' gave a share twice", custodian));
    if (complete(g)) {
      tell(true, fmt::format("{} (group '{}' already has its {} shares; not needed)", custodian,
                             rules.group_name(g), rules.member_threshold(g)));
      return;
    }
    tell(true, custodian);
    groups[g].push_back(std::move(share));
    ++given;
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
      Secret typed = intake.prompt(static_cast<int>(given) + 1);
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
    const int gt = rules.group_threshold();
    if (gt == 0) fail(Category::quorum, "no share given; the share set's threshold of shares is needed");
    const bool single_group = gt == 1 && rules.group_name(0).empty();
    if (single_group) {
      const int t = rules.member_threshold(0);
      fail(Category::quorum, fmt::format("{} of {} shares given; {} more needed", given, t,
                                         t - static_cast<int>(given)));
    }
    std::vector<std::string> done, short_of;
    for (const auto& [g, shares] : groups) {
      const std::string what = fmt::format("'{}' ({} of {} shares)", rules.group_name(g),
                                           shares.size(), rules.member_threshold(g));
      (complete(g) ? done : short_of).push_back(what);
    }
    fail(Category::quorum,
         fmt::format("{} of the {} groups needed have their shares{}{}", complete_groups(), gt,
                     done.empty() ? "" : fmt::format(": {}", fmt::join(done, ", ")),
                     short_of.empty() ? "" : fmt::format("; short: {}", fmt::join(short_of, ", "))));
  }
  std::vector<slip39::Share> chosen;
  int taken = 0;
  for (auto& [g, shares] : groups) {
    if (!complete(g) || taken == rules.group_threshold()) continue;
    ++taken;
    for (auto& s : shares) chosen.push_back(std::move(s));
  }
  return slip39::combine_shares(chosen, Secret());
}

}  // namespace

std::string group_label(const keystore::ShareSet& set, int group) {
  if (group >= 0 && static_cast<std::size_t>(group) < set.group_names.size())
    return set.group_names[static_cast<std::size_t>(group)];
  return set.member_thresholds.size() > 1 ? fmt::format("group {}", group + 1) : std::string();
}

Secret recover_master_secret(const keystore::ShareSet& set, const ShareIntake& intake) {
  QuorumRules rules{
      [&] { return set.group_threshold; },
      [&](int g) {
        return g >= 0 && static_cast<std::size_t>(g) < set.member_thresholds.size()
                   ? set.member_thresholds[static_cast<std::size_t>(g)] : 0;
      },
      [&](int g) { return group_label(set, g); }};
  if (intake.on_gather) intake.on_gather(set);
  return gather(intake, [&](const slip39::Share& share) { return check_share(set, share).name; },
                rules);
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
  QuorumRules rules{[&] { return known ? 1 : 0; },
                    [&](int) { return known ? learnt.member_thresholds.front() : 0; },
                    [](int) { return std::string(); }};
  if (intake.on_gather) intake.on_gather(keystore::ShareSet{});
  return gather(intake, check, rules);
}

}  // namespace hsm
