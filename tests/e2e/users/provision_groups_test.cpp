// user provision's groups column against real SoftHSM tokens: groups made with the users that
// list them (members sign, openssl verifies), reruns that leave them as they are, a group that
// exists refusing new members without a member's password, failed rows deferring every group
// until a rerun finishes them, and users who cannot be members yet named in the failure.
#include <set>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class ProvisionGroups : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    data_ = write_file("data.txt", "quarterly figures\n", 0644).string();
  }
  RunResult provision(const std::string& name, const std::string& content,
                      std::vector<std::string> extra = {}) {
    const auto file = write_file(name, content, 0600);
    std::vector<std::string> args{"user", "provision", "--from", file.string(), "--kdf-profile",
                                  "min"};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  }
  // The {"group": ...} lines of a --json run, by group name.
  std::map<std::string, nlohmann::json> group_lines(const std::string& out) {
    std::map<std::string, nlohmann::json> m;
    std::size_t pos = 0, nl;
    while ((nl = out.find('\n', pos)) != std::string::npos) {
      const auto j = nlohmann::json::parse(out.substr(pos, nl - pos));
      if (j.contains("group")) m[j["group"]["name"].get<std::string>()] = j["group"];
      pos = nl + 1;
    }
    return m;
  }
  std::set<std::string> members(const std::string& group) {
    const nlohmann::json j = hsmctl({"group", "show", group, "--json"}).json();
    std::set<std::string> out;
    for (const auto& m : j["members"]) out.insert(m.is_string() ? m.get<std::string>()
                                                                : m["name"].get<std::string>());
    return out;
  }
  // `as` signs data_ with `group`'s key; openssl verifies it against the group's public key.
  void expect_group_signs(const std::string& group, const std::string& as, const std::string& pw) {
    SCOPED_TRACE(group + " as " + as);
    const std::string sig = (tmp_.path() / (group + "-" + as + ".sig")).string();
    const std::string pem = (tmp_.path() / (group + "-" + as + ".pem")).string();
    const RunResult g = hsmctl({"group", "sign", group, "--as", as, "--in", data_, "--out", sig,
                                "--password-source", "env:PW"}, {{"PW", pw}});
    ASSERT_EQ(g.code, 0) << g.err;
    ASSERT_EQ(hsmctl({"group", "export-public", group, "--out", pem}).code, 0);
    const RunResult v = openssl({"dgst", "-sha256", "-verify", pem, "-signature", sig, data_});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
  std::string data_;
};

