#!/usr/bin/env python3
"""Checks that what `hsmctl --json` prints is what the man pages' JSON OUTPUT sections say.

Runs a small real ceremony on a throwaway SoftHSM token (the caller sets SOFTHSM2_CONF,
HSMCTL_MODULE and HSMCTL_DIR, e.g. with scripts/sandbox) and, for each subcommand run, compares
the top-level members of its JSON object with the ones documented in man/hsmctl-<group>.1.
   tests/docs/json_check.py PATH/TO/hsmctl MAN_DIR WORK_DIR

The documented format, parsed here (mdoc, in the section `.Sh JSON OUTPUT` up to the next .Sh):
  .Bl ...                                    outer list (depth 1)
  .It Cm G S [, Cm G S2 ...]                 the subcommands whose object follows
  .Bl ...                                    their members (depth 2)
  .It Li NAME [, NAME ...] Pq TYPE[, optional]  one member (or several of one kind); a member
                                             whose Pq says "optional" may be absent
  .El / .El
Lists deeper than depth 2 describe nested objects and are not checked. Each page must have an
entry for every subcommand it has a `.Ss G S` for (group pages) or for `.Cm doctor`/`.Cm clone`.
Besides the member sets, every value named *sha256, fingerprint, kcv, head, key_id or id must be
lowercase hex and every created/time value RFC 3339 UTC, as hsmctl(1) promises.
Prints "ok ..." / "FAIL ..." lines like run_docs_tests.sh and exits 1 on any failure.
"""
import json
import os
import re
import subprocess
import sys

BIN, MAN, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
results = {"ok": 0, "fail": 0}


def report(good, what, detail=""):
    results["ok" if good else "fail"] += 1
    print(("ok   " if good else "FAIL ") + what)
    if not good and detail:
        print("       " + detail.replace("\n", "\n       "))


def documented(page):
    """{"G S": (all members, optional members)} from one man page's JSON OUTPUT section."""
    entries, current, depth, on = {}, [], 0, False
    with open(page, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".Sh "):
                on = line == ".Sh JSON OUTPUT"
                continue
            if not on:
                continue
            if line.startswith(".Bl"):
                depth += 1
            elif line == ".El":
                depth -= 1
            elif depth == 1 and line.startswith(".It Cm "):
                current = [c.strip() for c in line[len(".It Cm "):].split(", Cm ")]
                for c in current:
                    entries[c] = (set(), set())
            elif depth == 2 and line.startswith(".It Li ") and current:
                m = re.match(r"\.It Li (.*?) Pq (.*)$", line)
                if not m:
                    report(False, f"{os.path.basename(page)}: member line has a type: {line}")
                    continue
                names = [n.strip() for n in m.group(1).split(" , ")]
                for c in current:
                    entries[c][0].update(names)
                    if "optional" in m.group(2):
                        entries[c][1].update(names)
    return entries


DOCS = {}
for name in sorted(os.listdir(MAN)):
    if re.fullmatch(r"hsmctl(-[a-z]+)?\.1", name):
        page = os.path.join(MAN, name)
        entries = documented(page)
        DOCS.update(entries)
        text = open(page, encoding="utf-8").read()
        group = name[len("hsmctl-"):-2] if name != "hsmctl.1" else None
        subs = re.findall(rf"^\.Ss ({group} [a-z-]+)$", text, re.M) if group else []
        if group in ("doctor", "clone"):
            subs = [group]
        if group == "completion":
            continue  # prints a shell script, also with --json (hsmctl-completion(1))
        for s in subs:
            report(s in entries, f"{name}: JSON OUTPUT has an entry for '{s}'")

