#!/usr/bin/env bash
# plan-sim's command line: bad input exits 2 with a message naming the problem (never a crash or
# exit 1, which means a bug), and the json / csv / trace / topo outputs are well formed.
#
#   bash tests/sim/cli_test.sh path/to/plan-sim
set -u

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/plan-sim" >&2
  exit 1
fi
plan_sim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Seconds one plan-sim run may take: an input that makes it hang (a FIFO) fails the check instead
# of the whole script.
limit=120

# expect_bad NAME PATTERN... -- ARGS...: plan-sim ARGS must exit 2, print nothing on stdout (no
# header of a table that will not come), and its stderr must contain every PATTERN (fixed strings).
expect_bad() {
  local name=$1
  shift
  local patterns=()
  while [ "$1" != "--" ]; do
    patterns+=("$1")
    shift
  done
  shift
  timeout "$limit" "$plan_sim" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -ne 2 ]; then
    fail "$name: exit $rc, expected 2 (stderr: $(cat "$tmp/err"))"
    return
  fi
  if [ -s "$tmp/out" ]; then
    fail "$name: exit 2 but stdout is not empty: $(head -c 300 "$tmp/out")"
  fi
  local pattern
  for pattern in "${patterns[@]}"; do
    if ! grep -qF -- "$pattern" "$tmp/err"; then
      fail "$name: stderr does not mention '$pattern': $(cat "$tmp/err")"
    fi
  done
}

# expect_ok NAME ARGS...: plan-sim ARGS must exit 0; its stdout is left in $tmp/out.
expect_ok() {
  local name=$1
  shift
  timeout "$limit" "$plan_sim" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -ne 0 ]; then
    fail "$name: exit $rc, expected 0 (stderr: $(cat "$tmp/err"))"
    return 1
  fi
}

# ---- bad input -> exit 2, naming the problem ----

expect_bad "unknown model preset" "gpt-9" "gpt3-175b" "llama-2-7b" -- \
  simulate --model gpt-9 --cluster dgx-a100 --global-batch 8 --layout tp=8,pp=1,dp=1

printf '{\n  "layers": 4,\n  "hidden": \n}\n' >"$tmp/broken.json"
expect_bad "malformed model JSON" "$tmp/broken.json" "line 4" -- \
  simulate --model "$tmp/broken.json" --cluster dgx-a100 --global-batch 8 --layout tp=8,pp=1,dp=1

expect_bad "tp does not divide heads" "tp=5" "heads (96)" "tp (5)" -- \
  simulate --model gpt3-175b --cluster dgx-a100 --global-batch 8 --layout tp=5,pp=1,dp=1

expect_bad "empty layout entry" "tp=8,,pp=1,dp=1" "empty entry" -- \
  simulate --model gpt3-175b --cluster dgx-a100 --global-batch 8 --layout tp=8,,pp=1,dp=1
expect_bad "trailing comma in --fix" "--fix" "tp=8," "empty entry" -- \
  search --model gpt3-175b --cluster dgx-a100 --gpus 8 --global-batch 8 --fix tp=8,
expect_bad "empty --fix" "--fix" "KEY=VALUE" -- \
  search --model gpt3-175b --cluster dgx-a100 --gpus 8 --global-batch 8 --fix ""

expect_bad "GPUs not a multiple of a node" "--gpus 12" "8 GPUs per node" -- \
  search --model gpt3-175b --cluster dgx-a100 --gpus 12 --global-batch 8

expect_bad "batch not divisible by dp*mb" "global batch (1000)" "dp*mb (16*3)" -- \
  simulate --model gpt3-175b --cluster dgx-a100 --global-batch 1000 --layout tp=8,pp=8,dp=16,mb=3

expect_bad "layout does not fit in memory" "tp=1,pp=1,dp=8" "GiB" "80.0 GiB per GPU" -- \
  simulate --model gpt3-175b --cluster dgx-a100 --gpus 8 --global-batch 8 --layout tp=1,pp=1,dp=8

expect_bad "--bucket-mb out of range" "--bucket-mb 0.0001" "0 (Megatron-LM's default) or in [0.001, 1000000]" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 64 --bucket-mb 0.0001

expect_bad "unknown --grad-reduce-overlap" "--grad-reduce-overlap" "\"sometimes\"" "always, without-pipeline, never" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 64 --grad-reduce-overlap sometimes

expect_bad "unknown --fix key" "--fix" "\"tq\"" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 64 --fix tq=2

# A pinned key that leaves no layout names itself, not an empty list of reasons.
expect_bad "--fix tp beyond the GPUs" "tp=16 does not divide the 8 GPUs" "no layout" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 8 --global-batch 64 --fix tp=16

expect_bad "--fix dp that does not tile the GPUs" "tp=8,dp=3: tp*dp = 8*3 = 24 does not divide the 16 GPUs" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 48 --fix tp=8,dp=3

expect_bad "--fix pp against dp" "tp=1,pp=2,dp=4: tp*pp*dp = 1*2*4 = 8 does not make the 16 GPUs" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 64 --fix tp=1,pp=2,dp=4

# A rejected (tp, pp, dp) is printed as the keys that were chosen, never with a 0 nobody gave.
expect_bad "--fix tp*dp beyond the GPUs" "tp=2,dp=16: tp*dp = 2*16 = 32 does not divide the 16 GPUs" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 32 --fix dp=16,tp=2
expect_bad "--fix tp that does not divide" "tp=3: tp=3 does not divide the 16 GPUs" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 32 --fix tp=3
expect_bad "--fix pp that does not divide" "tp=2,pp=32: tp*pp = 2*32 = 64 does not divide the 16 GPUs" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 32 --fix pp=32
if grep -qE '\b(tp|pp|dp)=0\b' "$tmp/err"; then fail "--fix pp=32: a rejection names a 0: $(cat "$tmp/err")"; fi

expect_bad "batch that no dp divides" "global batch (7) not divisible by dp (2)" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 7 --fix tp=8,pp=1

expect_bad "--global-batch out of range" "--global-batch" "'2147483647' is not an integer in [1, 16777216]" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 2147483647 --layout tp=8,pp=1,dp=1
# An empty value is not a 0 nobody typed; a fraction is not an integer.
expect_bad "--global-batch empty" "--global-batch" "'' is not an integer in [1, 16777216]" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch '' --layout tp=8,pp=1,dp=1
expect_bad "--top a fraction" "--top" "'1.5' is not an integer in [1, 100000]" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 8 --global-batch 8 --top 1.5

expect_bad "an unknown command" "unknown command 'frob'" "search, simulate, topo, collective" -- frob

