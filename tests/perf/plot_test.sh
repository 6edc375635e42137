#!/usr/bin/env bash
# `braid-perf plot`: hand-made braid-perf --json results of both kinds (point-to-point suites and
# a collective, braid and mpi backends) drawn to SVG and PNG; every kind of bad input (an output
# path that cannot be written included) exits 2 with a message naming the problem, a failing
# gnuplot exits 1 with gnuplot's own message, keeps the older image and shows no image data.
#
# usage: plot_test.sh path/to/braid-perf
set -uo pipefail

perf="${1:?usage: plot_test.sh path/to/braid-perf}"
source "$(dirname "${BASH_SOURCE[0]}")/../common/check_script.sh" braid-plot-test

# p2p_rows <field> <value at 1 B>: rows of sizes 0, 1, 4, ..., 4M; the value grows with the
# size (a latency or a bandwidth in MB/s).
p2p_rows() {
  local rows="" size value
  for size in 0 1 4 16 64 256 1024 4096 16384 65536 262144 1048576 4194304; do
    value=$(awk -v s="${size}" -v v="$2" 'BEGIN { printf "%.3f", v * (1 + s / 1024) }')
    rows+="${rows:+,}{\"size\": ${size}, \"$1\": ${value}}"
  done
  echo "[${rows}]"
}

# p2p_json <file> <suite> <backend> <field> <value at 1 B> [<more members>]
p2p_json() {
  printf '{"suite": "%s", "backend": "%s", "nranks": 2, "context": {"host": "testhost"}, "rows": %s%s}\n' \
    "$2" "$3" "$(p2p_rows "$4" "$5")" "${6:+, $6}" >"$1"
}

# versus_json <file>: a latency result timed with --versus ucx (braid's rows, then ucx's).
versus_json() {
  p2p_json "$1" latency braid latency_us 2.5 \
    "\"versus\": {\"backend\": \"ucx\", \"rows\": $(p2p_rows latency_us 2.0)}"
}

# collective_json <file> <backend> <busbw at 8 B>: allreduce rows 8 B .. 1M, "ip" null in one row.
collective_json() {
  local rows="" size bw ip
  for size in 8 64 512 4096 32768 262144 1048576; do
    bw=$(awk -v s="${size}" -v v="$3" 'BEGIN { printf "%.4f", v * s / 8 }')
    ip="{\"time_us\": 12.5, \"algbw\": ${bw}, \"busbw\": ${bw}, \"wrong\": 0}"
    [[ ${size} -eq 64 ]] && ip=null
    rows+="${rows:+,}{\"size\": ${size}, \"count\": $((size / 4)), \"oop\": {\"time_us\": 10.5, \"algbw\": ${bw}, \"busbw\": ${bw}, \"wrong\": 0}, \"ip\": ${ip}}"
  done
  printf '{"collective": "allreduce", "backend": "%s", "nranks": 4, "host": "testhost", "rows": [%s], "avg_busbw": 1.0}\n' \
    "$2" "${rows}" >"$1"
}

p2p_json "${dir}/braid_lat.json" latency braid latency_us 2.5
p2p_json "${dir}/mpi_lat.json" latency mpi latency_us 3.5
p2p_json "${dir}/braid_bw.json" bw braid bandwidth_MBps 1.5
p2p_json "${dir}/mpi_bw.json" bw mpi bandwidth_MBps 1.0
collective_json "${dir}/braid_ar.json" braid 0.0001
collective_json "${dir}/mpi_ar.json" mpi 0.00008

# expect_contains <file> <text...>: each text occurs in the file.
expect_contains() {
  local file="$1" text
  shift
  for text in "$@"; do
    grep -qF -- "${text}" "${file}" || fail "$(basename "${file}") lacks '${text}'"
  done
}

# ---- two panels (bandwidth and latency) to SVG ---------------------------------------------------
all=("${dir}"/braid_lat.json "${dir}"/mpi_lat.json "${dir}"/braid_bw.json "${dir}"/mpi_bw.json
     "${dir}"/braid_ar.json "${dir}"/mpi_ar.json)
