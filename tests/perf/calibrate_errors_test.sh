#!/usr/bin/env bash
# `braid-perf calibrate` refuses what it cannot do before measuring anything, and a run that
# fails keeps the --out file already there: a class this machine lacks (ib without InfiniBand),
# a launcher that is not there, a size beyond the point-to-point suites' 1 GiB, a run inside an
# MPI job (calibrate launches its own), a class named twice; a launcher whose jobs all fail, or
# fail for one class only (exit 1, nothing written). Its jobs bind their ranks to cores in the
# launcher's own syntax (MPICH's Hydra, Open MPI). Fake launchers stand in for mpiexec, so this
# takes a second; only the one-class failure runs the other class for real, through mpiexec.
#
# usage: calibrate_errors_test.sh path/to/braid-perf
set -uo pipefail

perf="${1:?usage: calibrate_errors_test.sh path/to/braid-perf}"
source "$(dirname "${BASH_SOURCE[0]}")/../common/check_script.sh" braid-calibrate-errors

keep="${dir}/keep.json"
sentinel='{"kept": true}'

# expect <code> <message regex> <command...>: the exit code, the message, and keep.json untouched.
expect() {
  local want="$1" pattern="$2" out code
  shift 2
  printf '%s\n' "${sentinel}" >"${keep}"
  out="$("$@" 2>&1)"
  code=$?
  [[ ${code} -eq ${want} ]] || fail "'${*}' exited ${code}, expected ${want}: ${out}"
  grep -qE -- "${pattern}" <<<"${out}" || fail "'${*}': message does not match '${pattern}': ${out}"
  [[ "$(cat "${keep}")" == "${sentinel}" ]] || fail "'${*}' changed ${keep}: '$(cat "${keep}")'"
  [[ -z "$(ls -A "${dir}" | grep -v -e '^keep.json$' -e '^fake' -e '^jobs')" ]] ||
    fail "'${*}' left files behind: $(ls -A "${dir}")"
}

# fake_launcher <name> <its --version line>: answers --version, records every job's arguments in
# jobs-<name>.txt and fails it.
fake_launcher() {
  printf '#!/usr/bin/env bash\nif [[ "$1" == --version ]]; then echo "%s"; exit 0; fi\necho "$*" >>"%s"\nexit 1\n' \
    "$2" "${dir}/jobs-$1.txt" >"${dir}/fake-$1"
  chmod +x "${dir}/fake-$1"
}

run=("${perf}" calibrate --out "${keep}" -e 64K --repeat 1)

# ---- refused up front: exit 2 ---------------------------------------------------------------------
if [[ -z "$(ls -A /sys/class/infiniband 2>/dev/null)" ]]; then
  expect 2 "--classes 'ib': class ib cannot be measured here: this machine has no InfiniBand device" \
    "${run[@]}" --classes ib
  expect 2 "class ib cannot be measured here" "${run[@]}" --classes shm,ib
else
  echo "note: this machine has InfiniBand devices; the --classes ib refusal is not checked"
fi
expect 2 "--classes 'shm,udp': unknown class 'udp'" "${run[@]}" --classes shm,udp
expect 2 "--classes 'shm,': empty class name after the last ','" "${run[@]}" --classes shm,
expect 2 "--mpiexec '/nonexistent/mpiexec': no such executable" "${run[@]}" --mpiexec /nonexistent/mpiexec
expect 2 "--name: empty \(leave it out for 'calibrated <host>'\)" "${run[@]}" --name ""
expect 2 "-e/--maxbytes '2G' is invalid \(a size in \[64K, 1G\]" "${perf}" calibrate --out "${keep}" -e 2G
# The memory phase (last, after the link jobs) is refused up front when it cannot fit: 1024 ranks
# x 2 x 256 MiB is 512 GiB.
expect 2 "memory measurement needs 512.*--ranks-per-node 1024.*lower --ranks-per-node or -e" \
  "${run[@]}" --ranks-per-node 1024