# Without --gpus the GPU count is the layout's: the message says so, not "--gpus 12".
expect_bad "layout GPUs not a multiple of a node" "--layout tp=4,pp=3,dp=1: tp*pp*dp = 12" "8 GPUs per node" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 64 --layout tp=4,pp=3,dp=1
if grep -qF -- "--gpus" "$tmp/err"; then fail "layout GPUs: names --gpus, which was not given: $(cat "$tmp/err")"; fi

# A number beyond a double's range is bad input naming the file and the field, not an internal error.
printf '{"base": "dgx-a100", "gpu": {"peak_tflops": 1e999}}\n' >"$tmp/overflow.json"
expect_bad "a number beyond a double" "$tmp/overflow.json" "field \"gpu.peak_tflops\"" "1e999" -- \
  topo --cluster "$tmp/overflow.json"

# 100000 nested arrays (200 KB) crashed plan-sim (SIGSEGV in nlohmann's recursive dump for the
# message); refused while parsing. A huge value is named by its type, not pasted in the message.
python3 -c "n = 100000; print('{\"base\": \"dgx-a100\", \"name\": ' + '[' * n + ']' * n + '}')" >"$tmp/deep.json"
expect_bad "deep nesting" "$tmp/deep.json" "nested deeper than 64 levels" -- topo --cluster "$tmp/deep.json"
printf '{"base": "dgx-a100", "name": [[1, 2], [3]]}\n' >"$tmp/array-name.json"
expect_bad "an array where a string goes" "field \"name\" must be a string, found an array" -- \
  topo --cluster "$tmp/array-name.json"

# A write that fails part-way (here: a 1 KiB file-size limit, EFBIG) keeps the file that was there
# and names the reason; it used to leave the file cut short and the old content lost.
echo precious >"$tmp/keep.json"
(ulimit -f 1; trap '' XFSZ; exec "$plan_sim" search --model megatron-1.7b --cluster dgx-a100 --gpus 32 \
  --global-batch 512 --top 20 --format json --out "$tmp/keep.json") >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "failed write: exit $rc, expected 2"
grep -qF "writing '$tmp/keep.json' failed: File too large" "$tmp/err" || fail "failed write: reason not named: $(cat "$tmp/err")"
[ "$(cat "$tmp/keep.json")" = precious ] || fail "failed write: the existing --out file was changed"
ls -A "$tmp" | grep -q '^\.keep.json\.' && fail "failed write: a temporary file was left behind"

# A leading zero read as octal (--global-batch 064 ran with 52); --ranks and -f have ranges too;
# a cluster file's nodes x GPUs per node is bounded as --gpus is (a million-node file ran for ever).
expect_bad "leading zero" "'064' is not an integer in [1, 16777216] (no leading zeros" -- \
  search --model megatron-1.7b --cluster dgx-a100 --gpus 32 --global-batch 064
expect_bad "collective ranks range" "--ranks: '2147483640' is not an integer in [2, 1048576]" -- \
  collective --cluster dgx-a100 --ranks 2147483640 -b 8 -e 64
expect_bad "collective of one rank" "--ranks: '1' is not an integer in [2, 1048576]" -- \
  collective --cluster dgx-a100 --ranks 1 -b 8 -e 64
expect_bad "collective step factor hex" "--stepfactor: '0x10' is not an integer in [2, 1073741824]" -- \
  collective --cluster dgx-a100 -f 0x10 -b 8 -e 64
printf '{"base": "dgx-a100", "nodes": 1048576}\n' >"$tmp/million-nodes.json"
expect_bad "cluster beyond the GPU limit" "nodes x GPUs per node = 8388608 GPUs is more than the 1048576" -- \
  search --model megatron-1.7b --cluster "$tmp/million-nodes.json" --global-batch 16777216
# ... refused when the file is read, not only when a command would use every GPU (QA, session 56).
expect_bad "cluster beyond the GPU limit, read" "$tmp/million-nodes.json" "8388608 GPUs is more than the 1048576" -- \
  topo --cluster "$tmp/million-nodes.json"
# Blanks after the commas of --layout / --fix are not part of the keys ("tp=2, pp=2").
expect_ok "--version" --version &&
  { grep -qE '^plan-sim: braid [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-f]' "$tmp/out" ||
      fail "--version printed: $(cat "$tmp/out")"; }
expect_ok "layout with blanks" simulate --model llama-2-7b --cluster dgx-h100 --gpus 8 --global-batch 8 \
  --layout "tp=2, pp=2, dp=2"
# Sizes that round to the same all-to-all call give one row, as braid-perf prints them.
expect_ok "collective rows once per call" collective --cluster dgx-a100 --collective alltoall -b 4 -e 64 --format csv
[ "$(grep -vc '^#' "$tmp/out")" -eq 4 ] || fail "collective rows once per call: $(cat "$tmp/out")"

# A cluster through a pipe (no .json name to go by) is read as JSON, as a model is.
expect_ok "a cluster through a pipe" topo --cluster <(printf '%s' '{"base": "dgx-a100", "nodes": 2}')
grep -qF "2 node(s) x 8 GPU(s) = 16 GPUs" "$tmp/out" || fail "a cluster through a pipe: $(cat "$tmp/out")"

# A file's "nodes" may be outgrown by --gpus, with a note saying so.
printf '{"base": "dgx-a100", "nodes": 2}\n' >"$tmp/two-nodes.json"
if expect_ok "more GPUs than the file's nodes" simulate --model megatron-1.7b --cluster "$tmp/two-nodes.json" \
  --gpus 32 --global-batch 64 --layout tp=1,pp=1,dp=32; then
  grep -qF 'note: '"$tmp/two-nodes.json"' gives "nodes": 2 (16 GPUs); --gpus 32 simulates 4 nodes' "$tmp/err" ||
    fail "more GPUs than the file's nodes: no note on stderr: $(cat "$tmp/err")"
fi

# A calibration shape is whole rows and columns.
printf '{"gemm": [{"m": 1.5, "n": 2, "k": 3, "tflops": 100}]}\n' >"$tmp/fraction-calibration.json"
expect_bad "fractional calibration shape" "gemm[0]: field \"m\" = 1.5 is not a whole number" -- \
  simulate --model megatron-1.7b --cluster dgx-a100 --global-batch 64 --layout tp=1,pp=1,dp=8 \
  --calibration "$tmp/fraction-calibration.json"

# Two points of one shape: the lookup would use the first only.
printf '{"gemm": [{"m": 4096, "n": 4096, "k": 4096, "tflops": 200}, {"m": 8192, "n": 4096, "k": 4096, "tflops": 210}, {"m": 4096, "n": 4096, "k": 4096, "tflops": 220}]}\n' \
  >"$tmp/duplicate-calibration.json"
