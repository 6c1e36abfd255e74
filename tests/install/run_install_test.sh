#!/usr/bin/env bash
# `cmake --install` into a temporary prefix puts the binary, every man page and the bash
# completion where man(1) and bash-completion look, and what is installed works from there.
#   run_install_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: run_install_test.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
bin=$prefix/bin/hsmctl
[ -x "$bin" ] || fail "no executable $bin"
"$bin" --version | grep -q '^hsmctl ' || fail "installed binary does not run"

for page in "$src"/man/*.[15]; do
  section=${page##*.}
  installed=$prefix/share/man/man$section/$(basename "$page")
  cmp -s "$page" "$installed" || fail "$(basename "$page") not installed in man$section"
done
n=$(find "$prefix/share/man" -type f | wc -l)
[ "$n" -eq "$(ls "$src"/man/*.[15] | wc -l)" ] || fail "$n man pages installed, not the source's"
# man(1) finds a group page by name under the prefix.
if command -v man >/dev/null; then
  MANPATH=$prefix/share/man man -w hsmctl-master | grep -q "$prefix" ||
    fail "man -w hsmctl-master does not find the installed page"
fi

comp=$prefix/share/bash-completion/completions/hsmctl
[ -s "$comp" ] || fail "no bash completion at $comp"
cmp -s "$comp" <("$bin" completion bash) || fail "installed completion differs from 'hsmctl completion bash'"
# The completion loads and offers the top-level commands (it asks the hsmctl on PATH).
words=$(PATH="$(dirname "$bin"):$PATH" bash -c 'source "$1"; COMP_WORDS=(hsmctl ""); COMP_CWORD=1; COMP_LINE="hsmctl "; COMP_POINT=7
                 f=$(complete -p hsmctl | sed "s/.*-F \([^ ]*\).*/\1/"); "$f" hsmctl "" hsmctl
                 printf "%s\n" "${COMPREPLY[@]}"' _ "$comp")
for w in master user key sign backup clone transcript ceremony; do
  grep -qx "$w" <<<"$words" || fail "completion does not offer '$w'"
done
echo "install test: binary, $n man pages and bash completion installed and working"
