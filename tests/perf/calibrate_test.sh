#!/usr/bin/env bash
# `braid-perf calibrate` end to end, small: 2-rank suites up to 2 MiB over braid's shared-memory
# lane, one run each; the cluster file it writes has the fields plan-sim's host-runtime mode
# reads (memory points, call and reduction-step overheads, the shm class with its exchanges and
# its streaming all-gather and reduce-scatter rates at 1 and 2 MiB), `plan-sim topo` and `plan-sim collective`
# accept it, and the predicted all-reduce time grows with the size; with -e below 1 MiB the
# streaming job is left out and the file still loads.
#
# usage: calibrate_test.sh path/to/braid-perf path/to/plan-sim path/to/mpiexec
set -uo pipefail

perf="${1:?usage: calibrate_test.sh braid-perf plan-sim mpiexec}"
plan_sim="${2:?}"
mpiexec="${3:?}"
dir="$(mktemp -d "${TMPDIR:-/tmp}/braid-calibrate-test.XXXXXX")"
trap 'rm -rf "${dir}"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

"${perf}" calibrate -o "${dir}/cluster.json" -e 2M --repeat 1 --classes shm --mpiexec "${mpiexec}" \
  2>"${dir}/calibrate.err" || fail "braid-perf calibrate exited $?: $(cat "${dir}/calibrate.err")"
for field in '"runtime": "host"' '"call_overhead_us"' '"reduce_step_us"' '"allgather_us"' '"memory"' '"reduce_GBps"' '"intra_node": "shm"' \
  '"sendrecv_us"' '"latency_us"' '"exchange_us"' '"streaming_GBps"' '"streaming_reduce_GBps"'; do
  grep -qF "${field}" "${dir}/cluster.json" || fail "the cluster file lacks ${field}: $(cat "${dir}/cluster.json")"
done
# The memory rates (copy becomes the cluster's memory bandwidth) come from a working set past the
# caches, 256 MiB, however small -e is: at 2 MiB they would be cache rates.
python3 - "${dir}/cluster.json" <<'EOF' || fail "the memory rates were not measured at 256 MiB (above)"
import json, sys
memory = json.load(open(sys.argv[1]))["calibration"]["memory"]
assert max(w["bytes"] for w in memory) >= 256 << 20, memory
EOF
"${plan_sim}" topo --cluster "${dir}/cluster.json" >"${dir}/topo.out" 2>&1 ||
  fail "plan-sim topo rejected the file: $(cat "${dir}/topo.out")"
grep -q "per collective call, .* per reduction step" "${dir}/topo.out" || fail "plan-sim topo does not show the call overhead: $(cat "${dir}/topo.out")"
grep -q "fixed costs from exchanges measured at 18 sizes, 8 B .. 1048576 B" "${dir}/topo.out" ||
  fail "plan-sim topo does not show the exchanges 8 B .. 1 MiB: $(cat "${dir}/topo.out")"
grep -q "streaming GB/s by working set: 1024 KiB [0-9.]*; 2048 KiB [0-9.]*; streaming reduce-scatter GB/s by working set: 1024 KiB [0-9.]*; 2048 KiB [0-9.]*$" "${dir}/topo.out" ||
  fail "plan-sim topo does not show the streaming all-gather and reduce-scatter rates at 1 and 2 MiB (and nothing beyond -e): $(cat "${dir}/topo.out")"
"${plan_sim}" collective --cluster "${dir}/cluster.json" --ranks 2 -b 8 -e 2M -f 64 --format csv \
  >"${dir}/predicted.csv" 2>&1 || fail "plan-sim collective rejected the file: $(cat "${dir}/predicted.csv")"
# Columns: size,count,type,time_us,...; times must be positive, never shrink with the size (8 B
# and 512 B may tie: both sit in the latency-bound regime, printed to a few digits) and 2 MiB
# must cost more than 8 B.
awk -F, 'NR > 1 { if ($4 <= 0 || $4 < last) bad = 1; if (rows == 0) first = $4; last = $4; rows++ }
  END { exit (bad || rows != 4 || last <= first) }' "${dir}/predicted.csv" ||
  fail "predicted times are not 4 positive values that grow with the size (8 B, 512 B, 32 KiB, 2 MiB): $(cat "${dir}/predicted.csv")"
# Below the streaming job's 1 MiB start, -e leaves it out (it would measure only sizes the file
# may not hold), and the file still loads.
"${perf}" calibrate -o "${dir}/small.json" -e 64K --repeat 1 --classes shm --mpiexec "${mpiexec}" \
  2>"${dir}/small.err" || fail "braid-perf calibrate -e 64K exited $?: $(cat "${dir}/small.err")"
grep -q "shm allgather" "${dir}/small.err" || fail "calibrate -e 64K did not report its jobs: $(cat "${dir}/small.err")"
if grep -q "shm streaming" "${dir}/small.err" || grep -q streaming "${dir}/small.json"; then
  fail "calibrate -e 64K ran the streaming job or wrote its rates: $(cat "${dir}/small.err" "${dir}/small.json")"
fi
"${plan_sim}" topo --cluster "${dir}/small.json" >"${dir}/small-topo.out" 2>&1 ||
  fail "plan-sim topo rejected the -e 64K file: $(cat "${dir}/small-topo.out")"
echo "PASS: calibrate wrote a cluster file plan-sim reads; predictions: $(awk -F, 'NR > 1 {printf "%s B %.1f us; ", $1, $4}' "${dir}/predicted.csv")"
