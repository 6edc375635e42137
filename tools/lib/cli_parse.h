// The command-line tools' common CLI11 ending: --help prints the help and --version the build on
// stdout (exit 0), a syntax error prints "<program>: <what>" and a hint on stderr (exit
// `bad_input_code`).
#pragma once

#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace braid::tools {

// nullopt: parsed, go on; otherwise the exit code to leave with.
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv, const char* program,
                                           int bad_input_code) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\nRun with --help for the options.\n", program, e.what());
    return bad_input_code;
  }
  return std::nullopt;
}

// CLI::Range for floating-point options that also refuses NaN and infinities (CLI11's Range
// compares with < and >, which every comparison with NaN fails, so NaN passes it).
inline CLI::Validator FiniteRange(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(value) || value < min || value > max) {
          return "Value " + text + " is not a number in [" + CLI::detail::to_string(min) + " - " +
                 CLI::detail::to_string(max) + "]";
        }
        return std::string();
      },
      "FLOAT in [" + CLI::detail::to_string(min) + " - " + CLI::detail::to_string(max) + "]");
}

// For integer options: "'VALUE' is not an integer in [min, max]" for anything else (empty, a
// fraction, hex, text, an overflow, a leading zero). CLI11 alone turns "" into 0, saturates an
// overflow, says of text only that it "could not convert" it, and reads "064" as octal 52.
inline CLI::Validator IntegerIn(long min, long max) {
  return CLI::Validator(
      [min, max](std::string& text) {
        errno = 0;
        char* end = nullptr;
        const long value = std::strtol(text.c_str(), &end, 10);
        const bool integer = !text.empty() && *end == '\0' && errno == 0 &&
                             !std::isspace(static_cast<unsigned char>(text[0]));
        const size_t first_digit = text.find_first_not_of("+-");
        const bool leading_zero = integer && text[first_digit] == '0' && first_digit + 1 < text.size();
        if (integer && !leading_zero && value >= min && value <= max) return std::string();
        return "'" + text + "' is not an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]" +
               (leading_zero ? " (no leading zeros: they would read as octal)" : "");
      },
      "INT in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

}  // namespace braid::tools