expect_bad "calibration shape measured twice" "gemm[2]: shape 4096 x 4096 x 4096 is measured again (220 TFLOP/s; gemm[0] has it too)" -- \
  simulate --model megatron-1.7b --cluster dgx-a100 --global-batch 64 --layout tp=1,pp=1,dp=8 \
  --calibration "$tmp/duplicate-calibration.json"

# Fields the benchmark does not write are refused by name, at the top and in a point.
printf '{"gemm": [{"m": 2048, "n": 2048, "k": 2048, "tflops": 100, "x": 1}]}\n' >"$tmp/extra-calibration.json"
expect_bad "unknown field in a calibration point" "gemm[0]: unknown field \"x\"" "tflops_cublas" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1 \
  --calibration "$tmp/extra-calibration.json"
printf '{"gemm": [{"m": 2048, "n": 2048, "k": 2048, "tflops": 100}], "attention": []}\n' >"$tmp/extra-top.json"
expect_bad "unknown top-level field in a calibration file" "unknown field \"attention\"" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1 \
  --calibration "$tmp/extra-top.json"

# A point faster than the shape model allows at full efficiency would set every GEMM to peak.
printf '{"gemm": [{"m": 1, "n": 1, "k": 1, "tflops": 0.001}]}\n' >"$tmp/tiny-calibration.json"
expect_bad "calibration point beyond the shape model" "gemm[0]: 0.001 TFLOP/s at 1 x 1 x 1 is more than" -- \
  simulate --model megatron-1.7b --cluster dgx-a100 --global-batch 64 --layout tp=1,pp=1,dp=8 \
  --calibration "$tmp/tiny-calibration.json"

# A control character in a name would break the table's comment lines (or forge a row).
printf '{"base": "dgx-a100", "name": "evil\\n1,2,3"}\n' >"$tmp/newline-name.json"
expect_bad "control character in a name" "field \"name\" contains a control character (0x0a)" -- \
  topo --cluster "$tmp/newline-name.json"

# The model's own field that does not fit the layout comes with the model's file.
printf '{"layers": 4, "hidden": 1024, "heads": 16, "ffn_hidden": 4095, "activation": "gelu", "seq_len": 128, "vocab": 1000}\n' \
  >"$tmp/odd-ffn.json"
expect_bad "model field against tp" "$tmp/odd-ffn.json" "ffn_hidden (4095) not divisible by tp (8)" -- \
  simulate --model "$tmp/odd-ffn.json" --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1

# Sequence parallelism splits the sequence over the TP ranks (QA, session 51: it was simulated
# with fractional tokens per rank).
printf '{"layers": 4, "hidden": 1024, "heads": 16, "ffn_hidden": 4096, "activation": "gelu", "seq_len": 2047, "vocab": 1000}\n' \
  >"$tmp/odd-seq.json"
expect_bad "sp with a sequence tp does not divide" "seq_len (2047) not divisible by tp (8)" -- \
  simulate --model "$tmp/odd-seq.json" --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1,sp=on

# A simulate that fails leaves no output files behind, and one whose trace cannot be written
# writes no results either.
expect_bad "a failed simulate creates no files" "GiB per GPU" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 64 --layout tp=1,pp=1,dp=8 \
  --out "$tmp/failed.txt" --trace "$tmp/failed.json"
for f in "$tmp/failed.txt" "$tmp/failed.json"; do
  if [ -e "$f" ]; then fail "a failed simulate left $f behind"; fi
done
if [ -w /dev/full ]; then
  expect_bad "trace write fails" "writing '/dev/full' failed: No space left on device (neither file was changed)" -- \
    simulate --model llama-2-7b --cluster dgx-h100 --global-batch 64 --layout tp=2,pp=2,dp=2 \
    --out "$tmp/results.txt" --trace /dev/full
  if [ -e "$tmp/results.txt" ]; then fail "--trace /dev/full failed but --out was written"; fi
  # ... and one whose results cannot be written keeps the trace that was there.
  echo old-trace >"$tmp/kept.json"
  expect_bad "results write fails" "writing '/dev/full' failed: No space left on device (neither file was changed)" -- \
    simulate --model llama-2-7b --cluster dgx-h100 --global-batch 64 --layout tp=2,pp=2,dp=2 \
    --out /dev/full --trace "$tmp/kept.json"
  [ "$(cat "$tmp/kept.json")" = old-trace ] || fail "--out /dev/full failed but the trace was replaced"
  # topo writes as the others do: a stdout it cannot write is an error (it exited 0; QA session 56).
  timeout "$limit" "$plan_sim" topo --cluster dgx-h100 --format json >/dev/full 2>"$tmp/err"
  rc=$?
  [ $rc -eq 2 ] && grep -qF -- "--out -: writing to stdout failed" "$tmp/err" ||
    fail "topo >/dev/full: exit $rc ($(cat "$tmp/err"))"
fi
if expect_ok "topo --out" topo --cluster dgx-h100 --format json --out "$tmp/topo.json"; then
  expect_ok "topo's --out read back" topo --cluster "$tmp/topo.json" ||
    fail "topo --out wrote a cluster file --cluster cannot read"
fi

# --trace - writes the trace to stdout (the results to their file).
if expect_ok "--trace - beside --out FILE" simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 \
    --layout tp=8,pp=1,dp=1 --trace - --out "$tmp/beside-trace.txt"; then
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))["traceEvents"]' "$tmp/out" ||
    fail "--trace -: stdout is not the trace"
  grep -q "tokens/s" "$tmp/beside-trace.txt" || fail "--trace -: the results file lacks the table"
  [ -e ./- ] && fail "--trace - wrote a file named '-'"
fi

# The trace and the results on one stream would mix.
expect_bad "--trace /dev/stdout beside results on stdout" "--trace /dev/stdout" "the same file as --out -" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1 --trace /dev/stdout

expect_bad "a step too long to simulate" "2*4*2*524288" "use a larger mb" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --gpus 32 --global-batch 524288 --layout tp=8,pp=4,dp=1,v=2

expect_bad "--trace unwritable" "--trace: cannot open '$tmp/none/step.json' for writing" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1 --trace "$tmp/none/step.json"

expect_bad "--gpus 0 given" "--gpus" "0" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 0 --global-batch 64

expect_bad "a layout key given twice" "--layout" "\"tp\" given twice" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1,tp=4

expect_bad "dp*mb beyond 32 bits" "global batch (65536) not divisible by dp*mb (65536*65536)" -- \
  simulate --model megatron-1.7b --cluster dgx-a100 --global-batch 65536 --layout tp=1,pp=1,dp=65536,mb=65536

expect_bad "a device as the model file" "/dev/zero" "not a regular file" -- \
  search --model /dev/zero --cluster dgx-a100 --gpus 8 --global-batch 8

