#!/usr/bin/env bash
# A stalled peer ends the run on every other rank with a message, whatever the backend: braid's
# own Timeout names the peer; MPI_Recv and raw UCX have no timeout, so braid-perf's watchdog
# (tools/braid_perf/watchdog.h) ends the rank after BRAID_TIMEOUT + 10% + 5 s.
#
# Starts a 2-rank latency run with an iteration count no run would finish, stops rank 1 with
# SIGSTOP once both ranks measure (rank 0 has printed the column header), and expects the job
# to end within a bound with a non-zero exit and the backend's message. Everything it started
# (the launcher puts each rank in a session of its own, so by parentage) is killed on exit, pass
# or fail.
# The suite is an 8 B ping-pong, or with STALLED_SUITE (e.g. "bw -b 1M -e 1M --window 64") another;
# either way the watchdog's allowance for one iteration must not stretch the bound.
# Usage: stalled_peer.sh <backend> <message regex> <braid-perf> <mpiexec> <-n flag> [launcher flags...]
set -u
backend="$1"
pattern="$2"
braid_perf="$3"
mpiexec="$4"
np_flag="$5"
shift 5
timeout_s=2
# BRAID_TIMEOUT + the watchdog's grace (2.2 + 5 s), plus the launcher tearing the job down.
bound_s=25
read -r -a suite <<<"${STALLED_SUITE:-latency -b 8 -e 8}"

log="$(mktemp)"
"${mpiexec}" "${np_flag}" 2 "$@" env BRAID_TIMEOUT="${timeout_s}" "${braid_perf}" "${suite[@]}" \
  --backend "${backend}" -n 2000000000 -w 0 -c 0 >"${log}" 2>&1 &
job=$!
# Every process below `$1`, deepest last.
descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do
    echo "${child}"
    descendants "${child}"
  done
}
started=""  # the job's processes, recorded while it runs: once it ends they are no one's descendants
cleanup() {
  local all
  all="${started} $(descendants "${job}") ${job}"
  kill -CONT ${all} 2>/dev/null
  kill -KILL ${all} 2>/dev/null
  rm -f "${log}"
}
trap cleanup EXIT

# The rank-1 process of this job: a descendant whose environment says rank 1.
rank1_pid() {
  local pid
  for pid in $(descendants "${job}"); do
    if tr '\0' '\n' <"/proc/${pid}/environ" 2>/dev/null | grep -Eqx 'PMI_RANK=1|OMPI_COMM_WORLD_RANK=1'; then
      echo "${pid}"
      return
    fi
  done
}

pid=""
for _ in $(seq 1 100); do  # up to 20 s for the job to start
  pid="$(rank1_pid)"
  [[ -n "${pid}" ]] && break
  sleep 0.2
done
if [[ -z "${pid}" ]]; then
  echo "stalled_peer: rank 1 of the ${backend} job never started" >&2
  cat "${log}"
  exit 1
fi
# Rank 0 prints the column header once every rank has connected; stopping rank 1 before that
# (still loading or in MPI_Init, as on a loaded CI machine) would test the launcher, not the
# backend, and MPI_Init has no timeout.
for _ in $(seq 1 200); do  # up to 40 s for the set-up
  grep -q '^# Size' "${log}" && break
  kill -0 "${job}" 2>/dev/null || break  # ended early (bad arguments)
  sleep 0.2
done
if ! grep -q '^# Size' "${log}"; then
  echo "stalled_peer: the ${backend} job never reached its measurement" >&2
  cat "${log}"
  exit 1
fi
# Into the measurement loop; with STALLED_AFTER_S, far enough for the watchdog (which samples
# once a second) to have timed the row's iterations.
sleep "${STALLED_AFTER_S:-0.5}"
started="$(descendants "${job}")"
kill -STOP "${pid}"
echo "stalled_peer: stopped rank 1 (pid ${pid}) of the ${backend} run"

waited=0
while kill -0 "${job}" 2>/dev/null && ((waited < bound_s * 10)); do
  sleep 0.1
  waited=$((waited + 1))
done
if kill -0 "${job}" 2>/dev/null; then
  echo "stalled_peer: the ${backend} job still runs ${bound_s} s after rank 1 stalled" >&2
  cat "${log}"
  exit 1
fi
wait "${job}"
code=$?
cat "${log}"
echo "stalled_peer: job ended after $((waited / 10)) s with exit code ${code}"
if ((code == 0)); then
  echo "stalled_peer: exit code 0 after a stalled peer" >&2
  exit 1
fi
if ! grep -Eq -- "${pattern}" "${log}"; then
  echo "stalled_peer: output does not match '${pattern}'" >&2
  exit 1
fi
