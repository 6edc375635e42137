#!/usr/bin/env bash
# Host all-reduce, braid vs MPICH's MPI_Allreduce, same machine, same run, same harness
# (braid-perf). Prints one table per rank count with busbw of both and the ratio, using the
# better of out-of-place / in-place for each. bw_ratio = braid busbw / MPI busbw (higher is
# better); lat_ratio = braid time / MPI time (lower is better). For docs/PERFORMANCE.md.
#   bench/compare_host_allreduce.sh [ranks...]    (default: 2 4)
set -euo pipefail
cd "$(dirname "$0")/.."
perf=${BRAID_PERF:-build/bin/braid-perf}
args=(allreduce -b 8 -e 128M -f 4 -n "${ITERS:-20}" -w 5 -c 1)
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(2 4)

# Extracts "size time busbw" rows (best of out-of-place and in-place by time).
rows() {
  awk '/^ *[0-9]/ { t1=$6; b1=$8; t2=$10; b2=$12;
                    if (t2 < t1) { t1=t2; b1=b2 } print $1, t1, b1 }'
}

for n in "${ranks[@]}"; do
  braid=$(mpiexec -n "$n" "$perf" "${args[@]}" --backend braid | rows)
  mpi=$(mpiexec -n "$n" "$perf" "${args[@]}" --backend mpi | rows)
  echo "# $n ranks, float32 sum, $(date -u +%F) on $(hostname) ($(nproc) cores)"
  printf '%12s %12s %12s %10s %10s %8s %8s\n' size braid_us mpi_us braid_GBps mpi_GBps bw_ratio lat_ratio
  # Both runs print the same sizes in the same order: pair them line by line.
  paste -d' ' <(echo "$braid") <(echo "$mpi") | awk '{
      bw = ($6 > 0) ? $3 / $6 : 0; lat = ($5 > 0) ? $2 / $5 : 0;
      printf "%12d %12.2f %12.2f %10.3f %10.3f %8.2f %8.2f\n", $1, $2, $5, $3, $6, bw, lat }'
done
