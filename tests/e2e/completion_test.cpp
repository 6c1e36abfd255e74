// `hsmctl completion bash` loaded into a real bash: it completes the commands and options that
// `--help` lists, so the script cannot drift from the CLI definitions.
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

// Runs the completion function for the words of `line` (the last word is being completed).
std::string complete(const std::string& line) {
  const std::string script =
      "d=$(mktemp -d) && trap 'rm -rf \"$d\"' EXIT && cd \"$d\" && source <(\"$HSMCTL\" completion bash) || exit 9\n"
      "read -ra COMP_WORDS <<< \"$LINE\"\n"
      "[[ $LINE == *' ' ]] && COMP_WORDS+=('')\n"
      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
      "_hsmctl\n"
      "[ ${#COMPREPLY[@]} -gt 0 ] && printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '\n"
      "exit 0\n";
  const RunResult r =
      run_program({"/bin/bash", "-c", script}, {{"HSMCTL", HSMCTL_BINARY}, {"LINE", line}});
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

TEST(Completion, CompletesCommandsSubcommandsAndOptions) {
  EXPECT_EQ(complete("hsmctl ma"), "master ");
  EXPECT_EQ(complete("hsmctl master re"), "reshare restore ");
  EXPECT_NE(complete("hsmctl master init --").find("--threshold "), std::string::npos);
  EXPECT_NE(complete("hsmctl master init --").find("--custodians "), std::string::npos);
  // Global options are offered everywhere, and after --token the next word is a value.
  EXPECT_NE(complete("hsmctl master status --").find("--pin-source "), std::string::npos);
  EXPECT_EQ(complete("hsmctl --json tr"), "transcript ");
  EXPECT_EQ(complete("hsmctl --token tr"), "");
}

TEST(Completion, EveryTopLevelCommandOfHelpIsOffered) {
  const RunResult help = run_program({HSMCTL_BINARY, "--help"});
  const std::string offered = complete("hsmctl ");
  for (const char* group : {"token", "transcript", "master", "user", "key", "sign", "completion"}) {
    EXPECT_NE(help.out.find(group), std::string::npos) << group;
    EXPECT_NE(offered.find(std::string(group) + " "), std::string::npos) << group << ": " << offered;
  }
}

}  // namespace
}  // namespace hsm::test
