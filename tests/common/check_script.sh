# Shared by the shell test scripts that run many checks: sourced, it makes a temporary directory
# ${dir} (removed on exit) and counts failed checks; `finish_checks "what passed"` ends the script
# with exit 1 and the count if any check failed, else prints the OK line.
# Usage: source check_script.sh <temporary directory's name prefix>

dir="$(mktemp -d "${TMPDIR:-/tmp}/${1:?check_script.sh needs a name prefix}.XXXXXX")"
trap 'rm -rf "${dir}"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

finish_checks() {
  if [[ ${failures} -gt 0 ]]; then
    echo "FAIL: ${failures} check(s) failed"
    exit 1
  fi
  echo "OK: $*"
}
