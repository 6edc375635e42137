#!/usr/bin/env bash
# Point-to-point, braid vs the raw UCX tag API (same transports) vs MPICH, same machine, same
# harness (braid-perf's OSU-shaped suites). Each backend runs REPS times (default 3), the three
# alternating, and each size reports the median over runs, so one noisy run on a shared VM does
# not decide a row. Ratios are braid / ucx: latency (lower is better; goal <= 1.2) and bandwidth
# (higher is better; goal >= 0.95). For docs/PERFORMANCE.md.
#   bench/compare_p2p.sh [suites...]      (default: latency bw)
#   env: BRAID_PERF (binary), REPS (default 3), MAX (default 4M), ITERS (braid-perf -n, optional)
set -euo pipefail
cd "$(dirname "$0")/.."
perf=${BRAID_PERF:-build/bin/braid-perf}
reps=${REPS:-3}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(latency bw)
backends=(braid ucx mpi)

# Median value per size over the runs in file $1 (lines "size value").
median() {
  sort -k1,1n -k2,2g "$1" | awk '
    { size[NR]=$1; v[NR]=$2 }
    END { i = 1; while (i <= NR) { j = i; while (j <= NR && size[j] == size[i]) j++;
            m = i + int((j - i - 1) / 2); print size[m], v[m]; i = j } }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for suite in "${suites[@]}"; do
  args=("$suite" -b 1 -e "${MAX:-4M}" -f 2)
  [ -z "${ITERS:-}" ] || args+=(-n "$ITERS")
  for b in "${backends[@]}"; do : >"$tmp/$b"; done
  for ((r = 0; r < reps; r++)); do
    for b in "${backends[@]}"; do
      mpiexec -n 2 "$perf" "${args[@]}" --backend "$b" | awk '/^[0-9]/ { print $1, $2 }' >>"$tmp/$b"
    done
  done
  unit=$([ "$suite" = latency ] && echo us || echo MBps)
  echo "# $suite, 2 ranks, median of $reps runs, $(date -u +%F) on $(hostname) ($(nproc) cores)"
  printf '%12s %12s %12s %12s %10s\n' size "braid_$unit" "ucx_$unit" "mpi_$unit" braid/ucx
  paste -d' ' <(median "$tmp/braid") <(median "$tmp/ucx") <(median "$tmp/mpi") | awk '{
      ratio = ($4 > 0) ? $2 / $4 : 0;
      printf "%12d %12.2f %12.2f %12.2f %10.3f\n", $1, $2, $4, $6, ratio }'
done
