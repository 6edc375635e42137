#!/usr/bin/env bash
# braid-perf's --json and --csv files are replaced only by a run that completes: a run refused
# because its buffers do not fit this machine's memory, one whose buffers cannot be allocated,
# one with a bad option, and one whose other output cannot be written all exit 2 and leave the
# files there as they were; a complete run
# replaces them (keeping their permissions) and leaves no temporary file beside them; an output
# that cannot be written, or two that are one file (even through a dangling symlink, or stdout
# by another name), is refused before the run; a dangling symlink is written through, and a FIFO
# without a reader is an error, not a hang.
#
# usage: outputs_kept.sh path/to/braid-perf <launcher: mpiexec -n 2 [flags]...>
set -uo pipefail

perf="${1:?usage: outputs_kept.sh braid-perf mpiexec -n 2 [flags...]}"
shift
launch=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/../common/check_script.sh" braid-outputs-kept

json="${dir}/keep.json"
csv="${dir}/keep.csv"
outputs=(--json "${json}" --csv "${csv}")

# expect_kept <code> <message regex> <command...>: the exit code and message, both files as they were.
expect_kept() {
  local want="$1" pattern="$2" out code
  shift 2
  echo '{"kept": "json"}' >"${json}"
  echo 'kept,csv' >"${csv}"
  out="$("$@" 2>&1)"
  code=$?
  [[ ${code} -eq ${want} ]] || fail "'${*}' exited ${code}, expected ${want}: ${out}"
  grep -qE -- "${pattern}" <<<"${out}" || fail "'${*}': output does not match '${pattern}': ${out}"
  [[ "$(cat "${json}")" == '{"kept": "json"}' ]] || fail "'${*}' changed keep.json: $(head -c 200 "${json}")"
  [[ "$(cat "${csv}")" == 'kept,csv' ]] || fail "'${*}' changed keep.csv: $(head -c 200 "${csv}")"
  [[ "$(ls -A "${dir}" | tr '\n' ' ')" == "keep.csv keep.json " ]] || fail "'${*}' left files: $(ls -A "${dir}")"
}

# Refused by the memory check: 1 PiB per buffer fits no machine.
expect_kept 2 "allreduce with -e/--maxbytes 1125899906842624 B \(1\.0 PiB\) needs 3\.0 PiB per rank, but host memory" \
  "${launch[@]}" "${perf}" allreduce -b 8 -e 1048576G "${outputs[@]}"
# The buffers cannot be allocated (an address-space limit below the 2 GiB they need): every rank
# reports it and leaves with exit 2 instead of aborting. Not on GPU machines, where the CUDA
# runtime reserves more address space than the limit leaves.
if [[ ! -e /dev/nvidia0 ]]; then
  expect_kept 2 "rank [01]: allocating the message buffers failed \(std::bad_alloc\)|needs .* per rank, but" \
    bash -c 'ulimit -v 1500000 && exec "$@"' limited "${launch[@]}" "${perf}" bw -b 1G -e 1G -n 1 -w 0 "${outputs[@]}"
fi
# A bad option: refused before anything is opened.
expect_kept 2 "--stepfactor: '1' is not an integer in \\[2, 1073741824\\]" "${launch[@]}" "${perf}" allreduce -f 1 "${outputs[@]}"

# An output that fails while being written (a full device): the run exits 2 and the other file is
# not replaced either (the two are replaced all or none).
echo '{"kept": "json"}' >"${json}"
out="$("${launch[@]}" "${perf}" latency -b 8 -e 8 -n 2 --json "${json}" --csv /dev/full 2>&1)"
code=$?
[[ ${code} -eq 2 ]] && grep -qF -- "writing '/dev/full' failed: No space left on device; no output file was replaced" <<<"${out}" ||
  fail "--csv /dev/full: exit ${code}: ${out}"
[[ "$(cat "${json}")" == '{"kept": "json"}' ]] || fail "--csv /dev/full replaced keep.json: $(head -c 200 "${json}")"
[[ "$(ls -A "${dir}" | tr '\n' ' ')" == "keep.csv keep.json " ]] || fail "--csv /dev/full left files: $(ls -A "${dir}")"