if out="$("${perf}" plot -o "${dir}/all.svg" "${all[@]}" 2>&1)"; then
  expect_contains "${dir}/all.svg" "<svg" "braid latency (2 ranks)" "mpi latency (2 ranks)" \
    "braid bw (2 ranks)" "mpi bw (2 ranks)" "braid allreduce (4 ranks)" "mpi allreduce (4 ranks)" \
    "bandwidth (GB/s" "latency (us)" "message size (bytes)" ">1K<" ">1M<" "testhost"
  grep -qF "size 0" <<<"${out}" || fail "no note about the left-out 0-byte rows: ${out}"
else
  fail "two-panel SVG: exit $?: ${out}"
fi

# ---- one panel to PNG: bandwidth only, a label set on the command line ----------------------------
if out="$("${perf}" plot -o "${dir}/bw.png" --title "bw test" "${dir}/braid_bw.json:braid tuned" \
            "${dir}/mpi_ar.json" 2>&1)"; then
  signature="$(head -c 8 "${dir}/bw.png" | od -An -tx1 | tr -d ' \n')"
  [[ "${signature}" == "89504e470d0a1a0a" ]] || fail "bw.png does not start with the PNG signature (${signature})"
else
  fail "PNG: exit $?: ${out}"
fi
"${perf}" plot -o "${dir}/label.svg" "${dir}/braid_bw.json:braid tuned" --no-log-y >/dev/null 2>&1 &&
  expect_contains "${dir}/label.svg" "braid tuned" "bandwidth (GB/s)" ||
  fail "label override / --no-log-y"

# ---- a --versus result: both backends of the one file, the second dashed ---------------------------
versus_json "${dir}/versus.json"
"${perf}" plot -o "${dir}/versus.svg" "${dir}/versus.json" >/dev/null 2>&1 &&
  expect_contains "${dir}/versus.svg" "braid latency (2 ranks)" "ucx latency (2 ranks)" "stroke-dasharray" ||
  fail "--versus result"
"${perf}" plot -o "${dir}/versus_label.svg" "${dir}/versus.json:tuned" >/dev/null 2>&1 &&
  expect_contains "${dir}/versus_label.svg" ">tuned<" "tuned: ucx latency (2 ranks)" ||
  fail "--versus result with a label"

# ---- --y time: a collective alone gives one latency panel ------------------------------------------
"${perf}" plot -o "${dir}/time.svg" --y time "${dir}/braid_ar.json" >/dev/null 2>&1 &&
  expect_contains "${dir}/time.svg" "latency (us; collectives: time per call)" "braid allreduce (4 ranks)" ||
  fail "--y time"

# ---- bad input: exit 2 and a message naming the problem ---------------------------------------------
printf 'not json at all\n' >"${dir}/text.json"
printf '{"suite": "latency", "rows": [{"size": 8, "latency_us": 1, "size": 16}]}\n' >"${dir}/twokeys.json"
printf '{"suite": "bw", "backend": "braid", "nranks": 2}\n' >"${dir}/norows.json"
printf '{"backend": "braid", "rows": [{"size": 8, "bandwidth_MBps": 1}]}\n' >"${dir}/nokind.json"
printf '{"suite": "latency", "rows": [{"size": 8, "bandwidth_MBps": 1}]}\n' >"${dir}/nofield.json"
printf '{"collective": "allreduce", "rows": [{"size": 8, "oop": {"time_us": 1}}]}\n' >"${dir}/nobusbw.json"
printf '{"suite": "pingpong", "rows": [{"size": 8, "latency_us": 1}]}\n' >"${dir}/badsuite.json"
printf '{"suite": 5, "rows": [{"size": 8, "latency_us": 1}]}\n' >"${dir}/numbersuite.json"
printf '{"collective": "allsum", "rows": [{"size": 8, "oop": {"busbw": 1}}]}\n' >"${dir}/badcollective.json"
printf '{"suite": "bw", "collective": "allreduce", "rows": [{"size": 8, "bandwidth_MBps": 1}]}\n' >"${dir}/bothkinds.json"
printf '{"suite": "latency", "rows": [{"size": 1.5, "latency_us": 1}]}\n' >"${dir}/fraction.json"
printf '{"suite": "latency", "rows": [{"size": 8, "latency_us": 1}, {"size": 8, "latency_us": 2}]}\n' >"${dir}/repeated.json"
printf '{"suite": "bw", "rows": [{"size": 8, "bandwidth_MBps": 1}], "versus": {"rows": []}}\n' >"${dir}/versus_nobackend.json"
printf '{"suite": "bw", "rows": [{"size": 8, "bandwidth_MBps": 1}], "versus": {"backend": "ucx", "rows": [{"size": 8}]}}\n' >"${dir}/versus_nofield.json"
printf '{"collective": "allreduce", "rows": [{"size": 8, "oop": {"busbw": 1}}], "versus": {"backend": "mpi"}}\n' >"${dir}/versus_collective.json"