HEX = re.compile(r"^[0-9a-f]*$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HEX_KEYS = re.compile(r"(sha256|fingerprint|^kcv|^recorded_kcv|^head|^transcript_head|^key_id|^id)$")
checked = set()


def check(sub, argv, want_exit=0, stdin=None):
    """Runs `hsmctl --json ARGV` and compares its object's members with the docs of SUB."""
    p = subprocess.run([BIN, "--json"] + argv, cwd=WORK, capture_output=True, text=True,
                       input=stdin)
    if p.returncode != want_exit:
        report(False, f"{sub}: hsmctl {' '.join(argv)} exits {want_exit}",
               f"exit {p.returncode}: {p.stderr.strip()}")
        return None
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        report(False, f"{sub}: one JSON document on stdout", f"{e}: {p.stdout[:200]!r}")
        return None
    if sub not in DOCS:
        report(False, f"{sub}: documented in a JSON OUTPUT section")
        return doc
    every, optional = DOCS[sub]
    got = set(doc)
    missing, extra = (every - optional) - got, got - every
    report(not missing and not extra, f"{sub}: members {' '.join(sorted(got))} as documented",
           f"documented but absent: {sorted(missing)}; printed but undocumented: {sorted(extra)}")
    checked.add(sub)
    bad = [f"{k}={v!r}" for k, v in doc.items() if isinstance(v, str) and (
        (HEX_KEYS.search(k) and not HEX.match(v)) or
        (k in ("created", "master_created", "not_before", "not_after") and not TIME.match(v)))]
    if bad:
        report(False, f"{sub}: hex and time values as hsmctl(1) promises", ", ".join(bad))
    return doc


def run(argv):
    p = subprocess.run([BIN] + argv, cwd=WORK, capture_output=True, text=True)
    if p.returncode != 0:
        report(False, f"setup: hsmctl {' '.join(argv)}", p.stderr.strip())
    return p


os.environ.update(J_SO="87654321", J_PIN="12345678", J_PW="correct horse", J_PW2="battery staple")
tok = ["--token", "json-a", "--pin-source", "env:J_PIN"]
shares = os.path.join(WORK, "shares")
os.mkdir(shares, 0o700)
check("token init", ["token", "init", "--label", "json-a", "--so-pin-source", "env:J_SO",
                     "--pin-source", "env:J_PIN"])
check("token list", ["token", "list"])
check("token info", ["--token", "json-a", "token", "info"])
check("token objects", tok + ["token", "objects"])
check("master init", tok + ["master", "init", "--threshold", "2", "--custodians", "alice,bob,carol",
                            "--shares-out", shares])
quorum = os.path.join(WORK, "quorum.txt")
with open(quorum, "w") as f:
    for c in ("alice", "bob"):
        f.write(open(os.path.join(shares, c + ".share")).read())
os.chmod(quorum, 0o600)
check("master status", tok + ["master", "status"])
check("master verify-share", tok + ["master", "verify-share", "--share-file",
                                    os.path.join(shares, "carol.share")])
check("key generate", tok + ["key", "generate", "root", "--algo", "ec-p256", "--purpose", "ca"])
check("key list", tok + ["key", "list"])
check("key show", tok + ["key", "show", "root"])
check("key export-public", tok + ["key", "export-public", "root"])
with open(os.path.join(WORK, "payload"), "w") as f:
    f.write("json check payload\n")
check("sign file", tok + ["sign", "file", "--key", "root", "--in", "payload", "--out", "p.sig"])
check("sign csr", tok + ["sign", "csr", "--key", "root", "--subject", "CN=JSON Root",
                         "--out", "root.csr"])
check("sign cert", tok + ["sign", "cert", "--key", "root", "--self-signed", "--subject",
                          "CN=JSON Root", "--days", "30", "--out", "root.pem"])
check("sign crl", tok + ["sign", "crl", "--key", "root", "--issuer-cert", "root.pem",
                         "--next-update", "7", "--out", "root.crl"])
u = ["--password-source", "env:J_PW"]
check("user create", tok + ["user", "create", "alice", "--kdf-profile", "min"] + u)
for extra in ("bob", "carl"):
    run(tok + ["user", "create", extra, "--kdf-profile", "min", "--password-source", "env:J_PW"])
check("user list", tok + ["user", "list"])
check("user show", tok + ["user", "show", "alice"])
check("user sign", tok + ["user", "sign", "alice", "--in", "payload", "--out", "u.sig"] + u)
check("user export-public", tok + ["user", "export-public", "alice"])
check("user passwd", tok + ["user", "passwd", "alice", "--new-password-source", "env:J_PW2",
                            "--kdf-profile", "min"] + u)
check("user unlock", tok + ["user", "unlock", "alice"])
check("user otp-enroll", tok + ["user", "otp-enroll", "bob", "--show-secret"] + u)
check("group create", tok + ["group", "create", "ops", "--members", "alice,bob"])
check("group show", tok + ["group", "show", "ops"])
check("group list", tok + ["group", "list"])
check("group sign", tok + ["group", "sign", "ops", "--as", "alice", "--in", "payload",
                           "--out", "g.sig", "--password-source", "env:J_PW2"])
check("group export-public", tok + ["group", "export-public", "ops"])
check("group remove", tok + ["group", "remove", "ops", "bob"])
check("group add", tok + ["group", "add", "ops", "bob", "--as", "alice",
                          "--password-source", "env:J_PW2"])
run(tok + ["group", "create", "vault", "--purpose", "encrypt", "--members", "alice"])
check("data encrypt", tok + ["data", "encrypt", "--group", "vault", "--in", "payload", "--out",
                             "payload.enc", "--context", "k=v"])
check("data decrypt", tok + ["data", "decrypt", "--as", "alice", "--in", "payload.enc", "--out",
                             "payload.dec", "--password-source", "env:J_PW2"])
check("dek new", tok + ["dek", "new", "--group", "vault", "--out", "v.dek"])
check("dek open", tok + ["dek", "open", "--as", "alice", "--in", "v.dek",
                         "--password-source", "env:J_PW2"])
check("user delete", tok + ["--yes", "user", "delete", "carl"])
check("backup create", tok + ["backup", "create", "--out", "b.hsmbk", "--shares-file", quorum])
check("backup verify", tok + ["backup", "verify", "b.hsmbk", "--shares-file", quorum])
os.mkdir(os.path.join(WORK, "shares2"), 0o700)
check("master reshare", tok + ["master", "reshare", "--threshold", "2", "--custodians",
                               "alice,bob,dave", "--shares-file", quorum, "--shares-out",
                               os.path.join(WORK, "shares2")])
quorum2 = os.path.join(WORK, "quorum2.txt")
with open(quorum2, "w") as f:
    for c in ("alice", "dave"):
        f.write(open(os.path.join(WORK, "shares2", c + ".share")).read())
os.chmod(quorum2, 0o600)
run(["--dir", os.path.join(WORK, "ws-b"), "token", "init", "--label", "json-b",
     "--so-pin-source", "env:J_SO", "--pin-source", "env:J_PIN"])
check("clone", ["--pin-source", "env:J_PIN", "clone", "--from-token", "json-a", "--to-token",
                "json-b", "--shares-file", quorum2])
rows = os.path.join(WORK, "staff.csv")
with open(rows, "w") as f:
    f.write("name,password\nerin,password-of-erin-1\nfrank,password-of-frank-1\n")
os.chmod(rows, 0o600)
p = subprocess.run([BIN, "--json"] + tok + ["user", "provision", "--from", rows, "--kdf-profile",
                                            "min"], cwd=WORK, capture_output=True, text=True)
lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()] if p.returncode == 0 else []
every, optional = DOCS.get("user provision", (set(), set()))
ok_rows = len(lines) == 3 and set(lines[-1]) == {"summary"} and all(
    (every - optional) <= set(r) <= every for r in lines[:-1])
