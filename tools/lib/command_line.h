// The command a tool was run with, as one line a shell would read back the same: what the tools
// record in their outputs' context ("# command : ..." comment lines, JSON "command" fields).
// Arguments with spaces, quotes or other shell characters are single-quoted; empty ones become
// ''; ones with control characters (a newline would end a '#' comment line and start a forged
// row) use bash's $'...' form with escapes.
#pragma once

#include <fmt/format.h>

#include <cctype>
#include <string>
#include <string_view>

namespace braid::tools {

inline std::string QuoteArgument(const std::string& arg) {
  const auto plain = [](unsigned char c) {
    return std::isalnum(c) || std::string_view("_-./=:,+@%").find(char(c)) != std::string_view::npos;
  };
  bool all_plain = !arg.empty(), control = false;
  for (unsigned char c : arg) {
    all_plain &= plain(c);
    control |= c < 0x20 || c == 0x7f;
  }
  if (all_plain) return arg;
  std::string out;
  if (!control) {
    out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  out = "$'";
  for (unsigned char c : arg) {
    if (c == '\\' || c == '\'') out += fmt::format("\\{}", char(c));
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += char(c);
  }
  return out + "'";
}

inline std::string CommandLine(int argc, const char* const* argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) line += ' ';
    line += QuoteArgument(argv[i]);
  }
  return line;
}

}  // namespace braid::tools
