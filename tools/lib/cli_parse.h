// The command-line tools' common CLI11 ending: --help prints the help on stdout (exit 0), a
// syntax error prints "<program>: <what>" and a hint on stderr (exit `bad_input_code`).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

namespace braid::tools {

// nullopt: parsed, go on; otherwise the exit code to leave with.
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv, const char* program,
                                           int bad_input_code) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\nRun with --help for the options.\n", program, e.what());
    return bad_input_code;
  }
  return std::nullopt;
}

}  // namespace braid::tools
