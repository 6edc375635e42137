#!/usr/bin/env bash
# Host all-reduce, braid vs MPICH's MPI_Allreduce, same machine, same run, same harness
# (braid-perf). Each backend runs REPS times (default 3), alternating, and each size reports the
# median over runs of the better of out-of-place / in-place time, so one noisy run on a shared
# VM does not decide a row. bw_ratio = braid busbw / MPI busbw (higher is better);
# lat_ratio = braid time / MPI time (lower is better). For docs/PERFORMANCE.md.
#   bench/compare_host_allreduce.sh [ranks...]    (default: 2 4)
#   env: BRAID_PERF (binary), ITERS (per size, default 20), REPS (default 3), MAX (default 128M)
set -euo pipefail
cd "$(dirname "$0")/.."
perf=${BRAID_PERF:-build/bin/braid-perf}
args=(allreduce -b 8 -e "${MAX:-128M}" -f 4 -n "${ITERS:-20}" -w 5 -c 1)
reps=${REPS:-3}
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(2 4)

# "size time busbw" per row: the better of out-of-place and in-place by time.
rows() {
  awk '/^ *[0-9]/ { t1=$6; b1=$8; t2=$10; b2=$12;
                    if (t2 < t1) { t1=t2; b1=b2 } print $1, t1, b1 }'
}

# Median time per size over the runs in file $1 (lines "size time busbw"), with its busbw.
median() {
  sort -k1,1n -k2,2g "$1" | awk '
    { size[NR]=$1; t[NR]=$2; b[NR]=$3 }
    END { i = 1; while (i <= NR) { j = i; while (j <= NR && size[j] == size[i]) j++;
            m = i + int((j - i - 1) / 2); print size[m], t[m], b[m]; i = j } }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for n in "${ranks[@]}"; do
  : >"$tmp/braid"; : >"$tmp/mpi"
  for ((r = 0; r < reps; r++)); do
    mpiexec -n "$n" "$perf" "${args[@]}" --backend braid | rows >>"$tmp/braid"
    mpiexec -n "$n" "$perf" "${args[@]}" --backend mpi | rows >>"$tmp/mpi"
  done
  echo "# $n ranks, float32 sum, median of $reps runs x ${ITERS:-20} iterations," \
       "$(date -u +%F) on $(hostname) ($(nproc) cores)"
  printf '%12s %12s %12s %10s %10s %8s %8s\n' size braid_us mpi_us braid_GBps mpi_GBps bw_ratio lat_ratio
  paste -d' ' <(median "$tmp/braid") <(median "$tmp/mpi") | awk '{
      bw = ($6 > 0) ? $3 / $6 : 0; lat = ($5 > 0) ? $2 / $5 : 0;
      printf "%12d %12.2f %12.2f %10.3f %10.3f %8.2f %8.2f\n", $1, $2, $5, $3, $6, bw, lat }'
done
