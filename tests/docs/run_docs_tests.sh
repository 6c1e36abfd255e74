#!/usr/bin/env bash
# Docs test: the man pages lint clean, document exactly the subcommands and options that
# `hsmctl ... --help` shows, scripts/verify-transcript (written from hsmctl-transcript(5)
# alone) agrees with hsmctl on a real transcript, and a master ceremony does what
# hsmctl-master(1) says (the endorsed key change to the escrowed key, the share commitments and
# the KCV, recomputed from the share files by tests/docs/master_check.py), and each subcommand's
# --json object has the members its man page's JSON OUTPUT section lists (tests/docs/json_check.py).
# Never touches a real token: it makes its own throwaway SoftHSM sandboxes and removes them.
#   tests/docs/run_docs_tests.sh PATH/TO/hsmctl
# Groups named in HSMCTL_DOCS_SKIP_GROUPS (space separated; default none) are not checked in
# (b): work in progress that has no man page yet. Set it empty to check every group.
set -u
bin=${1:?usage: run_docs_tests.sh PATH/TO/hsmctl}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
root=$(cd "$(dirname "$0")/../.." && pwd)
man=$root/man
verifier=$root/scripts/verify-transcript
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
not_ok() {
  failed=$((failed + 1))
  echo "FAIL $1"
  if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | sed 's/^/       /'; fi
}
# expect DESCRIPTION WANTED-STATUS COMMAND...: runs COMMAND, checks its exit status.
expect() {
  local what=$1 want=$2 out rc
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$what"; else not_ok "$what (exit $rc, want $want)" "$out"; fi
}

# --- (a) mandoc lint: nothing at level warning or above --------------------------------
if ! command -v mandoc >/dev/null; then
  not_ok "mandoc is installed (apt-get install mandoc)"
else
  for page in "$man"/*.[15]; do
    # mandoc also prints notes about the system's mandoc.db; those are not about the page.
    out=$(mandoc -T lint -W warning "$page" 2>&1 | grep -v 'mandoc.db')
    if [ -z "$out" ]; then ok "lint $(basename "$page")"; else not_ok "lint $(basename "$page")" "$out"; fi
  done
fi

# --- (b) every subcommand and option in --help is in the man pages ---------------------
# section NAME < help: the lines of one "Name:" section of CLI11's help, up to a blank line.
section() { awk -v s="$1:" '$0 == s { on = 1; next } on && /^$/ { exit } on { print }'; }
# first_column < lines: "  --label L REQUIRED   label ..." -> "--label L REQUIRED". A line
# indented further is the wrapped description of the option above it, not an option.
first_column() { grep -E '^ {1,8}[^ ]' | sed -E 's/^ +//; s/  .*//'; }
# block PAGE HEADING: the source lines of one ".Ss HEADING" up to the next .Ss or .Sh.
block() { awk -v h=".Ss $2" '$0 == h { on = 1; next } on && /^\.S[sh] / { exit } on { print }' "$1"; }
# item_for "--label L REQUIRED" -> the mdoc list item that must document it: ".It Fl -label Ar L".
# An option of several values shows them before CLI11's count: "--consistency A B x 2" ->
# ".It Fl -consistency Ar A B". An optional value "--receipt [FILE]" -> ".It Fl -receipt Op Ar FILE".
item_for() {
  local name type rest
  read -r name rest <<<"$1"
  rest=${rest%%Excludes:*}
  rest=${rest%%Needs:*}
  if [[ $rest =~ ^(.*[^ ])\ x\ [0-9]+ ]]; then type=${BASH_REMATCH[1]}
  else read -r type _ <<<"$rest"; fi
  [ "$type" = REQUIRED ] && type=""
  # "ALGO=ec-p256": CLI11 shows the default after the type name (a value, in lower case);
  # "CUSTODIAN=KEYFILE" is a type name of its own.
  if [[ $type == *=* && ${type#*=} =~ [a-z0-9] ]]; then type=${type%%=*}; fi
  case $name in
    -h,--help) echo ".It Fl h , Fl -help" ;;
    --*) if [[ $type =~ ^\[(.*)\]$ ]]; then  # an optional value: "[FILE]" -> "Op Ar FILE"
           echo ".It Fl ${name#-} Op Ar ${BASH_REMATCH[1]}"
         else echo ".It Fl ${name#-}${type:+ Ar $type}"; fi ;;
    *) echo ".It Ar $name" ;;  # a positional: "FILE TEXT" -> FILE
  esac
}

