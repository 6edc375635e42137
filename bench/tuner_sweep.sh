#!/usr/bin/env bash
# How well plan-sim's tuner chooses and estimates GPU collectives, against plan-sim's own replays:
# 10 cluster/group cases x all-reduce, broadcast, reduce x 8 B-256 MiB (by 4x), each run with the
# tuner's choice and with every algorithm forced (`plan-sim collective --algorithm A --explain`).
# Prints the cells whose regret (replayed time of the choice / the best forced algorithm's) is
# above 1.03, and per algorithm the mean |estimate / replay - 1| from 128 KiB. For
# docs/PERFORMANCE.md (sessions 60-61). Takes ~15 s.
#   bench/tuner_sweep.sh
#   env: PLAN_SIM (binary, default build/bin/plan-sim)
set -euo pipefail
cd "$(dirname "$0")/.."
plan_sim=${PLAN_SIM:-build/bin/plan-sim}
out="$(mktemp -d "${TMPDIR:-/tmp}/braid-tuner-sweep.XXXXXX")"
trap 'rm -rf "${out}"' EXIT
cases=("pcie-a100 8" "pcie-a100 16" "pcie-a100 32" "pcie-a100 64" "dgx-a100 16" "dgx-a100 32" "dgx-a100 64"
       "dgx-h100 16" "dgx-h100 64" "dgx-a100 256")
for case in "${cases[@]}"; do
  read -r cluster ranks <<<"${case}"
  for coll in allreduce broadcast reduce; do
    for algo in auto ring tree recdoubling chain; do
      "${plan_sim}" collective --cluster "${cluster}" --ranks "${ranks}" --collective "${coll}" -b 8 -e 256M -f 4 \
        --algorithm "${algo}" --explain 2>/dev/null >"${out}/${cluster}_${ranks}_${coll}_${algo}.txt" || true
    done
  done
done
python3 - "${out}" "${cases[@]}" <<'PY'
import collections, math, re, sys
out, cases = sys.argv[1], sys.argv[2:]
def load(path):
    times, estimates = {}, {}
    for line in open(path):
        if line.startswith('#'):
            m = re.match(r'#\s+(\d+): forced \w+: est ([\d.]+)us', line)
            if m: estimates[int(m.group(1))] = float(m.group(2))
            continue
        f = line.split()
        if len(f) > 5: times[int(f[0])] = float(f[3])
    return times, estimates
regrets, errors = [], collections.defaultdict(list)
for case in cases:
    cluster, ranks = case.split()
    for coll in ['allreduce', 'broadcast', 'reduce']:
        auto, _ = load(f'{out}/{cluster}_{ranks}_{coll}_auto.txt')
        forced = {a: load(f'{out}/{cluster}_{ranks}_{coll}_{a}.txt') for a in ['ring', 'tree', 'recdoubling', 'chain']}
        for size in sorted(auto):
            regret = auto[size] / min(t[size] for t, _ in forced.values() if size in t)
            regrets.append(regret)
            if regret > 1.03: print(f'regret {cluster} {ranks} {coll} {size} B: {regret:.3f}')
        for algo, (times, estimates) in forced.items():
            errors[algo] += [estimates[s] / times[s] for s in times if s in estimates and s >= 131072]
print(f'cells {len(regrets)}, regret > 1.03: {sum(r > 1.03 for r in regrets)}, worst {max(regrets):.3f}, '
      f'geomean {math.exp(sum(map(math.log, regrets)) / len(regrets)):.4f}')
for algo, v in errors.items():
    print(f'est/replay {algo:12s} n={len(v)} mean|err|={sum(abs(x - 1) for x in v) / len(v):.3f} '
          f'range {min(v):.2f}-{max(v):.2f}')
PY