expect_bad "topo --format csv" "topo --format csv" "table, json" -- topo --cluster dgx-a100 --format csv

# Options naming a file: an empty name is an error, not "not given".
for option in --trace --out --calibration; do
  expect_bad "$option \"\"" "$option" "empty path" -- \
    simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1 "$option" ""
done

# --trace into the --out file, however named, would overwrite the results.
ln -s "$tmp/results.txt" "$tmp/results-link.txt"
for trace in "$tmp/./results.txt" "$tmp/results-link.txt"; do
  expect_bad "--trace $trace is --out" "the same file as --out" -- \
    simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1 \
    --out "$tmp/results.txt" --trace "$trace"
done

# A FIFO nobody writes to as an input file: an error at once, not a wait for a writer that never
# comes: it reads as an empty pipe.
mkfifo "$tmp/fifo.json" "$tmp/fifo.xml"
limit=10
for input in "--model $tmp/fifo.json" "--cluster $tmp/fifo.json" "--cluster $tmp/fifo.xml" "--calibration $tmp/fifo.json"; do
  read -r option path <<<"$input"
  model=llama-2-7b cluster=dgx-h100 calibration=()
  case $option in
    --model) model=$path ;;
    --cluster) cluster=$path ;;
    --calibration) calibration=(--calibration "$path") ;;
  esac
  why="a pipe that nothing was written to"
  expect_bad "a FIFO as $option" "$path" "$why" -- simulate --model "$model" --cluster "$cluster" \
    --global-batch 8 --layout tp=8,pp=1,dp=1 "${calibration[@]}"
done
limit=120
# A pipe with a writer is read like a file (process substitution).
expect_ok "a model through a pipe" simulate --model <(printf '%s' '{"layers": 4, "hidden": 1024, "heads": 16,
  "kv_heads": 16, "ffn_hidden": 4096, "activation": "gelu", "seq_len": 2048, "vocab": 32000}') \
  --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1

# A cluster through a pipe: an hwloc export (<(ssh node lstopo --of xml -)) is told from a JSON
# cluster file by its '<' (a pipe has no name to go by; exports through pipes were refused).
cat >"$tmp/one-h100.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" allowed_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" allowed_nodeset="0x00000001" gp_index="1">
    <info name="HostName" value="piped-host"/>
    <object type="Package" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="2">
      <object type="NUMANode" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="3" local_memory="17179869184"/>
      <object type="Core" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="4">
        <object type="PU" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="5"/>
      </object>
      <object type="Bridge" gp_index="6" bridge_type="0-1" depth="0" bridge_pci="0000:[80-80]">
        <object type="PCIDev" gp_index="7" pci_busid="0000:80:00.0" pci_type="0302 [10de:2330] [10de:16c1] a1" pci_link_speed="63.015385">
          <object type="OSDev" gp_index="8" name="cuda0" osdev_type="5">
            <info name="Backend" value="CUDA"/>
            <info name="GPUModel" value="NVIDIA H100 80GB HBM3"/>
          </object>
        </object>
      </object>
    </object>
  </object>
</topology>
XML
if expect_ok "an hwloc export through a pipe" topo --cluster <(cat "$tmp/one-h100.xml"); then
  grep -q "^host piped-host (hwloc-xml:/dev/fd/" "$tmp/out" && grep -q "1 node(s) x 1 GPU(s)" "$tmp/out" ||
    fail "an hwloc export through a pipe: $(cat "$tmp/out")"
fi
if expect_ok "a cluster file through a pipe" topo --cluster <(printf '{"base": "dgx-h100", "nodes": 3}'); then
  grep -q "3 node(s) x 8 GPU(s)" "$tmp/out" || fail "a cluster file through a pipe: $(cat "$tmp/out")"
fi
expect_bad "a malformed export through a pipe" "hwloc cannot load this XML topology" -- \
  topo --cluster <(printf '<topology version="2.0">')
# A redirected file has no name to go by either; /dev/zero is refused by what it is; braid's
# topology JSON is named as such, not as a cluster file with unknown fields (QA, session 54).
if expect_ok "an hwloc export on /dev/stdin" topo --cluster /dev/stdin <"$tmp/one-h100.xml"; then
  grep -q "1 node(s) x 1 GPU(s)" "$tmp/out" || fail "an hwloc export on /dev/stdin: $(cat "$tmp/out")"
fi
expect_bad "/dev/zero as --cluster" "/dev/zero: not a regular file (a character device" -- topo --cluster /dev/zero
# Every command names the option whose pipe failed (collective and topo did not; review, session 54).
for command in topo collective; do
  expect_bad "a malformed cluster pipe for $command" "--cluster: /dev/fd/" ": malformed JSON" -- \
    $command --cluster <(printf '{')
done
printf '{"hostname": "h", "cores": 2, "pus": 2, "gpus": []}' >"$tmp/topology.json"
expect_bad "braid's topology JSON as --cluster" "braid's topology JSON (braid-topo --format json), not a cluster file" \
  -- topo --cluster "$tmp/topology.json"

# A cluster file's node count is validated after --gpus sets it, as when the file gives it.
printf '{"base": "dgx-h100", "node": {"nics": 0}}' >"$tmp/no-nics.json"
expect_bad "no NICs on two nodes via --gpus" "--gpus 16" "$tmp/no-nics.json" "node.nics = 0" "[1, 1024]" -- \
  simulate --model llama-2-7b --cluster "$tmp/no-nics.json" --gpus 16 --global-batch 32 --layout tp=8,pp=1,dp=2
expect_ok "no NICs on one node" simulate --model llama-2-7b --cluster "$tmp/no-nics.json" --global-batch 32 \
  --layout tp=8,pp=1,dp=1

# A key given twice in any JSON input is an error naming the file, the key and where it is.
printf '{"name": "dup", "layers": 32, "hidden": 4096, "heads": 32, "ffn_hidden": 11008, "activation": "swiglu",
        "seq_len": 4096, "vocab": 32000, "layers": 64}' >"$tmp/dup-model.json"
expect_bad "duplicate key in a model file" "$tmp/dup-model.json" "duplicate key \"layers\"" -- \
  simulate --model "$tmp/dup-model.json" --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1
printf '{"base": "dgx-h100", "node": {"nics": 8, "gpus": 8, "nics": 4}}' >"$tmp/dup-cluster.json"
expect_bad "duplicate key in a cluster file" "$tmp/dup-cluster.json" "duplicate key \"nics\"" "\"node\"" -- \
  topo --cluster "$tmp/dup-cluster.json"
printf '{"gemm": [{"m": 8192, "n": 8192, "k": 8192, "tflops": 500, "k": 4096}]}' >"$tmp/dup-calibration.json"
expect_bad "duplicate key in a calibration file" "$tmp/dup-calibration.json" "duplicate key \"k\"" "gemm[0]" -- \
  simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1 \
  --calibration "$tmp/dup-calibration.json"

