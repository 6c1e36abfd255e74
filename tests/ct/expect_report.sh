#!/usr/bin/env bash
# Runs a command (valgrind on a control case) that must be reported: succeeds only when the
# command exits 99 (valgrind's --error-exitcode), its output has the memcheck message, and the
# first stack frame under that message is the named function.
# Usage: expect_report.sh MESSAGE FUNCTION COMMAND...
set -uo pipefail
message=$1 function=$2
shift 2
output=$("$@" 2>&1)
status=$?
printf '%s\n' "$output"
if [ "$status" -ne 99 ]; then
  echo "expect_report: exit status $status, expected 99 (a memcheck error)" >&2
  exit 1
fi
frame=$(printf '%s\n' "$output" | grep -A1 -F "$message" | sed -n 2p)
case "$frame" in
  *"$function"*) echo "expect_report: reported as expected in $function" ;;
  *) echo "expect_report: no '$message' with $function in its first frame" >&2; exit 1 ;;
esac
