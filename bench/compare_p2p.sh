#!/usr/bin/env bash
# Point-to-point, braid vs the raw UCX tag API (same transports) vs MPICH, same machine, same
# harness (braid-perf's OSU-shaped suites). Each backend runs REPS times (default 3), in a fresh
# random order every round, and each size reports the median and the best over runs: this VM
# switches between a fast and a slow mode for seconds at a time, so a median compares modes as
# much as software, while the best of many runs compares each layer in the fast mode. Ratios are
# braid / ucx: latency (lower is better; goal <= 1.2) and bandwidth (higher is better; goal
# >= 0.95). For docs/PERFORMANCE.md. For the braid / ucx ratio alone, `braid-perf <suite>
# --versus ucx` is steadier: both run in the same processes, size by size, round by round.
#   bench/compare_p2p.sh [suites...]      (default: latency bw)
#   env: BRAID_PERF (binary), REPS (default 3), MAX (default 4M), ITERS (braid-perf -n, optional)
set -euo pipefail
cd "$(dirname "$0")/.."
perf=${BRAID_PERF:-build/bin/braid-perf}
reps=${REPS:-3}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(latency bw)
backends=(braid ucx mpi)

# Per size over the runs in file $1 (lines "size value"): "size median best", best being the
# lowest value when $2 is "low" (latency) and the highest otherwise.
median_best() {
  sort -k1,1n -k2,2g "$1" | awk -v low="$2" '
    { size[NR]=$1; v[NR]=$2 }
    END { i = 1; while (i <= NR) { j = i; while (j <= NR && size[j] == size[i]) j++;
            m = i + int((j - i - 1) / 2); print size[m], v[m], (low == "low" ? v[i] : v[j - 1]); i = j } }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for suite in "${suites[@]}"; do
  args=("$suite" -b 1 -e "${MAX:-4M}" -f 2)
  [ -z "${ITERS:-}" ] || args+=(-n "$ITERS")
  for b in "${backends[@]}"; do : >"$tmp/$b"; done
  for ((r = 0; r < reps; r++)); do
    for b in $(printf '%s\n' "${backends[@]}" | shuf); do
      mpiexec -n 2 "$perf" "${args[@]}" --backend "$b" | awk '/^[0-9]/ { print $1, $2 }' >>"$tmp/$b"
    done
  done
  unit=$([ "$suite" = latency ] && echo us || echo MBps)
  order=$([ "$suite" = latency ] && echo low || echo high)
  echo "# $suite, 2 ranks, median and best of $reps runs, $(date -u +%F) on $(hostname) ($(nproc) cores)"
  printf '%10s %10s %10s %10s %9s %10s %10s %10s %9s\n' size "braid_$unit" "ucx_$unit" "mpi_$unit" \
    braid/ucx best_braid best_ucx best_mpi best_b/u
  paste -d' ' <(median_best "$tmp/braid" "$order") <(median_best "$tmp/ucx" "$order") \
    <(median_best "$tmp/mpi" "$order") | awk '{
      ratio = ($5 > 0) ? $2 / $5 : 0; best = ($6 > 0) ? $3 / $6 : 0;
      printf "%10d %10.2f %10.2f %10.2f %9.3f %10.2f %10.2f %10.2f %9.3f\n", $1, $2, $5, $8, ratio, $3, $6, $9, best }'
done
