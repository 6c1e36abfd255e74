#!/usr/bin/env bash
# Interop test of `hsmctl master` against an independent SLIP-0039 implementation (slip39.py), in
# a throwaway SoftHSM sandbox; it must never touch a real token or workspace.
#   tests/interop/run_interop_tests.sh HSMCTL_BINARY     prints "N passed, M failed"; exit 1 on a failure
set -uo pipefail
umask 077

HSMCTL=${1:?usage: run_interop_tests.sh HSMCTL_BINARY}
case $HSMCTL in /*) ;; *) HSMCTL=$PWD/$HSMCTL ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VECTORS=$ROOT/tests/vectors/slip39/vectors.json
export SLIP39_WORDLIST=$ROOT/tests/vectors/slip39/wordlist.txt
PY=(python3 -S -B)   # stdlib only (-S: faster start-up); -B: no __pycache__ in the source tree
SLIP39=("${PY[@]}" "$HERE/slip39.py")

for tool in python3 softhsm2-util openssl jq; do
  command -v "$tool" >/dev/null || { echo "run_interop_tests.sh: $tool not found" >&2; exit 1; }
done
[ -x "$HSMCTL" ] || { echo "run_interop_tests.sh: $HSMCTL is not an executable" >&2; exit 1; }

WORK=$(mktemp -d /tmp/hsmctl-interop-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
eval "$("$ROOT/scripts/sandbox" "$WORK/sb")" >/dev/null
export PIN=1234
unset HSMCTL_TOKEN HSMCTL_PIN_SOURCE
cd "$WORK" || exit 1

passed=0 failed=0 skipped=()
ok()   { passed=$((passed + 1)); echo "ok   - $1"; }
bad()  { failed=$((failed + 1)); echo "FAIL - $1${2:+: $2}"; }
skip() { skipped+=("$1"); echo "SKIP: $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got '$2', expected '$3'"; fi; }

# expect NAME CODE PATTERN CMD...: CMD exits CODE and its stderr matches PATTERN (grep -Ei).
expect() {
  local name=$1 code=$2 pattern=$3 rc
  shift 3
  "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
  rc=$?
  local msg
  msg=$(tr '\n' ' ' <"$WORK/err")
  if [ "$rc" != "$code" ]; then bad "$name" "exit $rc, expected $code; stderr: $msg"
  elif [ -n "$pattern" ] && ! grep -Eqi -- "$pattern" "$WORK/err"; then bad "$name" "stderr lacks /$pattern/: $msg"
  else ok "$name"; fi
}

hsm() { "$HSMCTL" --pin-source env:PIN "$@"; }
new_token() { softhsm2-util --init-token --free --label "$1" --so-pin 5678 --pin 1234 >/dev/null; }
status_kcv() {  # status_kcv TOKEN [DIR]
  hsm ${2:+--dir "$2"} --token "$1" master status --json | jq -r '.kcv // ""'
}
# KCV = first 3 bytes of AES-256-ECB(HMAC-SHA256(S, "hsmctl v1 wrap"), 0^16), from S in hex.
kcv_of_secret() {
  local k
  k=$(printf '%s' 'hsmctl v1 wrap' | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -r | cut -d' ' -f1)
  head -c 16 /dev/zero | openssl enc -aes-256-ecb -nopad -K "$k" | head -c 3 | od -An -tx1 | tr -d ' \n'
}
files_of() { local d=$1 n; shift; for n in "$@"; do echo "$d/$n.share"; done; }
# change_word IN OUT POS MODE: MODE "next" puts the next wordlist word at POS (1-based), "typo"
# a word that is not in the wordlist.
change_word() {
  "${PY[@]}" - "$@" <<'EOF'
import os, sys
src, dst, pos, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]) - 1, sys.argv[4]
words = [w.strip() for w in open(os.environ["SLIP39_WORDLIST"]) if w.strip()]
m = open(src).read().split()
m[pos] = words[(words.index(m[pos]) + 1) % 1024] if mode == "next" else m[pos][:-1] + "q"
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, (" ".join(m) + "\n").encode())
EOF
}

# ------------------------------------------------------------------ 0. the independent implementation
out=$("${SLIP39[@]}" selftest "$VECTORS" | tail -1)
check "slip39.py selftest on the 45 SLIP-0039 vectors" "$out" "45 passed, 0 failed"

# ------------------------------------------------------------------ a. hsmctl's shares -> slip39.py
new_token A
mkdir -m 700 shares
expect "master init 3-of-5 on token A" 0 "" \
  hsm --token A master init --threshold 3 --custodians alice,bob,carol,dave,erin --shares-out "$WORK/shares"
check "5 share files, each mode 0600" "$(stat -c %a shares/{alice,bob,carol,dave,erin}.share 2>&1 | sort -u)" 600
KCV_A=$(status_kcv A)
if [[ $KCV_A =~ ^[0-9a-f]{6}$ ]]; then ok "master status --json on A gives a kcv ($KCV_A)"
else bad "master status --json on A gives a kcv" "'$KCV_A'"; fi

reencoded=$("${PY[@]}" - "$HERE" shares/*.share <<'EOF'
import sys; sys.path.insert(0, sys.argv[1]); import slip39
bad = [p for p in sys.argv[2:] for m in slip39.read_mnemonics([p])
       if slip39.decode_mnemonic(m).mnemonic() != " ".join(m.lower().split())]
print("identical" if not bad else "differ: " + " ".join(bad))
EOF
)
check "slip39.py decodes and re-encodes every hsmctl share to the identical mnemonic" "$reencoded" identical

secrets_seen=()
for subset in "alice bob carol" "carol dave erin" "alice carol erin" "bob dave erin" "erin alice dave"; do
  # shellcheck disable=SC2086
  mapfile -t f < <(files_of shares $subset)
  s=$("${SLIP39[@]}" combine "${f[@]}" 2>&1) || { bad "slip39.py combine {$subset}" "$s"; continue; }
  secrets_seen+=("$s")
  check "KCV of HMAC(S, wrap) from slip39.py combine {$subset} = status kcv" "$(kcv_of_secret "$s")" "$KCV_A"
done
S_A=${secrets_seen[0]:-}
check "every 3-subset gives the same S" "$(printf '%s\n' "${secrets_seen[@]}" | sort -u | wc -l)" 1

expect "slip39.py combine refuses 2 of the 3-of-5 shares" 1 "need exactly 3" \
  "${SLIP39[@]}" combine shares/alice.share shares/erin.share
forced=$("${PY[@]}" - "$HERE" "$S_A" shares/alice.share shares/erin.share <<'EOF'
import sys; sys.path.insert(0, sys.argv[1]); import slip39
sh = [slip39.decode_mnemonic(slip39.read_mnemonics([p])[0]) for p in sys.argv[3:]]
ems = slip39.interpolate([(s.member_index, s.value) for s in sh], slip39.SECRET_INDEX)
s = sh[0]
ms = slip39.decrypt(ems, b"", s.iteration_exponent, s.identifier, s.extendable).hex()
print("same S" if ms == sys.argv[2] else "different S")
EOF
)
check "2 shares interpolated anyway (no threshold check) give a different S" "$forced" "different S"

# ------------------------------------------------------------------ b. slip39.py's shares -> hsmctl
mkdir ws-empty foreign
new_token E
S_F=$(openssl rand -hex 32)
expect "slip39.py split 2-of-3 of a random S" 0 "" \
  "${SLIP39[@]}" split --threshold 2 --count 3 --secret-hex "$S_F" --extendable --out-dir foreign --names x,y,z
check "slip39.py combine {x, z} gives that S back" "$("${SLIP39[@]}" combine foreign/x.share foreign/z.share)" "$S_F"
# The workspace has no record of this set: hsmctl learns it from the shares, prints the KCV for
# comparison with the paper record, and afterwards knows exactly the shares it was given.
expect "a share of another set is refused while adopting (identifier named)" 4 "another share set" \
  hsm --dir "$WORK/ws-refused" --token E master restore --shares-file foreign/x.share --shares-file shares/alice.share
expect "one foreign share is not a quorum (exit 5)" 5 "1 more needed" \
  hsm --dir "$WORK/ws-refused" --token E master restore --shares-file foreign/x.share
expect "master restore of slip39.py's {x, y} into an empty workspace" 0 "" \
  hsm --dir "$WORK/ws-empty" --token E --json master restore --shares-file foreign/x.share --shares-file foreign/y.share
check "the restore says it adopted the set and could not check the KCV" \
  "$(jq -r '"\(.adopted) \(.kcv_checked) \(.kcv)"' "$WORK/out")" "true false $(kcv_of_secret "$S_F")"
check "status kcv after the foreign restore = KCV of HMAC(S, wrap) from slip39.py's S" \
  "$(status_kcv E "$WORK/ws-empty")" "$(kcv_of_secret "$S_F")"
expect "the adopted workspace checks a given share: x verifies" 0 "" \
  hsm --dir "$WORK/ws-empty" --token E master verify-share --share-file foreign/x.share
expect "z was not given at the restore: the adopted set does not know it" 4 "knows only the shares given" \
  hsm --dir "$WORK/ws-empty" --token E master verify-share --share-file foreign/z.share
expect "the adopted workspace's transcript verifies strictly (escrowed key endorsed)" 0 "" \
  hsm --dir "$WORK/ws-empty" --token E transcript verify --strict

# ------------------------------------------------------------------ c. refusals through hsmctl
new_token B
mkdir neg ws2 && mkdir -m 700 shares2
change_word shares/bob.share neg/bob-word10.share 10 next
change_word shares/bob.share neg/bob-typo10.share 10 typo
"${SLIP39[@]}" tamper-value shares/carol.share --byte 7 --xor 0x5a >neg/carol-value.share
new_token C
hsm --dir "$WORK/ws2" --token C master init --threshold 3 --custodians alice,bob,carol,dave,erin \
  --shares-out "$WORK/shares2" >/dev/null || bad "master init in a second workspace"

restore_b() { local a=() f; for f in "$@"; do a+=(--shares-file "$f"); done; hsm --token B master restore "${a[@]}"; }
expect "one word replaced by another wordlist word: exit 4, names word 10" 4 "word 10\b" \
  restore_b shares/alice.share neg/bob-word10.share shares/carol.share
expect "one word misspelled (not in the wordlist): exit 4, names word 10" 4 "word 10\b" \
  restore_b shares/alice.share neg/bob-typo10.share shares/carol.share
expect "2 shares of a 3-of-5 set: exit 5, 1 more needed" 5 "1 more needed" \
  restore_b shares/alice.share shares/bob.share
expect "a duplicated share: exit 4, twice" 4 "twice" \
  restore_b shares/alice.share shares/bob.share shares/bob.share
expect "a share from another master init: exit 4, another share set" 4 "another share set" \
  restore_b shares/alice.share shares/bob.share shares2/carol.share
expect "slip39.py parses the value-altered share (checksum recomputed)" 0 "" \
  "${SLIP39[@]}" info neg/carol-value.share
expect "a share with an altered value and a valid checksum: exit 4, commitment" 4 "commitment" \
  restore_b shares/alice.share shares/bob.share neg/carol-value.share
expect "correct restore of {bob, dave, erin} onto fresh token B" 0 "" \
  restore_b shares/bob.share shares/dave.share shares/erin.share
check "master status --json on B gives A's kcv" "$(status_kcv B)" "$KCV_A"

# ------------------------------------------------------------------ d. a two-level set -> slip39.py
# hsmctl's groups are SLIP-0039 groups: slip39.py recombines 2 of the 3 board shares and 3 of
# the 4 ops shares into the S whose KCV hsmctl reports, and refuses one group alone.
new_token G
mkdir -m 700 "$WORK/shares3"
hsm --dir "$WORK/ws3" --token G master init --group board:2:ann,bob,cy \
  --group ops:3:dee,eve,fay,gus --group-threshold 2 --shares-out "$WORK/shares3" >/dev/null ||
  bad "master init --group in a third workspace"
KCV_G=$(status_kcv G "$WORK/ws3")
s=$("${SLIP39[@]}" combine $(files_of shares3 bob cy dee fay gus) 2>&1)
check "KCV of S from slip39.py combine {bob, cy | dee, fay, gus} = status kcv" \
  "$(kcv_of_secret "$s")" "$KCV_G"
expect "slip39.py combine refuses the board group alone (2 of 2 groups needed)" 1 "groups" \
  "${SLIP39[@]}" combine $(files_of shares3 ann bob)

# ------------------------------------------------------------------ summary
echo "${#skipped[@]} skipped"
for s in "${skipped[@]}"; do echo "  skipped: $s"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