report(ok_rows, "user provision: JSON Lines of documented row members, then a summary",
       f"exit {p.returncode}: {p.stderr.strip()} {lines}")
if ok_rows:
    checked.add("user provision")
check("transcript note", tok + ["transcript", "note", "--witness", "carol", "json check"])
check("transcript head", ["transcript", "head"])
p = subprocess.run([BIN, "--json", "transcript", "show"], cwd=WORK, capture_output=True, text=True)
lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()] if p.returncode == 0 else []
every, optional = DOCS.get("transcript show", (set(), set()))
ok_lines = len(lines) > 0 and all((every - optional) <= set(e) <= every for e in lines)
report(ok_lines, "transcript show: JSON Lines of documented entry members",
       f"exit {p.returncode}: {p.stderr.strip()} {lines[:2]}")
if ok_lines:
    checked.add("transcript show")
check("transcript export-key", ["transcript", "export-key"])
check("transcript verify", ["transcript", "verify"])
cp = check("transcript checkpoint", tok + ["transcript", "checkpoint", "--out", "cp.txt"])
check("transcript verify", ["transcript", "verify", "--checkpoint", "cp.txt"])
check("transcript prove", ["transcript", "prove", "--seq", "1"])
if cp:
    check("transcript prove", ["transcript", "prove", "--consistency", "1", str(cp["size"])])
check("transcript publish", ["transcript", "publish", "tiles"])
with open(os.path.join(WORK, "transcript.jsonl"), "w") as f:
    f.write("{}\n")
check("transcript verify", ["transcript", "verify", "transcript.jsonl"], want_exit=4)
check("doctor", tok + ["doctor"])
example = check("ceremony plan-example", ["ceremony", "plan-example"])
if example:
    with open(os.path.join(WORK, "plan.toml"), "w") as f:
        f.write(example["plan"])
    check("ceremony validate", ["ceremony", "validate", "plan.toml"])

every = {s for s in DOCS}
print(f"checked {len(checked)} of {len(every)} documented subcommands; not run here: "
      + " ".join(sorted(every - checked)))
print(f"{results['ok']} passed, {results['fail']} failed")
sys.exit(1 if results["fail"] else 0)
