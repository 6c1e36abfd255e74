// Linked only into hsmctl_nostate, the benchmarks' "before" binary: hsmctl with the keystore
// state (issue 27's row digests, roots and checks) switched off, to measure what it costs in
// the same run as hsmctl itself. Never installed.
#include "core/keystore/keystore.h"

namespace {

const bool state_off = [] {
  hsm::keystore::Keystore::set_state_upkeep(
      hsm::keystore::Keystore::StateUpkeep::off_for_benchmarks);
  return true;
}();

}  // namespace
