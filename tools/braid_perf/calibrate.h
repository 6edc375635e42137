// `braid-perf calibrate --out cluster.json`: measures this machine's link classes with the
// point-to-point suites (same-host shared memory; TCP; InfiniBand when present), each run as a
// 2-rank job under mpiexec (ranks bound to cores), fits them (calibrate_fit.h), measures one core's reduce and copy
// rates, and writes a cluster file that `plan-sim --cluster cluster.json` accepts (the
// "calibration" block is documented in docs/ARCHITECTURE.md). Runs without mpiexec itself:
// main() dispatches here before MPI_Init.
#pragma once

namespace braid::perf {

// argv[0] is "calibrate". Exit codes: 0 written, 1 a measurement job failed (an existing --out
// file is kept unless at least one class was measured), 2 bad input: a bad option, a class
// this machine lacks, a launcher that is not there, or a run inside an MPI job (calibrate
// launches its own jobs).
int CalibrateMain(int argc, char** argv);

}  // namespace braid::perf
