// The example plan: every step uses a command that exists, so it validates as printed, and it
// rehearses as printed (its files and keys are made by earlier steps).
#include "ceremonies/plans/plan_example.h"

namespace hsm {

const char* plan_example() {
  return R"(# A ceremony plan for hsmctl: the format is described in hsmctl-plan(5).
# Check it before the day:       hsmctl ceremony validate root-2026.toml
# Rehearse it on a soft token:   hsmctl ceremony run --rehearse root-2026.toml
# Run it live before witnesses:  hsmctl --dir /ceremony ceremony run root-2026.toml
# Compare the two records:       hsmctl ceremony diff REHEARSAL.jsonl /ceremony/transcript.jsonl

[ceremony]
name = "root-2026"
description = "Root and release signing keys, November 2026"
token = "root-hsm"                       # label of the token every step runs on
witnesses = ["carol", "dave"]
roles = ["operator", "custodians", "auditor"]
# init_token = true                      # initialise the token first (asks for its SO PIN)

# Each [[step]] is one hsmctl command, run as if typed by hand: `run` names the command,
# `positional` its arguments, [step.args] its options (--threshold 3 is threshold = 3; a list
# gives the option once per item; true gives a flag; false leaves it out). Global options
# (--dir, --token, --pin-source ...) are given by `ceremony run` to every step.

[[step]]
name = "master secret, 3 of 5 custodians"
run = "master init"
roles = ["operator", "custodians"]
witnesses = ["carol", "dave"]
[step.args]
threshold = 3
custodians = ["alice", "bob", "erin", "frank", "grace"]

[[step]]
run = "key generate"
positional = ["root-2026"]
roles = ["operator"]
[step.args]
algo = "ec-p384"
purpose = "ca"

[[step]]
run = "key export-public"
positional = ["root-2026"]
[step.args]
out = "root-2026.pub.pem"

[[step]]
name = "self-signed root certificate"
run = "sign cert"
roles = ["operator"]
[step.args]
key = "root-2026"
self-signed = true
subject = "CN=Example Root 2026,O=Example,C=NL"
profile = "ca"
days = 7305
out = "root-2026.crt.pem"

[[step]]
name = "first, empty CRL of the root"
run = "sign crl"
[step.args]
key = "root-2026"
issuer-cert = "root-2026.crt.pem"
next-update = 365
out = "root-2026-1.crl.pem"

[[step]]
name = "release key, usable only with 3 custodians"
run = "key generate"
positional = ["release-2026"]
roles = ["operator", "custodians"]
[step.args]
algo = "ec-p256"
purpose = "code"
quorum = 3

[[step]]
name = "backup of the keys, sealed under the master, needs 3 custodians"
run = "backup create"
roles = ["custodians"]
[step.args]
out = "root-2026.hsmbak"

[[step]]
name = "witness statement"
run = "transcript note"
positional = ["tamper bag 4411 sealed and intact"]
roles = ["auditor"]
witnesses = ["carol", "dave"]
[step.args]
witness = "carol"

# No `transcript head` step: the run records plan.end after the last step and then prints
# the final head and its PGP words. The auditor reads that one aloud and the witnesses write it
# down; `hsmctl transcript verify --strict --head HEX` accepts exactly that head.
)";
}

}  // namespace hsm
