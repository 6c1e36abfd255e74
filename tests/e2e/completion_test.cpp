// The completion scripts loaded into real bash, zsh and fish: each shell's function offers the
// commands and options that --help lists, and values: fixed lists (--algo, --kdf-profile, the
// --pin-source forms), token labels from the module and user, group and key names from the
// workspace.
#include <filesystem>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

// Each runs the shell's own completion function for `line` (the last word is being completed)
// and prints the candidates sorted, one a line, joined by spaces. hsmctl is found on PATH.
const char* kBashScript =
    "source <(hsmctl completion bash) || exit 9\n"
    "read -ra COMP_WORDS <<< \"$LINE\"\n"
    "[[ $LINE == *' ' ]] && COMP_WORDS+=('')\n"
    "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
    "_hsmctl\n"
    "[ ${#COMPREPLY[@]} -gt 0 ] && printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '\n"
    "exit 0\n";

// zsh: the function runs with `words`/CURRENT as the completion system sets them; compadd and
// _files (which only work inside a completion widget) are replaced by ones that print.
const char* kZshScript =
    "compdef() { :; }\n"
    "compadd() { local a; local -a out; while [[ $1 == -* ]]; do\n"
    "  case $1 in -a) shift; out+=(\"${(@P)1}\");; -S) shift;; esac; shift; done\n"
    "  print -l -- \"${out[@]}\" \"$@\"; }\n"
    "_files() { print -- ':FILES:'; }\n"
    "source <(hsmctl completion zsh) || exit 9\n"
    "words=(${(z)LINE}); [[ $LINE == *' ' ]] && words+=('')\n"
    "CURRENT=${#words}\n"
    "_hsmctl | sort | tr '\\n' ' '\n";

// fish: its own `complete -C`, as the shell runs it on Tab.
const char* kFishScript =
    "hsmctl completion fish | source; or exit 9\n"
    "complete -C\"$LINE\" | string replace -r '\\t.*' '' | sort | string join ' '\n"
    "exit 0\n";

class Completion : public HsmTest {
 protected:
  std::string complete(const std::string& shell, const std::string& line) {
    const std::string bin_dir = std::filesystem::path(HSMCTL_BINARY).parent_path().string();
    auto env = base_env();
    env["LINE"] = line;
    env["PATH"] = bin_dir + ":/usr/bin:/bin";
    env["HOME"] = tmp_.path().string();
    const std::string script = shell == "bash" ? kBashScript : shell == "zsh" ? kZshScript
                                                                               : kFishScript;
    const std::string exe = "/usr/bin/" + shell;
    const RunResult r = shell == "zsh" ? run_program({exe, "-f", "-c", script}, env)
                                       : run_program({exe, "-c", script}, env);
    EXPECT_EQ(r.code, 0) << shell << ": " << r.err;
    std::string out = r.out;
    while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
    return out;
  }
  void expect_all(const std::string& line, const std::string& want) {
    for (const char* shell : {"bash", "zsh", "fish"}) EXPECT_EQ(complete(shell, line), want) << shell << ": " << line;
  }
  void expect_has(const std::string& line, const std::string& want) {
    for (const char* shell : {"bash", "zsh", "fish"}) {
      const std::string got = " " + complete(shell, line) + " ";
      EXPECT_NE(got.find(" " + want + " "), std::string::npos) << shell << ": " << line << " -> " << got;
    }
  }
};

TEST_F(Completion, CommandsSubcommandsAndOptionsInEveryShell) {
  expect_all("hsmctl ma", "master");
  expect_all("hsmctl master re", "reshare restore");
  expect_all("hsmctl completion ", "bash fish zsh");
  expect_has("hsmctl master init --", "--threshold");
  expect_has("hsmctl master init --", "--custodians");
  // Global options are offered everywhere, and skipped with their values.
  expect_has("hsmctl master status --", "--pin-source");
  expect_all("hsmctl --json tr", "transcript");
  expect_all("hsmctl --dir /tmp tr", "transcript");
}

TEST_F(Completion, FixedValuesOfOptions) {
  expect_all("hsmctl key generate k --algo ", "ec-p256 ec-p384 ed25519 rsa-3072 rsa-4096");
  expect_all("hsmctl user create u --algo ec", "ec-p256 ec-p384");
  expect_all("hsmctl group create g --algo ", "ec-p256 ec-p384 rsa-3072");
  expect_all("hsmctl user create u --kdf-profile ", "interactive min moderate sensitive");
  expect_all("hsmctl --pin-source ", "env: fd: file: prompt");
  expect_all("hsmctl user sign alice --password-source e", "env:");
}

TEST_F(Completion, TokenLabelsComeFromTheModule) {
  hsm_.init_token("second-token");
  expect_all("hsmctl --token ", "second-token test");
  expect_all("hsmctl --token s", "second-token");
}

TEST_F(Completion, NamesComeFromTheWorkspace) {
  ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
  for (const char* name : {"alice", "albert", "bob"})
    ASSERT_EQ(hsmctl({"user", "create", name, "--kdf-profile", "min", "--password-source",
                      "env:PW"}, {{"PW", "completion password"}}).code, 0);
  ASSERT_EQ(hsmctl({"group", "create", "ops", "--members", "alice,bob"}).code, 0);
  ASSERT_EQ(hsmctl({"key", "generate", "root-2026"}).code, 0);
  expect_all("hsmctl user show al", "albert alice");
  expect_all("hsmctl user sign ", "albert alice bob");
  expect_all("hsmctl group add o", "ops");
  expect_all("hsmctl group add ops b", "bob");
  expect_all("hsmctl key show r", "root-2026");
  expect_all("hsmctl sign file --key r", "root-2026");
  expect_all("hsmctl transcript show --user b", "bob");
  // A new name is not completed; another workspace (--dir) has other names (here: none).
  expect_all("hsmctl user create a", "");
  expect_all("hsmctl --dir " + (tmp_.path() / "elsewhere").string() + " user show a", "");
}

TEST_F(Completion, EveryTopLevelCommandOfHelpIsOffered) {
  const RunResult help = run_program({HSMCTL_BINARY, "--help"});
  const std::string offered = " " + complete("bash", "hsmctl ") + " ";
  for (const char* group : {"token", "transcript", "master", "user", "key", "sign", "group",
                            "backup", "ceremony", "doctor", "completion"}) {
    EXPECT_NE(help.out.find(group), std::string::npos) << group;
    EXPECT_NE(offered.find(std::string(" ") + group + " "), std::string::npos) << group << ": " << offered;
  }
  EXPECT_EQ(offered.find("complete "), std::string::npos) << "the hidden helper is not offered";
}

}  // namespace
}  // namespace hsm::test
