#!/usr/bin/env bash
# braid-perf --versus: each row's two values and its ratio come from one round (the round of the
# median ratio), so the ratio is the values' quotient. (Each backend's median value beside the
# median ratio could disagree even in direction on a busy machine: 1.34 vs 5.23 MB/s printed
# with a ratio of 2.456; QA, session 55.)
#
# usage: versus_ratio.sh path/to/braid-perf <launcher: mpiexec -n 2 [flags]...>
set -uo pipefail

perf="${1:?usage: versus_ratio.sh braid-perf mpiexec -n 2 [flags...]}"
shift
launch=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/../common/check_script.sh" braid-versus-ratio

# check <suite> <value column> <versus value column>
check() {
  local suite="$1" mine="$2" theirs="$3" csv="${dir}/$1.csv"
  if ! "${launch[@]}" "${perf}" "${suite}" -b 1 -e 4096 -f 16 -n 20 --versus ucx --rounds 4 --csv "${csv}" \
      >/dev/null 2>"${dir}/err"; then
    fail "${suite}: the run failed: $(cat "${dir}/err")"
    return
  fi
  local rows
  rows=$(awk -F, -v mine="${mine}" -v theirs="${theirs}" '
    /^#/ { next }
    !header { for (i = 1; i <= NF; ++i) col[$i] = i; header = 1; next }
    {
      a = $col[mine]; b = $col[theirs]; r = $col["ratio"]; ++rows
      if (b <= 0 || r == "") next
      q = a / b
      if (q - r > 1e-9 * q || r - q > 1e-9 * q) printf "size %s: %s / %s = %.9g, ratio %s\n", $col["size"], a, b, q, r
    }
    END { print rows " rows" > "/dev/stderr" }' "${csv}" 2>"${dir}/rows")
  [[ -z ${rows} ]] || fail "${suite}: ratio is not the values' quotient: ${rows}"
  grep -q '^4 rows$' "${dir}/rows" || fail "${suite}: expected 4 rows, got $(cat "${dir}/rows")"
}

check bw bandwidth_MBps versus_bandwidth_MBps
check latency latency_us versus_latency_us
finish_checks "each --versus row's ratio is its two values' quotient (bw, latency)"