# expect_exit <code> <message regex (may span lines)> <command...>; the output stays in ${out}.
out=""
expect_exit() {
  local want="$1" pattern="$2" code
  shift 2
  out="$("$@" 2>&1)"
  code=$?
  [[ ${code} -eq ${want} ]] || fail "'${*}' exited ${code}, expected ${want}: ${out}"
  grep -qzE -- "${pattern}" <<<"${out}" || fail "'${*}': message does not match '${pattern}': ${out}"
}

expect_exit 2 "missing\.json: no such file" "${perf}" plot -o "${dir}/x.svg" "${dir}/missing.json"
# FILE:label with an empty label: refused for a file that exists; a missing one is named as missing.
expect_exit 2 "braid_lat\.json:: empty label after ':'" "${perf}" plot -o "${dir}/x.svg" "${dir}/braid_lat.json:"
expect_exit 2 "missing\.json: no such file" "${perf}" plot -o "${dir}/x.svg" "${dir}/missing.json:"
expect_exit 2 "text\.json: malformed JSON" "${perf}" plot -o "${dir}/x.svg" "${dir}/text.json"
# /dev/zero was read until memory ran out, a FIFO without a writer waited for ever (QA, session 54).
expect_exit 2 "/dev/zero: not a regular file \\(a character device" "${perf}" plot -o "${dir}/x.svg" /dev/zero
mkfifo "${dir}/nobody.json"
expect_exit 2 "nobody\.json: a pipe that nothing was written to" timeout 20 "${perf}" plot -o "${dir}/x.svg" "${dir}/nobody.json"
# A key given twice was read as its last value (QA, session 53): refused, naming the key and where.
expect_exit 2 "twokeys\.json: duplicate key \"size\" in \"rows\[0\]\"" "${perf}" plot -o "${dir}/x.svg" "${dir}/twokeys.json"
# --y only says what collective results show (QA, session 51: it was ignored in silence).
expect_exit 2 "--y chooses what collective results show" "${perf}" plot --y algbw -o "${dir}/x.svg" "${dir}/braid_lat.json"
expect_exit 2 "norows\.json: no \"rows\" array" "${perf}" plot -o "${dir}/x.svg" "${dir}/norows.json"
expect_exit 2 "nokind\.json: neither \"suite\" nor \"collective\"" "${perf}" plot -o "${dir}/x.svg" "${dir}/nokind.json"
expect_exit 2 "nofield\.json: rows\[0\] has no numeric \"latency_us\"" "${perf}" plot -o "${dir}/x.svg" "${dir}/nofield.json"
expect_exit 2 "nobusbw\.json: rows\[0\] \"oop\" has no numeric \"busbw\"" "${perf}" plot -o "${dir}/x.svg" "${dir}/nobusbw.json"
expect_exit 2 "badsuite\.json: unknown suite \"pingpong\"" "${perf}" plot -o "${dir}/x.svg" "${dir}/badsuite.json"
expect_exit 2 "numbersuite\.json: \"suite\" is a JSON number, not a string" "${perf}" plot -o "${dir}/x.svg" "${dir}/numbersuite.json"
expect_exit 2 "badcollective\.json: unknown collective \"allsum\" \(known: allreduce, " "${perf}" plot -o "${dir}/x.svg" "${dir}/badcollective.json"
expect_exit 2 "bothkinds\.json: both \"suite\" \(\"bw\"\) and \"collective\" \(\"allreduce\"\) are set" "${perf}" plot -o "${dir}/x.svg" "${dir}/bothkinds.json"
expect_exit 2 "fraction\.json: rows\[0\] has the size 1\.5, not a whole number of bytes" "${perf}" plot -o "${dir}/x.svg" "${dir}/fraction.json"
expect_exit 2 "repeated\.json: rows\[1\] has the size 8 after 8: sizes must ascend" "${perf}" plot -o "${dir}/x.svg" "${dir}/repeated.json"
expect_exit 2 "versus_nobackend\.json: \"versus\" has no \"backend\"" "${perf}" plot -o "${dir}/x.svg" "${dir}/versus_nobackend.json"
expect_exit 2 "versus_nofield\.json: versus\.rows\[0\] has no numeric \"bandwidth_MBps\"" "${perf}" plot -o "${dir}/x.svg" "${dir}/versus_nofield.json"
expect_exit 2 "versus_collective\.json: \"versus\" is not a point-to-point" "${perf}" plot -o "${dir}/x.svg" "${dir}/versus_collective.json"
expect_exit 2 "unknown extension '\.pdf'" "${perf}" plot -o "${dir}/x.pdf" "${dir}/braid_bw.json"
expect_exit 2 "^braid-perf plot: files is required" "${perf}" plot -o "${dir}/x.svg"
expect_exit 2 "gnuplot is not installed .*gnuplot-nox" env PATH=/nonexistent "${perf}" plot -o "${dir}/x.svg" "${dir}/braid_bw.json"
# An output that cannot be written is refused before gnuplot runs (exit 2), and no image data
# reaches the terminal.
for ext in svg png; do
  expect_exit 2 "-o: cannot open '${dir}/no/such/dir\.${ext}' for writing: No such file or directory" \
    "${perf}" plot -o "${dir}/no/such/dir.${ext}" "${dir}/braid_bw.json"
  grep -qaE "<svg|<\?xml|PNG" <<<"${out}" && fail "-o ${dir}/no/such/dir.${ext}: image data in the output: ${out}"
