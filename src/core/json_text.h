// JSON documents from users' files, parsed as braid's readers all take them: nlohmann's parser,
// refusing what it would otherwise accept silently. Used by the topology reader (libbraid) and by
// plan-sim's model, cluster and calibration files.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "braid/status.h"

namespace braid::json_text {

// The deepest nesting of objects and arrays accepted: braid's files need 4 levels. Deeper
// documents are refused while parsing, before nlohmann's recursive copy and dump could exhaust
// the stack (100000 brackets, 200 KB, crashed it).
inline constexpr size_t kMaxDepth = 64;

// Parses `text`, the contents of `origin` (a path, "<stdin>"). InvalidArgument whose message
// starts with "origin: " when the text is not JSON (nlohmann's line and column), when an object
// has a key twice (nlohmann would keep the last one, so a second "layers" or "numa_node" would
// change the result unseen: the key and the object holding it are named), when it nests deeper
// than kMaxDepth, or when a number is beyond a double's range (the field is named).
Status Parse(const std::string& text, const std::string& origin, nlohmann::json* out);

// A key from a user's file as an error message shows it, without quotes: JSON-escaped (no
// control character reaches the terminal) and cut to 64 characters (a 1 MB key made a 1 MB
// message; QA, session 54).
std::string ShownKey(const std::string& key);

}  // namespace braid::json_text
