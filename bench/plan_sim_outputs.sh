#!/usr/bin/env bash
# Writes what plan-sim computes for a fixed set of runs, at full precision, into DIR, so that two
# binaries can be compared with `diff -r` after a change meant to be speed only (session 62):
# the 1T search's top 5 (dgx-h100, batch 49152), the 175B search's top 10 and one 175B simulate
# (dgx-a100), a Llama-3-70B search on the PCIe preset, and `plan-sim collective` for six
# collectives on dgx-h100 x 128 and pcie-a100 x 16 GPUs, 8 B-256 MiB. Takes ~40 s.
#   bench/plan_sim_outputs.sh PLAN_SIM DIR
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 PLAN_SIM DIR" >&2
  exit 2
fi
plan_sim=$1
out=$2
if [[ -e "${out}" && -n "$(ls -A "${out}")" ]]; then
  echo "$0: ${out} is not empty" >&2
  exit 2
fi
mkdir -p "${out}"
"${plan_sim}" search --model megatron-1t --cluster dgx-h100 --gpus 3072 --global-batch 49152 --top 5 --format csv \
  >"${out}/megatron-1t-search.csv"
"${plan_sim}" search --model gpt3-175b --cluster dgx-a100 --gpus 1024 --global-batch 1536 --top 10 --format csv \
  >"${out}/gpt3-175b-search.csv"
"${plan_sim}" simulate --model gpt3-175b --cluster dgx-a100 --global-batch 1536 \
  --layout tp=8,pp=8,dp=16,mb=1,v=3,zero=1,recompute=selective,sp=on --format json >"${out}/gpt3-175b-simulate.json"
"${plan_sim}" search --model llama-3-70b --cluster pcie-a100 --gpus 64 --global-batch 512 --top 5 --format csv \
  >"${out}/llama-3-70b-search.csv"
for collective in allreduce broadcast reduce reducescatter allgather alltoall; do
  "${plan_sim}" collective --cluster dgx-h100 --ranks 128 --collective "${collective}" -b 8 -e 256M -f 4 \
    --format csv >"${out}/dgx-h100-128-${collective}.csv"
  "${plan_sim}" collective --cluster pcie-a100 --ranks 16 --collective "${collective}" -b 8 -e 256M -f 4 \
    --format csv >"${out}/pcie-a100-16-${collective}.csv"
done
echo "wrote $(ls "${out}" | wc -l) files to ${out}"