top_help=$("$bin" --help)
all_options=$(printf '%s\n' "$top_help" | section Options | first_column | grep -oE -- '--[a-z-]+')
for opt in $(printf '%s\n' "$top_help" | section Options | first_column | tr ' ' '~'); do
  item=$(item_for "${opt//\~/ }")
  if grep -qxF -- "$item" "$man/hsmctl.1"; then ok "hsmctl.1 documents '$item'"
  else not_ok "hsmctl.1 documents global option '${opt//\~/ }' as '$item'"; fi
done

groups=$(printf '%s\n' "$top_help" | section Subcommands | awk '{ print $1 }')
# Groups in --help that are someone's unfinished work and have no man page yet.
skip_groups=${HSMCTL_DOCS_SKIP_GROUPS-}
for g in $groups; do
  case " $skip_groups " in
    *" $g "*) echo "skip group '$g' (in HSMCTL_DOCS_SKIP_GROUPS)"; continue ;;
  esac
  page=$man/hsmctl-$g.1
  if grep -qxF ".It Cm $g" "$man/hsmctl.1" && grep -qxF ".Xr hsmctl-$g 1 ." "$man/hsmctl.1"; then
    ok "hsmctl.1 lists group '$g' with a reference to hsmctl-$g(1)"
  else
    not_ok "hsmctl.1 lists group '$g' (.It Cm $g) with a reference to hsmctl-$g(1)"
  fi
  if [ ! -f "$page" ]; then not_ok "man page for group '$g' exists ($page)"; continue; fi
  subs=$("$bin" "$g" --help | section Subcommands | awk '{ print $1 }')
  group_options=$all_options
  for s in $subs; do
    group_options+=$'\n'$("$bin" "$g" "$s" --help | section Options | first_column |
                          grep -oE -- '--[a-z-]+')
  done
  for s in $subs; do
    text=$(block "$page" "$g $s")
    if [ -z "$text" ] || ! grep -qxF ".Cm $g $s" "$page"; then
      not_ok "hsmctl-$g.1 has '$g $s' in SYNOPSIS (.Cm $g $s) and a section (.Ss $g $s)"
      continue
    fi
    ok "hsmctl-$g.1 documents subcommand '$g $s'"
    help=$("$bin" "$g" "$s" --help)
    mine=$( { printf '%s\n' "$help" | section Options; printf '%s\n' "$help" | section Positionals; } |
            first_column | grep -vxF -- '-h,--help')
    while IFS= read -r opt; do
      [ -z "$opt" ] && continue
      item=$(item_for "$opt")
      if printf '%s\n' "$text" | grep -qxF -- "$item"; then ok "hsmctl-$g.1 '$g $s' documents '$item'"
      else not_ok "hsmctl-$g.1 '$g $s' documents '$opt' as '$item'"; fi
    done <<<"$mine"
    # Nothing documented that does not exist: list items are this subcommand's options, and
    # every option named anywhere in the section exists in hsmctl.
    own=$(printf '%s\n' "$mine" | grep -oE -- '^--[a-z-]+')
    for o in $(printf '%s\n' "$text" | sed -nE 's/^\.It Fl (-[a-z-]+).*/-\1/p'); do
      printf '%s\n' "$own" | grep -qxF -- "$o" ||
        not_ok "hsmctl-$g.1 '$g $s' lists '$o', which '$g $s --help' does not show"
    done
    for o in $(printf '%s\n' "$text" | grep -oE 'Fl -[a-z-]+' | sed 's/^Fl /-/' | sort -u); do
      printf '%s\n' "$group_options" | grep -qxF -- "$o" ||
        not_ok "hsmctl-$g.1 '$g $s' names '$o', which no --help shows"
    done
  done
  for s in $(sed -nE "s/^\.Ss $g ([a-z-]+)$/\1/p" "$page"); do
    printf '%s\n' "$subs" | grep -qxF "$s" ||
      not_ok "hsmctl-$g.1 documents '$g $s', which '$g --help' does not list"
  done