# A search that finds nothing prints nothing on stdout in any format (expect_bad checks).
for format in table csv json; do
  expect_bad "failed search --format $format" "no layout" -- \
    search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 32 --fix tp=3 --format "$format"
done

printf '{"gemm": [{"m": 8192, "n": 8192, "k": 8192, "tflops": 2000}]}' >"$tmp/fast.json"
expect_bad "calibration above the GPU's peak" "$tmp/fast.json" "gemm[0]" "\"tflops\"" "312" -- \
  simulate --model llama-2-7b --cluster dgx-a100 --global-batch 8 --layout tp=8,pp=1,dp=1 --calibration "$tmp/fast.json"

if [ -w /dev/full ]; then  # a short result must not be lost in the stream's buffer
  expect_bad "results that cannot be written" "--out: writing '/dev/full' failed: No space left on device" -- \
    simulate --model llama-2-7b --cluster dgx-a100 --global-batch 8 --layout tp=8,pp=1,dp=1 --out /dev/full
fi

expect_bad "unknown --format" "--format xml" "table, json, csv" -- \
  search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 64 --format xml

# A cluster file as `braid-perf calibrate` writes it (braid's host runtime on CPU ranks).
cat >"$tmp/calibrated.json" <<'EOF_JSON'
{
  "name": "calibrated myhost", "nodes": 1,
  "gpu": {"name": "host rank", "peak_tflops": 0.5, "hbm_GBps": 6.1, "memory_GiB": 23.4, "memory_efficiency": 1.0},
  "node": {"gpus": 2, "nics": 1},
  "calibration": {
    "tool": "braid-perf calibrate", "host": "myhost", "runtime": "host", "ranks_per_node": 2,
    "reduce_GBps": 9.5, "copy_GBps": 6.1, "intra_node": "shm",
    "links": {"shm": {"alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6,
                      "small": {"max_bytes": 8192, "alpha_us": 0.45, "GBps": 1.9}}}
  }
}
EOF_JSON
sed 's/"runtime": "host"/"runtime": "gpu"/' "$tmp/calibrated.json" >"$tmp/gpu-runtime.json"

expect_bad "collective: unknown --collective" "--collective allreduse" "allreduce" "alltoall" -- \
  collective --cluster dgx-a100 --collective allreduse

expect_bad "collective: -b above -e" "-b/--minbytes 1M" "-e/--maxbytes 1K" -- \
  collective --cluster dgx-a100 -b 1M -e 1K

expect_bad "collective: unknown --type" "--type float7" "bfloat16" -- \
  collective --cluster dgx-a100 --type float7

expect_bad "collective: --algorithm that cannot run it" "--algorithm tree" "alltoall" "pairwise" -- \
  collective --cluster dgx-a100 --collective alltoall --algorithm tree

expect_bad "collective: ranks not a multiple of a node" "--ranks 3" "2 ranks per node" -- \
  collective --cluster "$tmp/calibrated.json" --ranks 3

expect_bad "collective: two nodes without an inter-node class" "--ranks 4" "calibration.inter_node" -- \
  collective --cluster "$tmp/calibrated.json" --ranks 4

expect_bad "calibration: runtime other than host" "$tmp/gpu-runtime.json" "\"runtime\"" "host" -- \
  collective --cluster "$tmp/gpu-runtime.json"

expect_bad "--tuner-file on a cluster without a host runtime" "--tuner-file $tmp/calibrated.json" \
  "no \"calibration\" block" -- collective --cluster dgx-a100 --tuner-file "$tmp/calibrated.json"

expect_bad "--tuner-file that is not a calibration" "--tuner-file: $tmp/gpu-runtime.json" "only \"host\"" -- \
  collective --cluster "$tmp/calibrated.json" --tuner-file "$tmp/gpu-runtime.json"

# --tuner-file: the tuner costs with the file's numbers, as braid does with BRAID_TUNER_FILE. Two
# hosts joined by a 1 ms, 0.0625 GB/s network: at 32 KiB the built-in model (1 us, 5 GB/s) keeps
# the ring, the calibrated one a logarithmic algorithm, and predicts less time for it.
python3 - "$tmp/calibrated.json" "$tmp/two-hosts.json" <<'EOF_PY' || fail "could not write two-hosts.json"
import json, sys
doc = json.load(open(sys.argv[1]))
doc["nodes"] = 2
doc["calibration"]["inter_node"] = "tcp"
doc["calibration"]["links"]["tcp"] = {"alpha_us": 1000, "GBps": 0.0625, "bidir_GBps": 0.0625}
json.dump(doc, open(sys.argv[2], "w"))
EOF_PY
tuner_args=(collective --cluster "$tmp/two-hosts.json" --ranks 4 -b 32K -e 32K --format json)
if expect_ok "collective, built-in tuner" "${tuner_args[@]}" && cp "$tmp/out" "$tmp/built-in.json" &&
   expect_ok "collective --tuner-file" "${tuner_args[@]}" --tuner-file "$tmp/two-hosts.json"; then
  python3 - "$tmp/built-in.json" "$tmp/out" <<'EOF_PY' || fail "--tuner-file did not change the tuner's choice (above)"
import json, sys
built_in, calibrated = (json.load(open(p))["rows"][0] for p in sys.argv[1:])
print(built_in["algorithm"], built_in["time_us"], calibrated["algorithm"], calibrated["time_us"])
assert built_in["algorithm"] == "ring", built_in
assert calibrated["algorithm"] != "ring", calibrated
assert calibrated["time_us"] < built_in["time_us"], (built_in, calibrated)
EOF_PY
fi

# ---- well-formed output ----

search_args=(search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 64 --top 3)

if expect_ok "search --format json" "${search_args[@]}" --format json; then
  python3 - "$tmp/out" <<'EOF' || fail "search --format json: results[0] lacks a field (above)"
import json, sys
doc = json.load(open(sys.argv[1]))
results = doc["results"]
assert 1 <= len(results) <= 3, f"{len(results)} results with --top 3"
first = results[0]
for field in ("step_time_s", "tokens_per_s", "tflops_per_gpu", "mfu", "memory_gib_per_gpu", "breakdown"):
    assert field in first, f"results[0] has no {field}: {sorted(first)}"
assert first["step_time_s"] > 0 and 0 < first["mfu"] < 1, first
EOF
fi

