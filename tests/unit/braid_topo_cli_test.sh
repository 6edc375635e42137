#!/usr/bin/env bash
# braid-topo's command line: JSON of this machine; --out refused before discovery when it cannot
# be written (a loop of symbolic links, a file its owner made read-only, an empty path), the file
# left as it was; a missing --xml named. Exit 2 for each refusal.
#
# usage: braid_topo_cli_test.sh path/to/braid-topo
set -uo pipefail

topo="${1:?usage: braid_topo_cli_test.sh braid-topo}"
source "$(dirname "${BASH_SOURCE[0]}")/../common/check_script.sh" braid-topo-cli

# expect <code> <message regex> <args...>
expect() {
  local want="$1" pattern="$2" out code
  shift 2
  out="$("${topo}" "$@" 2>&1)"
  code=$?
  [[ ${code} -eq ${want} ]] || fail "braid-topo $* exited ${code}, expected ${want}: ${out}"
  grep -qE -- "${pattern}" <<<"${out}" || fail "braid-topo $*: output does not match '${pattern}': ${out}"
  return 0
}

expect 0 '"hostname"' --format json
expect 2 "--xml: File does not exist: ${dir}/none.xml" --xml "${dir}/none.xml"
expect 2 "--out: an empty path names no file" --out ""
ln -s loop2 "${dir}/loop1"
ln -s loop1 "${dir}/loop2"
expect 2 "--out: cannot open '${dir}/loop1' for writing: Too many levels of symbolic links" --out "${dir}/loop1"
[[ -L "${dir}/loop1" ]] || fail "the symbolic link loop was replaced"
if [[ $(id -u) -ne 0 ]]; then
  echo kept >"${dir}/ro.txt"
  chmod 444 "${dir}/ro.txt"
  expect 2 "--out: cannot open '${dir}/ro.txt' for writing: Permission denied" --out "${dir}/ro.txt"
  [[ "$(cat "${dir}/ro.txt")" == kept ]] || fail "the read-only file was replaced"
else
  echo "note: root writes read-only files; that refusal is not checked"
fi
finish_checks "braid-topo's command line"