# A complete run replaces both files, keeping their permissions.
chmod 640 "${json}" "${csv}"
if out="$("${launch[@]}" "${perf}" allreduce -b 8 -e 64 -n 1 -w 0 "${outputs[@]}" 2>&1)"; then
  grep -q '"wrong_total": 0' "${json}" || fail "keep.json was not replaced by the results: $(head -c 200 "${json}")"
  grep -q '^collective,backend,nranks,algo,size,' "${csv}" || fail "keep.csv was not replaced by the results: $(head -c 200 "${csv}")"
  [[ "$(stat -c %a "${json}") $(stat -c %a "${csv}")" == "640 640" ]] ||
    fail "the permissions changed: $(stat -c '%n %a' "${json}" "${csv}")"
  [[ "$(ls -A "${dir}" | tr '\n' ' ')" == "keep.csv keep.json " ]] || fail "temporary files left: $(ls -A "${dir}")"
else
  fail "a complete run exited $?: ${out}"
fi

# An output that cannot be written: exit 2 before the run.
out="$("${launch[@]}" "${perf}" allreduce -b 8 -e 64 --json "${dir}/no/such.json" 2>&1)"
code=$?
[[ ${code} -eq 2 ]] && grep -qF -- "--json: cannot open '${dir}/no/such.json' for writing: No such file or directory" <<<"${out}" ||
  fail "--json into a missing directory: exit ${code}: ${out}"

# --csv through a dangling symlink to the --json file: one file, refused before the run (writing
# the JSON creates the link's target, and the CSV would then replace it).
ln -s results.json "${dir}/link.csv"
out="$("${launch[@]}" "${perf}" allreduce -b 8 -e 64 --json "${dir}/results.json" --csv "${dir}/link.csv" 2>&1)"
code=$?
[[ ${code} -eq 2 ]] && grep -qF -- "name the same file" <<<"${out}" ||
  fail "--csv through a dangling symlink to the --json file: exit ${code}: ${out}"
[[ ! -e "${dir}/results.json" ]] || fail "the refused run wrote ${dir}/results.json"
rm -f "${dir}/link.csv"

# Two different loops of symbolic links: each is named as a loop, not taken for one file.
ln -s lb "${dir}/la"; ln -s la "${dir}/lb"; ln -s ld "${dir}/lc"; ln -s lc "${dir}/ld"
out="$("${launch[@]}" "${perf}" latency -b 8 -e 8 -n 2 --json "${dir}/la" --csv "${dir}/lc" 2>&1)"
code=$?
[[ ${code} -eq 2 ]] && grep -qF -- "Too many levels of symbolic links" <<<"${out}" ||
  fail "--json and --csv through two loops of links: exit ${code}: ${out}"
rm -f "${dir}/la" "${dir}/lb" "${dir}/lc" "${dir}/ld"

# --json through a dangling symlink: written through it (the link stays, its target appears).
ln -s through.json "${dir}/dangling.json"
out="$("${launch[@]}" "${perf}" latency -b 8 -e 8 -n 2 --json "${dir}/dangling.json" 2>&1)" ||
  fail "--json through a dangling symlink: exit $?: ${out}"
[[ -L "${dir}/dangling.json" ]] && grep -q '"suite": "latency"' "${dir}/through.json" ||
  fail "--json through a dangling symlink replaced the link instead of creating its target: $(ls -l "${dir}")"
rm -f "${dir}/dangling.json" "${dir}/through.json"

# Two documents on stdout, one of them by another name: refused before the run.
out="$("${launch[@]}" "${perf}" latency -b 8 -e 8 -n 2 --csv - --json /dev/stdout 2>&1)"
code=$?
[[ ${code} -eq 2 ]] && grep -qF -- "name the same file" <<<"${out}" ||
  fail "--csv - with --json /dev/stdout: exit ${code}: ${out}"

# A FIFO that nobody reads: an error when the results are written, not a wait for ever.
mkfifo "${dir}/fifo"
out="$(timeout 60 "${launch[@]}" "${perf}" latency -b 8 -e 8 -n 2 --json "${dir}/fifo" 2>&1)"
code=$?
[[ ${code} -eq 2 ]] && grep -qF -- "writing '${dir}/fifo' failed: it is a FIFO that no process has open for reading" <<<"${out}" ||
  fail "--json to a FIFO without a reader: exit ${code}: ${out}"
rm -f "${dir}/fifo"

finish_checks "--json and --csv were kept by every failed run and replaced by a complete one"