if expect_ok "search --format csv" "${search_args[@]}" --format csv; then
  header=$(head -n 1 "$tmp/out")
  case "$header" in
    tp,pp,dp,mb,v,zero,recompute,sp,first,last,step_time_s,tokens_per_s,tflops_per_gpu,*,stage_layers) ;;
    *) fail "search --format csv: unexpected header '$header'" ;;
  esac
  columns=$(awk -F, '{print NF}' "$tmp/out" | sort -u)
  [ "$columns" = 23 ] || fail "search --format csv: rows of $columns columns, expected 23 on each"
  rows=$(($(wc -l <"$tmp/out") - 1))
  if [ "$rows" -lt 1 ] || [ "$rows" -gt 3 ]; then
    fail "search --format csv: $rows rows with --top 3"
  fi
fi

if expect_ok "simulate --trace" simulate --model llama-2-7b --cluster dgx-h100 --global-batch 64 \
    --layout tp=2,pp=2,dp=4 --trace "$tmp/trace.json"; then
  python3 - "$tmp/trace.json" <<'EOF' || fail "simulate --trace: not a Chrome trace (above)"
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
assert isinstance(events, list) and events, "traceEvents is empty"
EOF
fi

# --grad-bucket-copies: PyTorch DDP's bucket copies double the gradient memory of an overlapped
# (pp=1) layout, cost time, and are named in the header.
copies_args=(simulate --model megatron-3.6b --cluster dgx-a100 --gpus 64 --global-batch 512 --grad-reduce-bytes 2
             --layout tp=2,pp=1,dp=32,mb=4,recompute=full)
if expect_ok "simulate without bucket copies" "${copies_args[@]}" --format json; then
  cp "$tmp/out" "$tmp/views.json"
  if expect_ok "simulate --grad-bucket-copies" "${copies_args[@]}" --format json --grad-bucket-copies; then
    python3 - "$tmp/views.json" "$tmp/out" <<'EOF' || fail "--grad-bucket-copies: gradients not doubled (above)"
import json, sys
views, copies = (json.load(open(p))["results"][0] for p in sys.argv[1:3])
assert copies["memory_gib"]["gradients"] == 2 * views["memory_gib"]["gradients"], (views, copies)
assert copies["step_time_s"] > views["step_time_s"], (views["step_time_s"], copies["step_time_s"])
EOF
  fi
fi
if expect_ok "simulate --grad-bucket-copies table" "${copies_args[@]}" --grad-bucket-copies; then
  grep -qF "through bucket copies" "$tmp/out" || fail "--grad-bucket-copies not in the header: $(head -2 "$tmp/out")"
fi

# --no-overlap-param-gather: ZeRO-1's gather goes back after the optimizer, one span per stage in
# the trace instead of one per bucket, and the header says which.
gather_args=(simulate --model llama-2-7b --cluster dgx-h100 --gpus 64 --global-batch 128
             --layout tp=2,pp=1,dp=32,mb=1,zero=1,recompute=none,sp=on)
if expect_ok "simulate --no-overlap-param-gather" "${gather_args[@]}" --no-overlap-param-gather --trace "$tmp/after.json"; then
  grep -qF "ZeRO-1 layouts gather parameters after the optimizer" "$tmp/out" ||
    fail "--no-overlap-param-gather not in the header: $(head -2 "$tmp/out")"
  if expect_ok "simulate, ZeRO-1 gather overlapped" "${gather_args[@]}" --trace "$tmp/overlapped.json"; then
    grep -qF "ZeRO-1 layouts gather parameters under the next step's forward" "$tmp/out" ||
      fail "the overlapped gather not in the header: $(head -2 "$tmp/out")"
    python3 - "$tmp/after.json" "$tmp/overlapped.json" <<'EOF' || fail "--no-overlap-param-gather: trace spans (above)"
import json, sys
def gathers(path):
    events = json.load(open(path))["traceEvents"]
    return [e for e in events if e.get("ph") == "X" and e["name"].startswith("param all-gather")]
after, overlapped = (gathers(p) for p in sys.argv[1:3])
# One span per GPU track: the whole stage after the optimizer, else one per bucket.
assert {e["name"] for e in after} == {"param all-gather"}, [e["name"] for e in after]
assert len({e["name"] for e in overlapped}) > 10, [e["name"] for e in overlapped]
EOF
  fi
fi

# --calibration with a file gpu_gemm_bench wrote on the H100 (tools/gpu_check, 2026-11-24): that
# run's GEMM (the first Hopper kernel, 0.20-0.57x cuBLAS) is slower than plan-sim's default
# efficiencies, so the same layout must take longer on it.
measured_calibration="$(dirname "$0")/../../docs/measurements/2026-11-24-h100-gemm_calibration.json"
calib_args=(simulate --model gpt3-175b --cluster dgx-h100 --gpus 1024 --global-batch 1536 --format json
            --layout tp=8,pp=8,dp=16,mb=1,v=3,zero=1,recompute=selective,sp=on)
if expect_ok "simulate on defaults" "${calib_args[@]}"; then
  cp "$tmp/out" "$tmp/default.json"
  if expect_ok "simulate --calibration (measured H100 file)" "${calib_args[@]}" --calibration "$measured_calibration"; then
    python3 - "$tmp/default.json" "$tmp/out" <<'EOF' || fail "--calibration: the measured file did not slow the step (above)"
import json, sys
default, measured = (json.load(open(p))["results"][0] for p in sys.argv[1:3])
assert measured["step_time_s"] > 1.5 * default["step_time_s"], (default["step_time_s"], measured["step_time_s"])
EOF
  fi
fi

if expect_ok "topo --cluster dgx-a100" topo --cluster dgx-a100; then
  grep -qF NVSwitch "$tmp/out" || fail "topo --cluster dgx-a100 does not print NVSwitch: $(cat "$tmp/out")"
fi

expect_ok "topo --cluster this" topo --cluster this

# topo --format json of a preset or cluster file is a cluster file: read back, it prints the same.
for cluster in dgx-h100 pcie-a100 "$tmp/calibrated.json"; do
  if expect_ok "topo --cluster $cluster --format json" topo --cluster "$cluster" --format json; then
    cp "$tmp/out" "$tmp/printed.json"
    if expect_ok "topo of the printed $cluster" topo --cluster "$tmp/printed.json" --format json; then
      cmp -s "$tmp/printed.json" "$tmp/out" || fail "topo --format json of $cluster does not read back the same: $(diff "$tmp/printed.json" "$tmp/out")"
    fi
  fi
done

if expect_ok "topo --cluster calibrated.json" topo --cluster "$tmp/calibrated.json"; then
  grep -qF "intra-node shm" "$tmp/out" || fail "topo does not print the calibrated classes: $(cat "$tmp/out")"
fi

if expect_ok "collective --format json" collective --cluster "$tmp/calibrated.json" -b 8 -e 1M --format json; then
  python3 - "$tmp/out" <<'EOF' || fail "collective --format json: malformed (above)"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["collective"] == "allreduce" and doc["ranks"] == 2 and doc["runtime"] == "host", doc
