#!/usr/bin/env bash
# Checks that libbraid.so exports only the public API: every defined dynamic symbol, demangled,
# must be braid::something (or the typeinfo/vtable of a braid type, or a linker-defined marker).
# Anything else (UCX, fmt, std:: template instantiations, hwloc) is a leak of internals that can
# clash with other copies of those libraries in the same process; the fix is visibility or a
# linker version script, not this list.
#
# usage: symbols_test.sh path/to/libbraid.so [nm]
set -euo pipefail

lib="${1:?usage: symbols_test.sh path/to/libbraid.so [nm]}"
nm_tool="${2:-nm}"
[[ -f "${lib}" ]] || { echo "FAIL: ${lib} does not exist (build the braid target)"; exit 1; }

# "0000000000012345 T braid::Comm::rank() const" -> "braid::Comm::rank() const"
symbols="$("${nm_tool}" -D --defined-only -C "${lib}" | sed -E 's/^[0-9a-fA-F]+ [A-Za-z] //')"

allowed='^(braid::|(typeinfo|typeinfo name|vtable|VTT|construction vtable|guard variable) for braid::)'
# Markers the linker defines in every shared object.
linker='^(_init|_fini|_edata|_end|__bss_start)$'

bad="$(grep -Ev -e "${allowed}" -e "${linker}" <<<"${symbols}" || true)"
count="$(grep -Ec -e "${allowed}" <<<"${symbols}" || true)"

if [[ "${count}" -eq 0 ]]; then
  echo "FAIL: ${lib} exports no braid:: symbols at all (is BRAID_API applied?)"
  exit 1
fi
if [[ -n "${bad}" ]]; then
  echo "FAIL: ${lib} exports $(wc -l <<<"${bad}") symbol(s) outside the braid:: public API:"
  sed 's/^/  /' <<<"${bad}"
  exit 1
fi
echo "OK: ${lib} exports ${count} braid:: symbols and nothing else"