done

# --- (c) scripts/verify-transcript against a real transcript ---------------------------
if ! /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
  not_ok "python3-cryptography is installed (apt-get install python3-cryptography)"
else
  tmp=$(mktemp -d /tmp/hsmctl-docs-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  unset HSMCTL_TOKEN HSMCTL_PIN_SOURCE HSMCTL_MODULE HSMCTL_DIR
  eval "$("$root/scripts/sandbox" "$tmp/sandbox")"
  cd "$tmp" || exit 1
  export DOCS_SO_PIN=87654321 DOCS_PIN=12345678 DOCS_WRONG_PIN=99999999 USER=docs-test
  t=$HSMCTL_DIR/transcript.jsonl

  expect "token init records a ceremony" 0 \
    "$bin" token init --label docs-a --so-pin-source env:DOCS_SO_PIN --pin-source env:DOCS_PIN
  expect "a wrong PIN fails with exit 3" 3 \
    "$bin" --token docs-a --pin-source env:DOCS_WRONG_PIN transcript note --witness w "never"
  expect "a witness note is recorded" 0 \
    "$bin" --token docs-a --pin-source env:DOCS_PIN transcript note --witness carol "docs note one"
  grep -q '"event":"ceremony.unsigned-failure"' "$t" &&
    ok "the wrong PIN is in the transcript as ceremony.unsigned-failure" ||
    not_ok "the wrong PIN is in the transcript as ceremony.unsigned-failure"

  out=$("$verifier" "$t" 2>/dev/null)
  rc=$?
  head=$("$bin" --json transcript head | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])')
  entries=$(wc -l <"$t")
  if [ "$rc" -eq 0 ] && [ "$out" = "OK $entries entries, head $head" ]; then
    ok "verify-transcript: '$out' agrees with hsmctl transcript head"
  else
    not_ok "verify-transcript accepts the real transcript (exit $rc)" "$out; hsmctl head $head"
  fi
  "$bin" transcript export-key >key.pem
  expect "verify-transcript --pubkey (from hsmctl transcript export-key)" 0 \
    "$verifier" --pubkey key.pem "$t"
  expect "verify-transcript --pubkey --head HEAD" 0 "$verifier" --pubkey key.pem --head "$head" "$t"
  earlier=$(sed -n 2p "$t" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
  expect "verify-transcript --head of an earlier entry fails with exit 4" 4 \
    "$verifier" --head "$earlier" "$t"
  openssl ecparam -name prime256v1 -genkey -noout -out other.key 2>/dev/null &&
    openssl ec -in other.key -pubout -out other.pem 2>/dev/null
  expect "verify-transcript --pubkey of another key fails with exit 4" 4 \
    "$verifier" --pubkey other.pem "$t"

  # One byte flipped in a data field: the note's text.
  sed 's/"text":"docs note one"/"text":"docs note onf"/' "$t" >tampered.jsonl
  seq=$(grep -n '"text":"docs note onf"' tampered.jsonl | cut -d: -f1)
  if [ -n "$seq" ] && ! cmp -s "$t" tampered.jsonl; then
    seq=$((seq - 1))
    out=$("$verifier" tampered.jsonl 2>/dev/null)
    rc=$?
    if [ "$rc" -eq 4 ] && [ "${out%%:*}" = "FAIL seq $seq" ]; then ok "tampered data: '$out'"
    else not_ok "tampered data fails at seq $seq with exit 4 (exit $rc)" "$out"; fi
    expect "hsmctl transcript verify agrees on the tampered copy" 4 \
      "$bin" transcript verify tampered.jsonl
  else
    not_ok "made a tampered copy (the note was not found in the transcript)"
  fi
  head -c -1 "$t" >torn.jsonl
  expect "a torn last line fails with exit 4" 4 "$verifier" torn.jsonl
  sed 2d "$t" >deleted.jsonl
  expect "a deleted entry fails with exit 4" 4 "$verifier" deleted.jsonl

  # The r||s -> DER recipe of hsmctl-transcript(5) EXAMPLES, with stock openssl.
  line=$(sed -n 3p "$t")
  field() { printf '%s' "$line" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
  field hash | tr -d '\n' | tr a-f A-F | basenc --base16 -d >msg.bin
  rs=$(field sig | base64 -d | od -An -v -tx1 | tr -d ' \n')
  printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' \
    "$(printf '%s' "$rs" | cut -c1-64)" "$(printf '%s' "$rs" | cut -c65-128)" >sig.cnf
  openssl asn1parse -genconf sig.cnf -noout -out sig.der >/dev/null 2>&1
  expect "openssl dgst -sha256 -verify checks one entry's signature (man page recipe)" 0 \
    openssl dgst -sha256 -verify key.pem -signature sig.der msg.bin

  # A ceremony on a second token: an unendorsed key change.
  expect "token init of a second token" 0 \
    "$bin" token init --label docs-b --so-pin-source env:DOCS_SO_PIN --pin-source env:DOCS_PIN
  expect "verify-transcript accepts an unendorsed key change" 0 "$verifier" "$t"
  expect "verify-transcript --strict refuses it with exit 4" 4 "$verifier" --strict "$t"
  expect "hsmctl transcript verify --strict agrees" 4 "$bin" transcript verify --strict
  expect "verify-transcript --pubkey still checks the opening key" 0 \
    "$verifier" --pubkey key.pem "$t"

  # --- (d) master init: the escrowed key and the claims of hsmctl-master(1) -----------------
  # A token with a workspace of its own, so its transcript opens with its provisional key.
  mw=$tmp/master-ws
  mt=$mw/transcript.jsonl
  shares=$tmp/shares
  mkdir -m 700 "$shares"
  wordlist=$root/tests/vectors/slip39/wordlist.txt
  check=(/usr/bin/python3 "$root/tests/docs/master_check.py" "$wordlist")
  m=(--dir "$mw" --token docs-m --pin-source env:DOCS_PIN)
  # jq PATH < json: one value, for these checks (Python, as jq need not be installed).
  jget() { /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if k.isdigit() else v[k]
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"; }
  # entry_of EVENT: the first entry with that event, as JSON.
  entry_of() { grep -m1 "\"event\":\"$1\"" "$mt"; }

  expect "token init of a token for the master, in its own workspace" 0 \
    "$bin" --dir "$mw" token init --label docs-m --so-pin-source env:DOCS_SO_PIN \
    --pin-source env:DOCS_PIN
  "$bin" --dir "$mw" transcript export-key --opening >opening.pem
  expect "master init --threshold 2 --custodians alice,bob,carol --shares-out DIR" 0 \
    "$bin" "${m[@]}" master init --threshold 2 --custodians alice,bob,carol --shares-out "$shares"
  modes=$(cd "$shares" && stat -c '%n %a' alice.share bob.share carol.share 2>&1 | tr '\n' ' ')
  if [ "$modes" = "alice.share 600 bob.share 600 carol.share 600 " ]; then
    ok "share files DIR/<custodian>.share, mode 0600"
  else not_ok "share files DIR/<custodian>.share, mode 0600" "$modes"; fi

  out=$("$verifier" --strict "$mt" 2>notes.txt)
  rc=$?
  head=$("$bin" --dir "$mw" --json transcript head | jget head)
  entries=$(wc -l <"$mt")
  if [ "$rc" -eq 0 ] && [ "$out" = "OK $entries entries, head $head" ]; then
    ok "verify-transcript --strict accepts the master init transcript: '$out'"
  else
    not_ok "verify-transcript --strict accepts the master init transcript (exit $rc)" \
      "$out; hsmctl head $head; $(cat notes.txt)"
  fi
  # The key change: one transcript.key, kind escrowed, endorsed, right after master.init, with
  # ceremony.end after it; its key is what export-key prints now.
  key=$(entry_of transcript.key)
  seq=$(printf '%s' "$key" | jget seq)
  events=$(/usr/bin/python3 -c 'import json,sys
print(" ".join(json.loads(l)["event"] for l in open(sys.argv[1])))' "$mt")
  want_events="transcript.open ceremony.begin token.init ceremony.end ceremony.begin master.init"
  want_events+=" transcript.key ceremony.end"
  if [ "$events" = "$want_events" ] && [ "$(printf '%s' "$key" | jget data.kind)" = escrowed ] &&
     [ "$(printf '%s' "$key" | jget data.endorsed)" = True ]; then
    ok "master init adds master.init, then transcript.key kind escrowed, endorsed, then ceremony.end"
  else
    not_ok "master init adds master.init, then an endorsed escrowed transcript.key" \
      "events: $events; key entry: $key"
  fi
  open_fp=$("$bin" --dir "$mw" --json transcript export-key --opening | jget fingerprint)
  new_fp=$("$bin" --dir "$mw" --json transcript export-key | jget fingerprint)
  if grep -qxF "verify-transcript: seq $seq: endorsed key change $open_fp -> $new_fp" notes.txt &&
     [ "$new_fp" = "$(printf '%s' "$key" | jget data.fingerprint)" ] && [ "$open_fp" != "$new_fp" ]; then
    ok "verify-transcript reports the endorsed key change at seq $seq to the key export-key prints"
  else
    not_ok "verify-transcript reports the endorsed key change at seq $seq" \
      "$(cat notes.txt); opening $open_fp, current $new_fp"
  fi
  expect "verify-transcript --strict --pubkey (export-key --opening) --head" 0 \
    "$verifier" --strict --pubkey opening.pem --head "$head" "$mt"
  "$bin" --dir "$mw" transcript export-key --opening | cmp -s - opening.pem &&
    ok "export-key --opening still prints the opening key after the change" ||
    not_ok "export-key --opening still prints the opening key after the change"
  "$bin" --dir "$mw" transcript export-key >current.pem
  expect "verify-transcript --pubkey of the current (escrowed) key fails with exit 4" 4 \
    "$verifier" --pubkey current.pem "$mt"
  expect "hsmctl transcript verify --strict --pubkey agrees" 0 \
    "$bin" --dir "$mw" transcript verify --strict --pubkey opening.pem --head "$head"

  # Commitments and KCV, recomputed from the share files by the formulas of hsmctl-master(1).
  init=$(entry_of master.init)
  if [ ! -f "$wordlist" ]; then
    not_ok "the SLIP-0039 wordlist is at $wordlist"
  else
    recorded=$(printf '%s' "$init" | /usr/bin/python3 -c 'import json,sys
for c in json.load(sys.stdin)["data"]["custodians"]: print(c["name"], c["commitment"])')
    computed=$("${check[@]}" commitments "$shares"/alice.share "$shares"/bob.share \
               "$shares"/carol.share 2>&1)
    if [ -n "$recorded" ] && [ "$computed" = "$recorded" ]; then
      ok "share commitments = SHA-256(domain || id || group || member || value), as recorded"
    else not_ok "share commitments match master.init" "computed: $computed; recorded: $recorded"; fi
    header=$("${check[@]}" header "$shares"/alice.share 2>&1)
    want="$(printf '%s' "$init" | jget data.identifier) 1 1 2"
    if [ "$header" = "$want" ]; then ok "shares: identifier of master.init, extendable, exponent 1, threshold 2"
    else not_ok "share header (identifier extendable exponent threshold)" "$header, want $want"; fi
    kcv=$(printf '%s' "$init" | jget data.kcv)
    status_kcv=$("$bin" "${m[@]}" --json master status | jget kcv)
    for pair in "alice bob" "bob carol" "carol alice"; do
      set -- $pair
      got=$("${check[@]}" kcv "$shares/$1.share" "$shares/$2.share" 2>&1)
      if [ "$got" = "$kcv" ] && [ "$got" = "$status_kcv" ]; then
        ok "SLIP-0039 ($1, $2; empty passphrase) -> S; KCV of HMAC-SHA256(S, wrap label) = $kcv"
      else not_ok "KCV from the shares of $1 and $2" "$got; master.init $kcv; status $status_kcv"; fi
    done
  fi

  expect "master verify-share --share-file: a good share" 0 \
    "$bin" "${m[@]}" master verify-share --share-file "$shares/bob.share"
  awk '{ t = $10; $10 = $11; $11 = t; print }' "$shares/bob.share" >swapped.share
  chmod 600 swapped.share
  expect "master verify-share: two words swapped fails with exit 4" 4 \
    "$bin" "${m[@]}" master verify-share --share-file swapped.share
  expect "master init again on the same token fails with exit 7" 7 \
    "$bin" "${m[@]}" master init --threshold 2 --custodians x,y --shares-out "$tmp"

  # Restore onto a new token (initialised elsewhere): the same escrowed key signs on.
  expect "token init of a new token, in a scratch workspace" 0 \
    "$bin" --dir "$tmp/scratch" token init --label docs-n --so-pin-source env:DOCS_SO_PIN \
    --pin-source env:DOCS_PIN
  n=(--dir "$mw" --token docs-n --pin-source env:DOCS_PIN)
  cat "$shares/alice.share" >one.txt
  cat "$shares/alice.share" "$shares/alice.share" >twice.txt
  cat "$shares/carol.share" "$shares/alice.share" >quorum.txt
  chmod 600 one.txt twice.txt quorum.txt
  expect "master restore with one share of 2 fails with exit 5" 5 \
    "$bin" "${n[@]}" master restore --shares-file one.txt
  expect "master restore with a share given twice fails with exit 4" 4 \
    "$bin" "${n[@]}" master restore --shares-file twice.txt
  expect "master restore onto the new token" 0 \
    "$bin" "${n[@]}" master restore --shares-file quorum.txt
  expect "master restore onto a token that holds the master fails with exit 7" 7 \
    "$bin" "${n[@]}" master restore --shares-file quorum.txt
  expect "a note on the new token" 0 \
    "$bin" "${n[@]}" transcript note --witness dave "restored"
  expect "verify-transcript --strict --pubkey accepts the transcript after the restore" 0 \
    "$verifier" --strict --pubkey opening.pem "$mt"
  changes=$(grep -c '"event":"transcript.key"' "$mt")
  restored=$(entry_of master.restore | jget data.transcript_key_restored)
  if [ "$changes" -eq 1 ] && [ "$restored" = True ] &&
     [ "$("$bin" --dir "$mw" --json transcript export-key | jget fingerprint)" = "$new_fp" ]; then
    ok "after the restore the escrowed key signs on: no new key change"
  else not_ok "no new key change after the restore" "key changes: $changes; restored: $restored"; fi

  # --- (e) key generate and sign file: what hsmctl-key(1) and hsmctl-sign(1) say ----------
  printf 'docs payload\n' >payload
  for spec in "ec-p256 -sha256" "ec-p384 -sha384" "rsa-3072 -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32"; do
    set -- $spec
    a=$1
    shift
    expect "key generate --algo $a (escrowed under MK-wrap)" 0 \
      "$bin" "${m[@]}" key generate "docs-$a" --algo "$a" --purpose code
    expect "key export-public --out ($a)" 0 "$bin" "${m[@]}" key export-public "docs-$a" --out "$a.pem"
    expect "sign file with $a" 0 \
      "$bin" "${m[@]}" sign file --key "docs-$a" --in payload --out "$a.sig"
    expect "openssl dgst $* -verify checks the $a signature (man page recipe)" 0 \
      openssl dgst "$@" -verify "$a.pem" -signature "$a.sig" payload
  done
  expect "key generate --algo ed25519 without --no-backup fails with exit 6" 6 \
    "$bin" "${m[@]}" key generate docs-ed --algo ed25519
  expect "key generate --algo ed25519 --no-backup" 0 \
    "$bin" "${m[@]}" key generate docs-ed --algo ed25519 --no-backup
  "$bin" "${m[@]}" key export-public docs-ed >ed.pem
  expect "sign file with ed25519" 0 "$bin" "${m[@]}" sign file --key docs-ed --in payload --out ed.sig
  [ "$(wc -c <ed.sig)" -eq 64 ] && ok "an Ed25519 signature is 64 raw bytes" ||
    not_ok "an Ed25519 signature is 64 raw bytes"
  expect "openssl pkeyutl -verify -rawin checks the Ed25519 signature (man page recipe)" 0 \
    openssl pkeyutl -verify -pubin -inkey ed.pem -rawin -in payload -sigfile ed.sig
  expect "key generate --quorum with the custodians' shares" 0 \
    "$bin" "${m[@]}" key generate docs-q --quorum 2 --shares-file quorum.txt
  expect "sign file with a quorum key and one share fails with exit 5" 5 \
    "$bin" "${m[@]}" sign file --key docs-q --in payload --out q.sig --shares-file one.txt
  expect "sign file with a quorum key and a quorum of shares" 0 \
    "$bin" "${m[@]}" sign file --key docs-q --in payload --out q.sig --shares-file quorum.txt
  "$bin" "${m[@]}" key export-public docs-q >q.pem
  expect "openssl checks the quorum key's signature" 0 \
    openssl dgst -sha256 -verify q.pem -signature q.sig payload
  expect "sign file never overwrites (exit 7)" 7 \
    "$bin" "${m[@]}" sign file --key docs-ec-p256 --in payload --out ec-p256.sig
  expect "key export-public --out never overwrites (exit 7)" 7 \
    "$bin" "${m[@]}" key export-public docs-ec-p256 --out ec-p256.pem
  expect "key generate of an existing label fails with exit 7" 7 \
    "$bin" "${m[@]}" key generate docs-ec-p256
  entry=$(grep '"event":"sign.file"' "$mt" | grep -m1 '"key":"docs-ec-p256"')
  want="docs-ec-p256 ec-p256 payload $(sha256sum payload | cut -c1-64) $(sha256sum ec-p256.sig | cut -c1-64)"
  got=$(printf '%s' "$entry" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]
print(d["key"], d["algorithm"], d["input"], d["input_sha256"], d["signature_sha256"])' 2>&1)
  if [ "$got" = "$want" ]; then ok "sign.file records key, algorithm, input, input_sha256, signature_sha256"
  else not_ok "sign.file entry" "got: $got; want: $want"; fi
  entry=$(grep '"event":"key.generate"' "$mt" | grep -m1 '"label":"docs-q"')
  got=$(printf '%s' "$entry" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]
print(" ".join(sorted(d)), d["escrow"], d["quorum"])' 2>&1)
  fp=$("$bin" "${m[@]}" --json key show docs-q | jget fingerprint)
  if [ "$got" = "algorithm escrow fingerprint key_id label purpose quorum state qk 2" ] &&
     printf '%s' "$entry" | grep -q "\"fingerprint\":\"$fp\""; then
    ok "key.generate records label, key_id, algorithm, purpose, quorum, escrow, fingerprint, state"
  else not_ok "key.generate entry" "$got; key show fingerprint $fp"; fi
  expect "verify-transcript --strict accepts the transcript after key and sign ceremonies" 0 \
    "$verifier" --strict --pubkey opening.pem "$mt"
fi

# --- (f) --json output has the members the JSON OUTPUT sections document -----------------
# tests/docs/json_check.py runs a small ceremony on its own throwaway token and compares each
# subcommand's JSON object with its man page; its lines are counted here.
jtmp=$(mktemp -d /tmp/hsmctl-docs-json-XXXXXX)
mkdir -m 700 "$jtmp/work"
jout=$( (unset HSMCTL_TOKEN HSMCTL_PIN_SOURCE HSMCTL_MODULE HSMCTL_DIR
         eval "$("$root/scripts/sandbox" "$jtmp/sandbox")" &&
         /usr/bin/python3 "$root/tests/docs/json_check.py" "$bin" "$man" "$jtmp/work") 2>&1)
jrc=$?
rm -rf "$jtmp"
printf '%s\n' "$jout"
passed=$((passed + $(printf '%s\n' "$jout" | grep -c '^ok ')))
failed=$((failed + $(printf '%s\n' "$jout" | grep -c '^FAIL ')))
if [ "$jrc" -ne 0 ] && ! printf '%s\n' "$jout" | grep -q '^FAIL '; then
  not_ok "tests/docs/json_check.py ran (exit $jrc)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