TEST_F(ProvisionGroups, GroupsColumnMakesGroupsTheirMembersSignWith) {
  const std::string csv =
      "name,password,groups\n"
      "alice,alice-password-1,ops;audit\n"
      "bob,bob-password-2,ops\n"
      "carol,carol-password-3,\n";
  const RunResult r = provision("staff.csv", csv, {"--jobs", "2", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto groups = group_lines(r.out);
  ASSERT_EQ(groups.size(), 2u) << r.out;
  EXPECT_EQ(groups["ops"]["status"], "created");
  EXPECT_EQ(groups["ops"]["members"], nlohmann::json({"alice", "bob"}));
  EXPECT_EQ(groups["audit"]["members"], nlohmann::json({"alice"}));
  EXPECT_EQ(members("ops"), (std::set<std::string>{"alice", "bob"}));
  expect_group_signs("ops", "bob", "bob-password-2");
  expect_group_signs("audit", "alice", "alice-password-1");
  // The groups are made inside the provision ceremony, each one recorded event.
  const std::string t = read_file(ws_ / "transcript.jsonl");
  std::size_t created = 0;
  for (std::size_t p = 0; (p = t.find("\"event\":\"group.created\"", p)) != std::string::npos; ++p)
    ++created;
  EXPECT_EQ(created, 2u);

  // A rerun changes nothing: the users are skipped, the groups hold everyone who lists them.
  const RunResult again = provision("staff2.csv", csv, {"--json"});
  ASSERT_EQ(again.code, 0) << again.err;
  groups = group_lines(again.out);
  EXPECT_EQ(groups["ops"]["status"], "exists");
  EXPECT_EQ(groups["audit"]["status"], "exists");

  // A new user listing a group that exists is created, but joining needs a member's password.
  const RunResult dave = provision("dave.csv", "name,password,groups\ndave,dave-password-4,ops\n");
  EXPECT_EQ(dave.code, 1);
  EXPECT_NE(dave.err.find("group 'ops' exists and 'dave' is not a member: adding a member needs "
                          "a member's password ('hsmctl group add ops dave --as MEMBER')"),
            std::string::npos) << dave.err;
  EXPECT_NE(dave.err.find("1 group of the groups column could not be made"), std::string::npos)
      << dave.err;
  EXPECT_EQ(members("ops"), (std::set<std::string>{"alice", "bob"}));
  // dave was given a key-agreement key when provisioned, so bob can add him at once.
  const RunResult add = hsmctl({"group", "add", "ops", "dave", "--as", "bob",
                                "--password-source", "env:PW"}, {{"PW", "bob-password-2"}});
  ASSERT_EQ(add.code, 0) << add.err;
  expect_group_signs("ops", "dave", "dave-password-4");
  EXPECT_EQ(provision("dave2.csv", "name,password,groups\ndave,dave-password-4,ops\n").code, 0);
  EXPECT_NE(read_file(ws_ / "transcript.jsonl").find("\"event\":\"user.provision.group.failed\""),
            std::string::npos);
  ASSERT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(ProvisionGroups, AFailedRowDefersEveryGroupUntilARerunFinishesTheRows) {
  const std::string bad =
      "{\"name\":\"erin\",\"password\":\"erin-password-1\",\"groups\":[\"team\"]}\n"
      "{\"name\":\"-frank\",\"password\":\"frank-password-2\",\"groups\":\"team\"}\n"
      "{\"name\":\"gina\",\"password\":\"gina-password-3\",\"groups\":\"team|night\"}\n";
  const RunResult r = provision("team.jsonl", bad);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("group 'team' was not made because 1 row failed"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("group 'night' was not made"), std::string::npos) << r.err;
  expect_failure(hsmctl({"group", "show", "team"}), 7, "team");
  EXPECT_EQ(hsmctl({"user", "show", "gina"}).code, 0);

  // The fixed file: erin and gina are skipped, frank is made, then both groups with everyone.
  const std::string fixed =
      "{\"name\":\"erin\",\"password\":\"erin-password-1\",\"groups\":[\"team\"]}\n"
      "{\"name\":\"frank\",\"password\":\"frank-password-2\",\"groups\":\"team\"}\n"
      "{\"name\":\"gina\",\"password\":\"gina-password-3\",\"groups\":\"team|night\"}\n";
  const RunResult again = provision("team2.jsonl", fixed, {"--json"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(members("team"), (std::set<std::string>{"erin", "frank", "gina"}));
  EXPECT_EQ(members("night"), (std::set<std::string>{"gina"}));
  expect_group_signs("team", "erin", "erin-password-1");
  ASSERT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(ProvisionGroups, AUserWithoutAKeyAgreementKeyIsNamedAndTheGroupIsNotMade) {
  // hal was provisioned without groups, so he has no key-agreement key until he uses his password.
  ASSERT_EQ(provision("hal.csv", "name,password\nhal,hal-password-1\n").code, 0);
  const RunResult r = provision("crew.csv", "name,password,groups\nhal,hal-password-1,crew\n"
                                            "ivy,ivy-password-2,crew\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("group 'crew': user 'hal' has no key-agreement key yet"), std::string::npos)
      << r.err;
  expect_failure(hsmctl({"group", "show", "crew"}), 7, "crew");
  // Once hal has used his password, the same file makes the group.
  const std::string sig = (tmp_.path() / "hal.sig").string();
  ASSERT_EQ(hsmctl({"user", "sign", "hal", "--in", data_, "--out", sig, "--password-source",
                    "env:PW"}, {{"PW", "hal-password-1"}}).code, 0);
  const RunResult again = provision("crew2.csv", "name,password,groups\nhal,hal-password-1,crew\n"
                                                 "ivy,ivy-password-2,crew\n");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("group 'crew' created with 2 members"), std::string::npos) << again.out;
  expect_group_signs("crew", "ivy", "ivy-password-2");
  expect_group_signs("crew", "hal", "hal-password-1");
}

}  // namespace
}  // namespace hsm::test
