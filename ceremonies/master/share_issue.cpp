// Share sets: split, commit, hand out.
#include "ceremonies/master/share_issue.h"

#include "ceremonies/master/shares.h"

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

void hand_out(const IssuedShares& issued, const std::vector<std::string>& names,
              const ShareDelivery& delivery, const CardFacts& facts, CustodianConsole* console,
              HandedOut& done) {
  try {
    for (size_t i = 0; i < issued.shares.size(); ++i) {
      const Secret mnemonic = slip39::to_mnemonic(issued.shares[i]);
      if (delivery.method_for(names[i]) != ShareDelivery::Method::terminal) {
        Delivered d = deliver_share(delivery, names[i], issued.shares[i].header.member_index + 1,
                                    mnemonic, facts);
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
