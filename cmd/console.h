// The custodians' terminal: one share on a cleared screen at a time, after a typed confirmation
// that only that custodian is looking, then proof that it was written down (two random words
// typed back). Shares go to /dev/tty only, never to stdout or a log.
#pragma once

#include <functional>
#include <string>

#include "ceremonies/master/master_init.h"
#include "ceremonies/master/shares.h"

namespace hsm::cli {

class TerminalConsole : public CustodianConsole {
 public:
  void show_share(const std::string& custodian, int index, int count,
                  const Secret& mnemonic) override;
};

// Share intake from --shares-file, or typed one custodian at a time at the terminal.
// While `quorum request` runs a command (cmd/quorum.cpp), the intake is the one it set here:
// shares come from remote approvals, and --shares-file is refused.
ShareIntake share_intake(const std::vector<std::string>& files);
void set_remote_intake(std::function<ShareIntake()> make);

}  // namespace hsm::cli
