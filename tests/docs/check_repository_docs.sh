#!/usr/bin/env bash
# The repository stands on its own: nothing refers to a "shared" directory beside the checkout
# (written here without its dots, so that this file does not match itself), every relative
# link in README.md, HACKING.md and docs/*.md points to a file that exists, and every test that
# docs/design.md names as the check of a fact exists under tests/.
#   tests/docs/check_repository_docs.sh [ROOT]   (default: the checkout this script is in)
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
failed=0
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# 1. No reference to the shared directory beside the checkout (build dirs and .git excluded).
# Spelled as one path or joined from parts (a ".." part, then the directory), as a script would.
hits=$(grep -rnIE --exclude-dir=.git --exclude-dir='build*' \
         -e '\.\./shared' -e "[\"']\.\.[\"'], *[\"']shared[\"']" . 2>/dev/null)
if [ -n "$hits" ]; then fail "references to a directory outside the repository:"; echo "$hits"
else echo "ok   no reference to a directory beside the checkout"; fi

# 2. Relative links [text](target) in the Markdown documents resolve to existing files.
for doc in README.md HACKING.md docs/*.md; do
  [ -f "$doc" ] || continue
  dir=$(dirname "$doc")
  while IFS= read -r target; do
    case $target in http://* | https://* | mailto:* | '#'*) continue ;; esac
    path=${target%%#*}
    if [ -e "$dir/$path" ]; then echo "ok   $doc -> $target"
    else fail "$doc links to '$target', which does not exist"; fi
  done < <(grep -oE '\]\([^)[:space:]]+\)' "$doc" | sed -E 's/^\]\((.*)\)$/\1/')
done

# 3. Tests that docs/design.md cites by ctest name (`facts.Suite.Name`, ...) exist.
if [ -f docs/design.md ]; then
  for name in $(grep -oE '`(facts|custody|e2e|unit)\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+`' docs/design.md |
                tr -d '`' | sort -u); do
    IFS=. read -r prefix suite test <<<"$name"
    case $prefix in
      facts) where=tests/facts ;; custody) where=tests/custody ;; e2e) where=tests/e2e ;;
      *) where=tests ;;
    esac
    if grep -rqE "TEST(_F)?\(${suite}, ${test}\)" "$where"; then echo "ok   design.md cites $name"
    else fail "docs/design.md cites $name, but $where has no TEST_F($suite, $test)"; fi
  done
fi

[ "$failed" -eq 0 ] && echo "all checks passed" || echo "$failed failed"
[ "$failed" -eq 0 ]