# Below 64 KiB the bandwidth fit would have no windowed rate (it fitted sub-KiB ping-pongs).
expect 2 "-e/--maxbytes '32K' is invalid \(a size in \[64K, 1G\].*from 64 KiB" "${perf}" calibrate --out "${keep}" -e 32K
expect 2 "--out: cannot open '${dir}/no/such.json' for writing" "${perf}" calibrate --out "${dir}/no/such.json"
# Inside an MPI job (the variables MPICH's Hydra, Open MPI and PMIx launchers set): the job's
# first rank says why, the others only exit.
expect 2 "runs inside an MPI job \(PMI_RANK is set\).*without mpiexec" env PMI_RANK=0 PMI_SIZE=2 "${run[@]}"
expect 2 "runs inside an MPI job \(OMPI_COMM_WORLD_SIZE is set\)" \
  env OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 "${run[@]}"
expect 2 "inside an MPI job \(PMIX_RANK is set\)" env PMIX_RANK=0 "${run[@]}"
printf '%s\n' "${sentinel}" >"${keep}"
out="$(env PMI_RANK=1 PMI_SIZE=2 "${run[@]}" 2>&1)"
code=$?
[[ ${code} -eq 2 && -z "${out}" ]] || fail "rank 1 of an MPI job: exit ${code} (expected 2, silently): ${out}"

# ---- every job fails: exit 1, keep.json kept; the jobs bound their ranks to cores ---------------
fake_launcher hydra "HYDRA build details:"
expect 1 "class\(es\) shm, tcp could not be measured \(above\); ${keep} not written, left as it was" \
  "${run[@]}" --classes shm,tcp --mpiexec "${dir}/fake-hydra"
grep -q -- "^-n 2 -bind-to core .*braid-perf latency " "${dir}/jobs-hydra.txt" ||
  fail "Hydra's jobs are not bound to cores: $(cat "${dir}/jobs-hydra.txt")"
fake_launcher openmpi "mpiexec (Open MPI) 4.1.4"
expect 1 "class\(es\) shm could not be measured" "${run[@]}" --classes shm --mpiexec "${dir}/fake-openmpi"
grep -q -- "^-n 2 --bind-to core .*braid-perf latency " "${dir}/jobs-openmpi.txt" ||
  fail "Open MPI's jobs are not bound to cores: $(cat "${dir}/jobs-openmpi.txt")"
fake_launcher other "some launcher 1.0"
expect 1 "names neither MPICH's Hydra nor Open MPI; its jobs run without core binding" \
  "${run[@]}" --classes shm --mpiexec "${dir}/fake-other"
grep -q -- "^-n 2 /.*braid-perf latency " "${dir}/jobs-other.txt" ||
  fail "an unknown launcher got flags it may not know: $(cat "${dir}/jobs-other.txt")"
# A launcher that never answers --version: given up on after 10 s, named, and its jobs run
# without core binding (here they fail: exit 1). Its probe is a shell waiting on a program of its
# own, as a wrapper script's would be: both must be gone afterwards, not only the shell.
# The sleep's length is this script's own (600.PID s), so another suite's sleeps are not taken for it.
mute_sleep="600.$$"
printf '#!/usr/bin/env bash\nif [[ "$1" == --version ]]; then sleep %s & wait; fi\nexit 1\n' "${mute_sleep}" >"${dir}/fake-mute"
chmod +x "${dir}/fake-mute"
expect 1 "'${dir}/fake-mute --version' did not answer within 10 s" \
  timeout 60 "${run[@]}" --classes shm --mpiexec "${dir}/fake-mute"
# (SIGKILL reaches the probe's group at once, but a killed process is gone only once scheduled.)
for _ in $(seq 50); do pgrep -f "sleep ${mute_sleep}" >/dev/null || break; sleep 0.1; done
pgrep -f "sleep ${mute_sleep}" >/dev/null && fail "the mute launcher's probe (or its own child) was left running 5 s on"

