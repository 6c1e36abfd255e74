// Share sets: split, commit, hand out.
#include "ceremonies/master/share_issue.h"

#include "ceremonies/master/shares.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace hsm {

namespace {
constexpr std::uint8_t kIterationExponent = 1;
}

IssuedShares split_for_custodians(const Secret& master, int threshold,
                                  const std::vector<std::string>& names) {
  const slip39::GroupSpec group{static_cast<std::uint8_t>(threshold),
                                static_cast<std::uint8_t>(names.size())};
  auto groups = slip39::split_master_secret(master, Secret(), 1, std::span(&group, 1), true,
                                            kIterationExponent);
  IssuedShares out;
  out.shares = std::move(groups.front());
  out.set.identifier = out.shares.front().header.identifier;
  out.set.extendable = true;
  out.set.iteration_exponent = kIterationExponent;
  out.set.group_threshold = 1;
  out.set.member_thresholds = {threshold};
  out.custodians = nlohmann::json::array();
  for (size_t i = 0; i < out.shares.size(); ++i) {
    const std::string commitment = share_commitment(out.shares[i]);
    out.set.custodians.push_back({names[i], 0, out.shares[i].header.member_index, commitment});
    out.custodians.push_back({{"name", names[i]},
                              {"member_index", out.shares[i].header.member_index + 1},
                              {"commitment", commitment}});
  }
  return out;
}

IssuedShares split_for_groups(const Secret& master, int group_threshold,
                              const std::vector<ShareGroupSpec>& groups) {
  std::vector<slip39::GroupSpec> specs;
  for (const auto& g : groups)
    specs.push_back({static_cast<std::uint8_t>(g.threshold),
                     static_cast<std::uint8_t>(g.custodians.size())});
  auto split = slip39::split_master_secret(master, Secret(),
                                           static_cast<std::uint8_t>(group_threshold), specs,
                                           true, kIterationExponent);
  IssuedShares out;
  out.set.identifier = split.front().front().header.identifier;
  out.set.extendable = true;
  out.set.iteration_exponent = kIterationExponent;
  out.set.group_threshold = group_threshold;
  out.custodians = nlohmann::json::array();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    out.set.member_thresholds.push_back(groups[g].threshold);
    out.set.group_names.push_back(groups[g].name);
    for (std::size_t m = 0; m < split[g].size(); ++m) {
      slip39::Share& share = split[g][m];
      const std::string commitment = share_commitment(share);
      const std::string& name = groups[g].custodians[m];
      out.set.custodians.push_back({name, share.header.group_index, share.header.member_index,
                                    commitment});
      out.custodians.push_back({{"name", name},
                                {"group", groups[g].name},
                                {"group_index", share.header.group_index + 1},
                                {"member_index", share.header.member_index + 1},
                                {"commitment", commitment}});
      out.shares.push_back(std::move(share));
    }
  }
  return out;
}

void hand_out(const IssuedShares& issued, const std::vector<std::string>& names,
              const ShareDelivery& delivery, const CardFacts& facts, CustodianConsole* console,
              HandedOut& done) {
  try {
    for (size_t i = 0; i < issued.shares.size(); ++i) {
      const Secret mnemonic = slip39::to_mnemonic(issued.shares[i]);
      if (delivery.method_for(names[i]) != ShareDelivery::Method::terminal) {
        CardFacts f = facts;
        const keystore::ShareSet& set = issued.set;
        if (!set.group_names.empty()) {  // a two-level set: the custodian's group
          const int g = issued.shares[i].header.group_index;
          f.group = set.group_names[static_cast<std::size_t>(g)];
          f.groups = static_cast<int>(set.group_names.size());
          f.group_threshold = set.group_threshold;
          f.threshold = set.member_thresholds[static_cast<std::size_t>(g)];
          f.members = static_cast<int>(std::count_if(
              set.custodians.begin(), set.custodians.end(),
              [g](const auto& c) { return c.group_index == g; }));
        }
        Delivered d = deliver_share(delivery, names[i], issued.shares[i].header.member_index + 1,
                                    mnemonic, f);
        done.files.push_back(d.file);
        done.paths[names[i]] = d.file.path;
        done.delivery[names[i]] = std::move(d.record);
        done.given.push_back(names[i]);
        if (done.on_give) done.on_give();
      } else {
        if (console == nullptr)
          fail(Category::usage, "no terminal to show the shares on; use --shares-out DIR or "
                                "--cards DIR");
        done.delivery[names[i]] = "terminal";
        // Counted as shown from the moment it may be on the screen.
        done.given.push_back(names[i]);
        if (done.on_give) done.on_give();
        console->show_share(names[i], static_cast<int>(i) + 1,
                            static_cast<int>(issued.shares.size()), mnemonic);
      }
    }
  } catch (...) {
    take_back(done);
    throw;
  }
}

void take_back(HandedOut& done) noexcept {
  for (const CreatedFile& f : done.files) remove_created_file(f);
  done.files.clear();
}

}  // namespace hsm