assert doc["type"] == "float32" and doc["cluster"] == "calibrated myhost", doc
assert doc["algorithm"] == "auto", doc
rows = doc["rows"]
assert [r["size"] for r in rows] == [8 << i for i in range(18)], [r["size"] for r in rows]
for r in rows:
    for field in ("count", "time_us", "algbw", "busbw", "algorithm", "slice_bytes", "tuner"):
        assert field in r, f"row lacks {field}: {r}"
    assert r["time_us"] > 0 and r["busbw"] == r["algbw"], r
    # The tuner's estimates, best first: the chosen algorithm leads.
    assert r["tuner"].startswith(r["algorithm"] + " "), r
times = [r["time_us"] for r in rows]
assert times == sorted(times), f"times not increasing with size: {times}"
EOF
fi

if expect_ok "collective on a GPU preset" collective --cluster dgx-h100 -b 1M -e 1M; then
  grep -qE "ring|tree|recdoubling" "$tmp/out" || fail "collective table lacks an algorithm: $(cat "$tmp/out")"
fi

# --explain lists, per size, the tuner's estimates under the table, the chosen algorithm first.
if expect_ok "collective --explain" collective --cluster dgx-a100 --ranks 16 -b 4M -e 256M -f 64 \
    --collective broadcast --explain; then
  chosen=$(grep -vE '^#' "$tmp/out" | awk '{print $7}' | tr '\n' ' ')
  explained=$(grep -E '^# +[0-9]+: ' "$tmp/out" | awk '{print $3}' | tr '\n' ' ')
  [ -n "$chosen" ] && [ "$chosen" = "$explained" ] && grep -qE '^# +268435456: [a-z]+ [0-9.]+us \(slice [0-9]+[KM]iB\) < ' "$tmp/out" ||
    fail "collective --explain: rows chose '$chosen', estimates lead with '$explained': $(cat "$tmp/out")"
fi

# --algorithm forces every row's algorithm, as BRAID_ALGO does.
if expect_ok "collective --algorithm tree" collective --cluster dgx-h100 -b 64K -e 256M -f 64 --algorithm tree; then
  rows=$(grep -cvE '^#' "$tmp/out")
  trees=$(grep -vE '^#' "$tmp/out" | grep -cw tree)
  [ "$rows" -eq 3 ] && [ "$trees" -eq 3 ] && grep -qF "forced to tree" "$tmp/out" || fail "--algorithm tree: $trees of $rows rows use a tree: $(cat "$tmp/out")"
fi

# Uneven pipeline stages: Llama 3 405B's 126 layers on 16 stages run as 7 + 14 x 8 + 7; with
# --even-pipeline-stages (Megatron-LM 2021) the same layout is an error naming the split rule.
llama_args=(simulate --model llama-3-405b --cluster dgx-h100 --global-batch 64
            --layout tp=8,pp=16,dp=1,mb=1,v=1,zero=1,recompute=full,sp=on)
if expect_ok "simulate uneven stages" "${llama_args[@]}" --format json; then
  python3 - "$tmp/out" <<'EOF' || fail "uneven stages: stage_layers wrong (above)"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert r["stage_layers"] == [7] + [8] * 14 + [7], r["stage_layers"]
EOF
fi
expect_bad "--even-pipeline-stages" "layers (126) not divisible by pp*v (16*1)" -- "${llama_args[@]}" --even-pipeline-stages

# A search whose only pipelines are uneven beyond Llama 3's one-layer cut: Llama 2 70B's 80
# layers on 56 GPUs with a batch of 512 need a pp that 7 divides (dp must divide 512), and 80 on
# 7, 14 or 28 stages leaves the first and last 4 layers short. Those layouts are searched.
if expect_ok "search with only uneven pipelines" search --model llama-2-70b --cluster dgx-a100 --gpus 56 \
  --global-batch 512 --top 1 --format json; then
  python3 - "$tmp/out" <<'EOF' || fail "search with only uneven pipelines: no pp divisible by 7 (above)"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert r["layout"]["pp"] % 7 == 0 and sum(r["stage_layers"]) == 80, r
EOF
fi

# Explicit first/last layer counts (Megatron-LM's --decoder-first/last-pipeline-num-layers): in a
# layout, and pinned in a search, whose every layout then carries them and splits the rest evenly.
if expect_ok "simulate first/last" "${llama_args[@]/v=1/v=1,first=6,last=8}" --format json; then
  python3 - "$tmp/out" <<'EOF' || fail "first/last: stage_layers wrong (above)"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert r["stage_layers"] == [6] + [8] * 14 + [8], r["stage_layers"]
assert r["layout"]["first"] == 6 and r["layout"]["last"] == 8, r["layout"]
assert r["layout_string"].endswith(",first=6,last=8"), r["layout_string"]
EOF
fi
if expect_ok "search --fix first/last" search --model llama-3-405b --cluster dgx-h100 --gpus 1024 \
    --global-batch 512 --fix tp=8,first=6,last=8 --top 5 --format json; then
  python3 - "$tmp/out" <<'EOF' || fail "search --fix first/last: layouts wrong (above)"
import json, sys
results = json.load(open(sys.argv[1]))["results"]
assert results, "no layouts"
for r in results:
    split = r["stage_layers"]
    assert r["layout"]["first"] == 6 and r["layout"]["last"] == 8, r["layout"]
    assert r["layout"]["pp"] > 1 and sum(split) == 126, (r["layout"], split)
EOF
fi
# first=0 / last=0, as JSON's layout and the CSV columns write the default split, read back as
# that split (they were refused: "must be an integer in [1, 65536]"; QA, session 55).
if expect_ok "simulate first=0,last=0" "${llama_args[@]/v=1/v=1,first=0,last=0}" --format json; then
  python3 - "$tmp/out" <<'EOF' || fail "first=0,last=0: not the default split (above)"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert r["stage_layers"] == [7] + [8] * 14 + [7], r["stage_layers"]
assert r["layout"]["first"] == 0 and r["layout"]["last"] == 0, r["layout"]
EOF
fi
# The stage split shows in table and csv rows, not only in JSON's stage_layers.
first_args=(search --model llama-2-7b --cluster dgx-h100 --gpus 16 --global-batch 32 --fix tp=8,first=1 --top 2)
if expect_ok "search --fix first=1 table" "${first_args[@]}"; then
  grep -qE '\| 1\+31$' "$tmp/out" || fail "table rows lack the stage split 1+31: $(cat "$tmp/out")"
