// `braid-perf plot`: draws braid-perf --json results (bandwidth and/or latency against message
// size) with gnuplot. Needs no MPI: main() dispatches here before MPI_Init.
#pragma once

namespace braid::perf {

// argv[0] is "plot". Exit codes: 0 plot written, 1 gnuplot failed (its messages are shown; -o
// is left as it was), 2 bad command line, input file or output path (the message names the file
// and the problem), or gnuplot missing.
int PlotMain(int argc, char** argv);

}  // namespace braid::perf
