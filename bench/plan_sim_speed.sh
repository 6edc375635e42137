#!/usr/bin/env bash
# plan-sim's speed goals (issue 4) for two binaries in the same minutes: each run REPS times, the
# binaries alternating, wall and user seconds and peak RSS per run (/usr/bin/time). The table of
# docs/PERFORMANCE.md "Speed" (session 62). Takes ~4 min at REPS=3.
#   bench/plan_sim_speed.sh OLD_PLAN_SIM NEW_PLAN_SIM
#   env: REPS (default 3)
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 OLD_PLAN_SIM NEW_PLAN_SIM" >&2
  exit 2
fi
reps=${REPS:-3}
runs=(
  "search --model megatron-1t --cluster dgx-h100 --gpus 3072 --global-batch 49152"
  "search --model megatron-1t --cluster dgx-a100 --gpus 3072 --global-batch 3072"
  "simulate --model gpt3-175b --cluster dgx-a100 --global-batch 1536 --layout tp=8,pp=8,dp=16,mb=1,v=3,zero=1,recompute=selective,sp=on"
  "search --model gpt3-175b --cluster dgx-a100 --gpus 1024 --global-batch 1536"
)
echo "# binary wall_s user_s max_rss_kb run"
for ((i = 0; i < reps; ++i)); do
  for binary in "$1" "$2"; do
    for run in "${runs[@]}"; do
      # shellcheck disable=SC2086  # the run's words are its arguments
      /usr/bin/time -f "${binary} %e %U %M ${run}" "${binary}" ${run} >/dev/null
    done
  done
done 2>&1