done
expect_exit 2 "-o: cannot open '${dir}/x\.svg' for writing: it is a directory" \
  bash -c "mkdir '${dir}/x.svg' && '${perf}' plot -o '${dir}/x.svg' '${dir}/braid_bw.json'"
rmdir "${dir}/x.svg"

# A log y axis over less than a decade (0.46-3.5 us) is labelled through its lower part too.
printf '{"suite": "latency", "backend": "braid", "nranks": 2, "context": {"host": "h"}, "rows": [%s]}\n' \
  '{"size": 1, "latency_us": 0.46}, {"size": 2, "latency_us": 0.7}, {"size": 4, "latency_us": 1.2}, {"size": 8, "latency_us": 3.5}' \
  >"${dir}/narrow.json"
if out="$("${perf}" plot -o "${dir}/narrow.svg" "${dir}/narrow.json" 2>&1)"; then
  expect_contains "${dir}/narrow.svg" "<text>0.5</text>" "<text>0.8</text>" "<text>1.5</text>" "<text>3</text>"
else
  fail "a narrow latency range: ${out}"
fi
rm -f "${dir}/narrow.json" "${dir}/narrow.svg"

# Two runs of one suite and backend, no labels given: each legend entry also names its file.
cp "${dir}/braid_lat.json" "${dir}/braid_lat_again.json"
if out="$("${perf}" plot -o "${dir}/twice.svg" "${dir}/braid_lat.json" "${dir}/braid_lat_again.json" 2>&1)"; then
  expect_contains "${dir}/twice.svg" "braid latency (2 ranks) (braid_lat.json)" "braid latency (2 ranks) (braid_lat_again.json)"
else
  fail "two runs of one suite: ${out}"