fi
if expect_ok "search --fix first=1 csv" "${first_args[@]}" --format csv; then
  [ "$(tail -n +2 "$tmp/out" | cut -d, -f23 | sort -u)" = "1+31" ] || fail "csv stage_layers is not 1+31: $(cat "$tmp/out")"
  [ "$(tail -n +2 "$tmp/out" | cut -d, -f9 | sort -u)" = "1" ] || fail "csv first is not 1: $(cat "$tmp/out")"
fi

expect_bad "first/last that leave an uneven rest" "the other 14 virtual stages cannot share the remaining 116 layers" \
  -- "${llama_args[@]/v=1/v=1,first=5,last=5}"

# tp must divide the KV groups (Megatron-core's rule); fractional KV heads per rank were modelled.
expect_bad "tp beyond the KV groups" "kv_heads (8) not divisible by tp (16)" "whole KV groups" -- \
  simulate --model llama-2-70b --cluster dgx-h100 --gpus 64 --global-batch 64 --layout tp=16,pp=4,dp=1,recompute=full,sp=on

# --top beyond the 64 layouts simulated by default: the table is as long as asked, and the
# header accounts for every feasible layout.
if expect_ok "search --top 100" search --model gpt3-175b --cluster dgx-a100 --gpus 1024 --global-batch 1536 --top 100; then
  [ "$(grep -cE '^ *[0-9]+ +[0-9]' "$tmp/out")" -eq 100 ] || fail "search --top 100: $(grep -cE '^ *[0-9]+ +[0-9]' "$tmp/out") rows"
  grep -qE "feasible: [0-9]+ simulated( \([0-9]+ ranked by two shorter pipelines, the rows shown in full\))?, [0-9]+ left out as slower by the closed-form estimate" "$tmp/out" ||
    fail "search header does not account for the feasible layouts: $(head -5 "$tmp/out")"
fi

# An --out that cannot be written is refused before a search or sweep runs (it used to fail after).
expect_bad "search --out unwritable" "--out: cannot open '$tmp/no/such.txt' for writing" -- \
  search --model megatron-1.7b --cluster dgx-a100 --gpus 32 --global-batch 512 --out "$tmp/no/such.txt"
expect_bad "collective --out unwritable" "--out: cannot open '$tmp/no/such.txt' for writing" -- \
  collective --cluster dgx-a100 -b 8 -e 64 --out "$tmp/no/such.txt"

# Outputs into FIFOs: written in place for a reader that is there (the check before the run used to
# open and close the FIFO, which ended the reader's input, so nothing arrived), and an error, not a
# wait for ever, when no process reads (QA, session 53).
mkfifo "$tmp/out.fifo" "$tmp/trace.fifo"
small_run=(simulate --model llama-2-7b --cluster dgx-h100 --global-batch 8 --layout tp=8,pp=1,dp=1)
for fifo_option in --out --trace; do
  fifo=$tmp/${fifo_option#--}.fifo
  # The reader opens the FIFO without waiting for a writer and says so; then it reads until the
  # writer has come and gone. (A `cat` behind a sleep was only hoped to be in open() in time.)
  rm -f "$tmp/reader-ready"
  timeout 60 python3 -c '
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
open(sys.argv[2], "w").close()
poller = select.poll()
poller.register(fd, select.POLLIN)
with open(sys.argv[3], "wb") as out:
    while True:
        events = poller.poll(60000)
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            continue  # a writer is there and has written nothing yet
        if data:
            out.write(data)
        elif any(e & select.POLLHUP for _, e in events):
            break  # a writer came and went: the end of input, as for cat (a probe that opened
                   # and closed the FIFO before writing ended it too; QA, session 53)
        # else: no writer came yet (until one has, a FIFO polls idle)
' "$fifo" "$tmp/reader-ready" "$tmp/from-fifo" &
  reader=$!
  for _ in $(seq 1000); do [[ -e "$tmp/reader-ready" ]] && break; sleep 0.01; done
  [[ -e "$tmp/reader-ready" ]] || fail "$fifo_option FIFO: the reader did not start within 10 s"
  limit=60
  if expect_ok "$fifo_option into a FIFO with a reader" "${small_run[@]}" --format json "$fifo_option" "$fifo"; then
    wait $reader
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/from-fifo" ||
      fail "$fifo_option FIFO: the reader got no JSON ($(wc -c <"$tmp/from-fifo") bytes)"
  else
    kill $reader 2>/dev/null
    wait $reader 2>/dev/null
  fi
  limit=20
  expect_bad "$fifo_option into a FIFO without a reader" "$fifo" "no process has open for reading" -- \
    "${small_run[@]}" "$fifo_option" "$fifo"
  limit=120
done

# V100 has no bf16: a bf16 run there is refused (it was simulated at the fp16 peak), fp16 runs.
printf '{"base": "dgx-a100", "gpu": "v100"}' >"$tmp/v100.json"
v100_run=(simulate --model megatron-1.7b --cluster "$tmp/v100.json" --global-batch 32 --layout tp=2,pp=1,dp=4,recompute=full)
expect_bad "bf16 on V100" "training in bf16" "V100 SXM2 32GB" "--fp16" -- "${v100_run[@]}"
expect_ok "fp16 on V100" "${v100_run[@]}" --fp16 --attention unfused
if expect_ok "topo of a V100 cluster" topo --cluster "$tmp/v100.json"; then
  grep -q "125 TFLOP/s fp16 dense" "$tmp/out" || fail "V100 topo does not say fp16: $(cat "$tmp/out")"
fi
printf '{"base": "dgx-a100", "gpu": {"bf16": "no"}}' >"$tmp/bf16-string.json"
expect_bad "gpu.bf16 not a boolean" "gpu" "\"bf16\" must be true or false" -- topo --cluster "$tmp/bf16-string.json"

# A --cluster path is read by its extension; one without, or a directory, is named as such.
cp "$tmp/array-name.json" "$tmp/cluster.txt"
expect_bad "cluster file without an extension" "\"$tmp/cluster.txt\" has neither a .json (cluster file) nor an .xml" -- \
  topo --cluster "$tmp/cluster.txt"
mkdir -p "$tmp/cluster-dir"
expect_bad "cluster directory" "\"$tmp/cluster-dir\" is a directory" -- topo --cluster "$tmp/cluster-dir"

# CSV numbers keep every digit (6 significant ones cut tokens/s of large runs).
if expect_ok "csv precision" simulate --model llama-2-7b --cluster dgx-a100 --gpus 1048576 --global-batch 1048576 \
  --layout tp=8,pp=1,dp=131072 --format csv; then
  tail -n +2 "$tmp/out" | cut -d, -f12 | grep -qE '^[0-9]{10}' || fail "csv tokens_per_s is rounded: $(cat "$tmp/out")"
fi

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all plan-sim CLI checks passed"