# ---- one class of two fails: nothing written (a file without it would pass for complete) -------
expect 2 "--classes 'shm,shm' names shm twice" "${run[@]}" --classes shm,shm
if real_mpiexec="$(command -v mpiexec)"; then
  printf '#!/usr/bin/env bash\n[[ "${UCX_TLS:-}" == tcp* ]] && exit 7\nexec "%s" "$@"\n' "${real_mpiexec}" \
    >"${dir}/fake-tcp-fails"
  chmod +x "${dir}/fake-tcp-fails"
  expect 1 "class\(es\) tcp could not be measured \(above\); ${keep} not written" \
    "${run[@]}" --classes shm,tcp --mpiexec "${dir}/fake-tcp-fails"
else
  echo "note: no mpiexec; the partial failure is not checked"
fi

# ---- interrupted: the job ends too, the temporary files go, --out is kept, the exit says why -------
# The fake job records its pid and sleeps; calibrate gets SIGTERM (then SIGHUP) meanwhile.
# (SIGINT is not tried: a background job of a script ignores it, and calibrate keeps it ignored.)
printf '#!/usr/bin/env bash\nif [[ "$1" == --version ]]; then echo "HYDRA build details:"; exit 0; fi\n'\
'echo $$ >"%s"\nexec sleep 60\n' "${dir}/job.pid" >"${dir}/fake-slow"
chmod +x "${dir}/fake-slow"
for signal in TERM HUP; do
  rm -f "${dir}/job.pid"
  mkdir -p "${dir}/tmp"
  printf '%s\n' "${sentinel}" >"${keep}"
  TMPDIR="${dir}/tmp" "${run[@]}" --classes shm --mpiexec "${dir}/fake-slow" 2>/dev/null &
  calibrate=$!
  for _ in $(seq 100); do [[ -s "${dir}/job.pid" ]] && break; sleep 0.1; done
  job="$(cat "${dir}/job.pid" 2>/dev/null)"
  [[ -n "$(ls -A "${dir}/tmp")" ]] || fail "SIG${signal}: calibrate made no temporary directory under \$TMPDIR"
  kill -s "${signal}" "${calibrate}"
  wait "${calibrate}"
  code=$?
  want=$((128 + $(kill -l "${signal}")))
  [[ ${code} -eq ${want} ]] || fail "SIG${signal}: calibrate exited ${code}, expected ${want} (ended by the signal)"
  [[ -n "${job}" ]] || fail "SIG${signal}: the fake job never started (no ${dir}/job.pid)"
  [[ -n "${job}" ]] && kill -0 "${job}" 2>/dev/null && fail "SIG${signal}: the job (pid ${job}) still runs"
  [[ -z "$(ls -A "${dir}/tmp")" ]] || fail "SIG${signal}: left behind under \$TMPDIR: $(ls -A "${dir}/tmp")"
  [[ "$(cat "${keep}")" == "${sentinel}" ]] || fail "SIG${signal}: ${keep} changed"
  rm -rf "${dir}/tmp"
done

# ---- killed: SIGKILL reaches no handler, so the temporary directory stays; the next run removes it
rm -f "${dir}/job.pid"
mkdir -p "${dir}/tmp"
TMPDIR="${dir}/tmp" "${run[@]}" --classes shm --mpiexec "${dir}/fake-slow" 2>/dev/null &
calibrate=$!
for _ in $(seq 100); do [[ -s "${dir}/job.pid" ]] && break; sleep 0.1; done
kill -s KILL "${calibrate}"
wait "${calibrate}" 2>/dev/null
job="$(cat "${dir}/job.pid" 2>/dev/null)"
[[ -n "${job}" ]] && kill "${job}" 2>/dev/null
left="$(ls -A "${dir}/tmp")"
[[ -n "${left}" ]] || fail "SIGKILL: calibrate left nothing under \$TMPDIR, so the clean-up is not checked"
TMPDIR="${dir}/tmp" "${run[@]}" --classes shm --mpiexec "${dir}/fake-other" >/dev/null 2>&1
[[ -z "$(ls -A "${dir}/tmp")" ]] || fail "the run after a SIGKILL left behind under \$TMPDIR: $(ls -A "${dir}/tmp")"
rm -rf "${dir}/tmp"

finish_checks "calibrate refused every bad request (exit 2), kept --out on failure, bound its jobs to cores, cleaned up when interrupted (and after a SIGKILL, at the next run)"
