#!/usr/bin/env bash
# Runs a command and passes only if it exits with the expected code AND its output (stdout and
# stderr) matches the expected regular expression (grep -E). Used for command-line error tests,
# where both the exit code (2) and the message naming the problem are part of the contract.
# Usage: expect_exit.sh <code> <regex> <command...>; <code> may list alternatives, "1|3" (when
# mpiexec's own status depends on which rank ended first).
set -u
expected_code="$1"
pattern="$2"
shift 2
output="$("$@" 2>&1)"
code=$?
printf '%s\n' "${output}"
if [[ ! "${code}" =~ ^(${expected_code})$ ]]; then
  echo "expect_exit: exit code ${code}, expected ${expected_code}" >&2
  exit 1
fi
if ! grep -Eq -- "${pattern}" <<<"${output}"; then
  echo "expect_exit: output does not match '${pattern}'" >&2
  exit 1
fi
