// Running helper programs (gnuplot for `braid-perf plot`, the MPI launcher for `braid-perf
// calibrate`) and reading what they print.
#pragma once

#include <string>
#include <vector>

namespace braid::perf {

// The executable `program` names: a name with a '/' as it is, otherwise the first match in PATH.
// "" if there is none (or it is not executable).
std::string FindInPath(const std::string& program);

// Which of a child's output streams RunCapturing keeps; the other goes to /dev/null (gnuplot
// writes an image to stdout when it cannot open its output: that must never be shown).
enum class Capture { kStdout, kStderr, kBoth };

// How long a helper program's quick query (its version, gnuplot's terminals) may take, seconds.
inline constexpr double kHelperProbeLimitS = 10;

// RunCapturing's result for a child that ran past its time limit (it was killed).
inline constexpr int kRanOutOfTime = -2;

// Runs argv (argv[0] a path, as FindInPath gives) with stdin from the file `input`, waits for it
// and returns its exit status, 128 + the signal's number if a signal killed it (as a shell
// reports it), -1 if it could not start or be waited for, or kRanOutOfTime if it had not closed
// its output within `limit_s` seconds (then it is killed with every process it started, its
// process group: a helper that hangs must not hang the command). *output gets what it wrote to the captured stream(s), or why it could not start.
int RunCapturing(const std::vector<std::string>& argv, const std::string& input, Capture capture,
                 std::string* output, double limit_s);

// What RunCapturing's result says, for messages: "exit status 3", "killed by signal 9 (Killed)",
// "could not be run".
std::string DescribeRunStatus(int status);

}  // namespace braid::perf
