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
expect 0 '^braid-topo: braid [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-f]' --version
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
# --out naming the --xml input (directly or through a link) would replace the export with its summary.
cat >"${dir}/in.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" allowed_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" allowed_nodeset="0x00000001" gp_index="1">
    <object type="NUMANode" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="2" local_memory="1073741824"/>
    <object type="PU" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="3"/>
  </object>
</topology>
XML
ln -s in.xml "${dir}/in-link.xml"
cp "${dir}/in.xml" "${dir}/in.copy"
expect 0 "1 PU" --xml "${dir}/in.xml"
expect 2 "--out ${dir}/in.xml is the --xml input" --xml "${dir}/in.xml" --format json --out "${dir}/in.xml"
expect 2 "is the --xml input" --xml "${dir}/in-link.xml" --out "${dir}/in.xml"
cmp -s "${dir}/in.xml" "${dir}/in.copy" || fail "the --xml input was overwritten"
# An export through a pipe is read (it was refused as not a regular file), and named by its path.
expect 0 "^host .*\(hwloc-xml:/dev/fd/[0-9]+\)" --xml <(cat "${dir}/in.xml")
mkfifo "${dir}/nobody.xml"
expect 2 "${dir}/nobody.xml: a pipe that nothing was written to" --xml "${dir}/nobody.xml"
# HWLOC_XMLFILE makes "this machine" that file: the output says so, and a bad file is exit 2
# naming the variable (it was labelled live discovery, and an empty file was exit 1).
out="$(HWLOC_XMLFILE="${dir}/in.xml" "${topo}" 2>&1)"
grep -qF "(hwloc-xml:${dir}/in.xml (HWLOC_XMLFILE))" <<<"${out}" || fail "HWLOC_XMLFILE not named as the source: ${out}"
: >"${dir}/empty.xml"
HWLOC_XMLFILE="${dir}/empty.xml" expect 2 "HWLOC_XMLFILE=${dir}/empty.xml: ${dir}/empty.xml: hwloc cannot load this XML topology"
# ... and a file that is not there is named too (hwloc fell back to this machine, in silence).
HWLOC_XMLFILE="${dir}/absent.xml" expect 2 "HWLOC_XMLFILE=${dir}/absent.xml: ${dir}/absent.xml: cannot open"
finish_checks "braid-topo's command line"
