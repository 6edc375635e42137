#!/usr/bin/env bash
# Issue 5's calibration check, in one command: `braid-perf calibrate` writes a cluster file for
# this machine, braid-perf measures 2-rank all-reduce from 8 B to 256 MiB, and plan-sim predicts
# the same sizes from the cluster file. Prints one row per size: measured (median and best of
# REPS runs), predicted, predicted / measured, and whether that is within +-25%.
#
# Small sizes run many iterations (a 1 us call timed 10 times is mostly the launch skew after
# the start barrier); large sizes run few. The measured runs alternate with nothing else, so run
# this on an otherwise idle machine.
#   bench/calibration_check.sh            env: BIN (default build/bin), REPS (default 5),
#                                         MAX (default 256M), KEEP=dir (keep the raw files)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-build/bin}
reps=${REPS:-5}
max=${MAX:-256M}
work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

"$bin/braid-perf" calibrate -o "$work/cluster.json" -e "$max" --classes shm >&2

# Out-of-place time (us) per size, one "size time" line per row, appended to $1.
measure() {
  local out=$1
  shift
  mpiexec -n 2 "$bin/braid-perf" allreduce -f 4 -c 0 "$@" | awk '/^ *[0-9]/ { print $1, $6 }' >>"$out"
}
: >"$work/measured"
for ((r = 0; r < reps; r++)); do
  measure "$work/measured" -b 8 -e 32K -n 2000 -w 200
  measure "$work/measured" -b 128K -e 8M -n 40 -w 5
  measure "$work/measured" -b 32M -e "$max" -n 5 -w 1
done
"$bin/plan-sim" collective --cluster "$work/cluster.json" --ranks 2 -b 8 -e "$max" -f 4 --format csv \
  >"$work/predicted.csv"

echo "# 2-rank float32 all-reduce, out of place: braid-perf measured (median and best of $reps runs)"
echo "# vs plan-sim on the cluster file braid-perf calibrate wrote just before; $(date -u +%F) on $(hostname) ($(nproc) cores)"
printf '%12s %12s %12s %12s %10s %10s  %s\n' size median_us best_us predicted_us pred/med pred/best algorithm
sort -k1,1n -k2,2g "$work/measured" | awk -v reps="$reps" -F'[ ,]' '
  FNR == NR { size[NR] = $1; t[NR] = $2; n = NR; next }
  FNR == 1 { for (c = 1; c <= NF; ++c) col[$c] = c; next }
  { pred[$col["size"]] = $col["time_us"]; algo[$col["size"]] = $col["algorithm"] }
  END {
    i = 1; worst = 0
    while (i <= n) {
      j = i; while (j <= n && size[j] == size[i]) j++
      s = size[i]; best = t[i]; median = t[i + int((j - i - 1) / 2)]
      p = pred[s]; r = p / median
      off = (r > 1.25 || r < 0.75) ? "  OUTSIDE" : ""
      printf "%12d %12.2f %12.2f %12.2f %10.3f %10.3f  %s%s\n", s, median, best, p, r, p / best, algo[s], off
      if (off != "") ++outside
      i = j
    }
    printf "# sizes outside +-25%% (predicted / median): %d\n", outside + 0
  }' - "$work/predicted.csv"