fi
rm -f "${dir}/braid_lat_again.json" "${dir}/twice.svg"
# The same file twice: the entries are numbered in the order given.
if out="$("${perf}" plot -o "${dir}/same.svg" "${dir}/braid_lat.json" "${dir}/braid_lat.json" 2>&1)"; then
  expect_contains "${dir}/same.svg" "braid latency (2 ranks) (braid_lat.json) #1" "braid latency (2 ranks) (braid_lat.json) #2"
else
  fail "the same file twice: ${out}"
fi
rm -f "${dir}/same.svg"
# The image over one of its inputs (by name, or through a hard link): refused, the input kept.
cp "${dir}/braid_lat.json" "${dir}/input.svg"
ln "${dir}/input.svg" "${dir}/linked.svg"
for input in input.svg linked.svg; do
  out="$("${perf}" plot -o "${dir}/input.svg" "${dir}/braid_lat.json" "${dir}/${input}" 2>&1)"
  code=$?
  [[ ${code} -eq 2 ]] && grep -qF -- "-o ${dir}/input.svg is the input ${dir}/${input}" <<<"${out}" ||
    fail "-o naming the input ${input}: exit ${code}: ${out}"
  cmp -s "${dir}/braid_lat.json" "${dir}/input.svg" || fail "-o naming the input ${input} changed it"
done
rm -f "${dir}/input.svg" "${dir}/linked.svg"

# gnuplot itself fails (a stand-in that prints an image on stdout and an error on stderr): exit 1
# with its message only, and the image already there is kept.
mkdir "${dir}/bad-gnuplot"
printf '#!/bin/sh\necho "<svg>drawn anyway</svg>"\necho "gnuplot: out of ink" >&2\nexit 1\n' >"${dir}/bad-gnuplot/gnuplot"
chmod +x "${dir}/bad-gnuplot/gnuplot"
printf 'an older image\n' >"${dir}/kept.svg"
expect_exit 1 "gnuplot failed \(exit status 1\) writing .*kept\.svg:.*out of ink" \
  env PATH="${dir}/bad-gnuplot:${PATH}" "${perf}" plot -o "${dir}/kept.svg" "${dir}/braid_bw.json"
grep -q "drawn anyway" <<<"${out}" && fail "a failing gnuplot's stdout reached the output: ${out}"
[[ "$(cat "${dir}/kept.svg")" == "an older image" ]] || fail "a failing gnuplot replaced kept.svg"
[[ -z "$(ls -A "${dir}" | grep '^\.')" ]] || fail "temporary files left beside the output: $(ls -A "${dir}")"

# A gnuplot killed by a signal, and one that exits 0 without drawing: each said as it is.
mkdir "${dir}/killed-gnuplot" "${dir}/idle-gnuplot"
printf '#!/bin/sh\nkill -9 $$\n' >"${dir}/killed-gnuplot/gnuplot"
printf '#!/bin/sh\nexit 0\n' >"${dir}/idle-gnuplot/gnuplot"
chmod +x "${dir}/killed-gnuplot/gnuplot" "${dir}/idle-gnuplot/gnuplot"
expect_exit 1 "gnuplot failed \(killed by signal 9 \(Killed\)\) writing .*kept\.svg" \
  env PATH="${dir}/killed-gnuplot:${PATH}" "${perf}" plot -o "${dir}/kept.svg" "${dir}/braid_bw.json"
expect_exit 1 "gnuplot drew no image \(exit status 0\) writing .*kept\.svg" \
  env PATH="${dir}/idle-gnuplot:${PATH}" "${perf}" plot -o "${dir}/kept.svg" "${dir}/braid_bw.json"
[[ "$(cat "${dir}/kept.svg")" == "an older image" ]] || fail "a killed or idle gnuplot replaced kept.svg"
rm -r "${dir}/killed-gnuplot" "${dir}/idle-gnuplot"

# No directory for the scratch files: named by TMPDIR.
expect_exit 1 "no directory for temporary files: TMPDIR='${dir}/none'" \
  env TMPDIR="${dir}/none" "${perf}" plot -o "${dir}/kept.svg" "${dir}/braid_bw.json"

finish_checks "braid-perf plot drew SVG and PNG and rejected every bad input"
