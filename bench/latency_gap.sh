#!/usr/bin/env bash
# How much CPU work braid adds to a one-way message, measured rather than inferred: the raw UCX
# backend is slowed by N empty loop iterations after each blocking receive
# (`braid-perf --ucx-extra-spins N`), in the same processes as braid (`--versus ucx`). The N at
# which braid/ucx reaches 1.0 is braid's extra work per message; ucx's own latency against N gives
# the cost of one spin. Each N runs REPS times in a fresh random order; runs are grouped by the
# VM's speed mode (by braid's 1 B latency) and each cell is the median over a group's runs.
# For docs/PERFORMANCE.md (session 10).
#   bench/latency_gap.sh
#   env: BRAID_PERF (binary), REPS (default 20), SPINS (default "0 25 50 75 100")
set -euo pipefail
cd "$(dirname "$0")/.."
perf=${BRAID_PERF:-build/bin/braid-perf}
reps=${REPS:-20}
spins=${SPINS:-0 25 50 75 100}

runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
# One line per run: "spins size braid_us ucx_us ratio" for sizes 1, 8, 64, 512.
for ((r = 0; r < reps; r++)); do
  for n in $(printf '%s\n' $spins | shuf); do
    mpiexec -n 2 "$perf" latency -b 1 -e 1K -f 8 --versus ucx --ucx-extra-spins "$n" --rounds 11 |
      awk -v n="$n" '/^[0-9]/ { print n, $1, $2, $3, $4 }' >>"$runs"
  done
done

echo "# $(date +%F) on $(hostname): braid-perf latency --versus ucx --ucx-extra-spins N, $reps runs per N"
echo "# mode by braid's 1 B latency (fast < 0.2 us <= middle < 0.45 us <= slow); medians over the mode's runs"
awk '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n ? a[int((n + 1) / 2)] : "-"
  }
  # A run is 4 consecutive lines; its mode comes from the 1 B line.
  $2 == 1 { mode = $3 < 0.2 ? "fast" : $3 < 0.45 ? "middle" : "slow"; runs[mode, $1]++ }
  { braid[mode, $1, $2] = braid[mode, $1, $2] " " $3; ucx[mode, $1, $2] = ucx[mode, $1, $2] " " $4
    ratio[mode, $1, $2] = ratio[mode, $1, $2] " " $5; seen[$1] = 1 }
  END {
    printf "%-7s %6s %5s %10s %10s %10s %10s %10s\n", "mode", "spins", "runs", "braid 1B", "ucx 1B", "ratio 1B", "ratio 64B", "ratio 512B"
    split("fast middle slow", modes, " ")
    for (m = 1; m <= 3; m++) for (n in seen) if (runs[modes[m], n])
      printf "%-7s %6s %5d %10s %10s %10s %10s %10s\n", modes[m], n, runs[modes[m], n],
             median(braid[modes[m], n, 1]), median(ucx[modes[m], n, 1]), median(ratio[modes[m], n, 1]),
             median(ratio[modes[m], n, 64]), median(ratio[modes[m], n, 512])
  }' "$runs" | { read -r header; echo "$header"; sort -k1,1 -k2,2n; }
