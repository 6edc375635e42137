#include "core/json_text.h"

#include <set>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace braid::json_text {
namespace {

// `escaped` (JSON-escaped text) cut to at most `max` characters with "..." where it was cut: where
// a character starts, not inside a UTF-8 sequence (continuation bytes are 10xxxxxx) nor inside an
// escape (\n, \u001b), so a message stays valid UTF-8 and unambiguous.
std::string CutShown(const std::string& escaped, size_t max) {
  if (escaped.size() <= max) return escaped;
  size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(escaped[cut]) & 0xC0) == 0x80) --cut;
  if (const size_t slash = escaped.rfind('\\', cut); slash != std::string::npos && cut - slash < 6) {
    // An even run of backslashes before it: this one starts an escape.
    size_t run = 0;
    while (slash >= run + 1 && escaped[slash - run - 1] == '\\') ++run;
    if (run % 2 == 0) cut = slash;
  }
  return escaped.substr(0, cut) + "...";
}

// What the check throws out of nlohmann's parse callback: the whole message, origin included.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// nlohmann's parse callback, refusing a key given twice in one object and nesting beyond
// kMaxDepth. The callback sees events without positions, so a stack of the open objects and
// arrays gives the path of the value being read ("node", "gemm[2]", "calibration.links.shm").
class Check {
 public:
  explicit Check(const std::string& origin) : origin_(origin) {}

  bool operator()(nlohmann::json::parse_event_t event, const nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (open_.size() >= kMaxDepth) {
          throw Refused(fmt::format("{}: objects and arrays nested deeper than {} levels (at \"{}\")", origin_,
                                    kMaxDepth, CutShown(CurrentValue(), 200)));
        }
        open_.emplace_back(event == Event::object_start);
        break;
      case Event::key: AddKey(parsed.get<std::string>()); break;
      case Event::object_end:
      case Event::array_end:
        open_.pop_back();
        ElementDone();
        break;
      case Event::value: ElementDone(); break;
    }
    return true;  // keep every value: this only checks
  }

  // The path of the value being read, the innermost key or index included ("gpu.sms",
  // "gemm[2].m"); empty at the top level.
  std::string CurrentValue() const { return PathOf(open_.size()); }

 private:
  struct Container {
    explicit Container(bool is_object) : object(is_object) {}
    bool object;
    std::set<std::string> keys;  // objects: the keys seen so far
    std::string key;             // objects: the key of the value being read
    size_t index = 0;            // arrays: the index of the element being read
  };

  void AddKey(const std::string& key) {
    Container& c = open_.back();
    if (!c.keys.insert(key).second) {
      throw Refused(fmt::format("{}: duplicate key \"{}\" in {} (each key may appear once)", origin_, ShownKey(key),
                                open_.size() == 1 ? "the top-level object" : "\"" + PathOf(open_.size() - 1) + "\""));
    }
    c.key = key;
  }

  // A value, object or array ended: the next one of an enclosing array has the next index.
  void ElementDone() {
    if (!open_.empty() && !open_.back().object) ++open_.back().index;
  }

  // The keys and indices of the first `levels` open containers: the path to the value the
  // innermost of them is reading.
  std::string PathOf(size_t levels) const {
    std::string path;
    for (size_t i = 0; i < levels; ++i) {
      const Container& c = open_[i];
      path += c.object ? (path.empty() ? "" : ".") + ShownKey(c.key) : fmt::format("[{}]", c.index);
    }
    return path;
  }

  const std::string& origin_;
  std::vector<Container> open_;
};

}  // namespace

std::string ShownKey(const std::string& key) {
  const std::string quoted = nlohmann::json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return CutShown(quoted.substr(1, quoted.size() - 2), 64);
}

Status Parse(const std::string& text, const std::string& origin, nlohmann::json* out) {
  Check check(origin);
  try {
    // The callback is copied into the parser: it calls the one check through a reference.
    *out = nlohmann::json::parse(text, [&check](int /*depth*/, nlohmann::json::parse_event_t event,
                                                nlohmann::json& parsed) { return check(event, parsed); });
    return Status::Ok();
  } catch (const Refused& e) {
    return Status::InvalidArgument(e.what());
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() carries "line L, column C".
    return Status::InvalidArgument(fmt::format("{}: malformed JSON: {}", origin, e.what()));
  } catch (const nlohmann::json::out_of_range& e) {
    // A number beyond a double's range (1e999): nlohmann names the text, the check the field.
    const std::string field = check.CurrentValue();
    return Status::InvalidArgument(fmt::format("{}: {}a number beyond the range of a double (+-1.8e308): {}", origin,
                                               field.empty() ? "" : "field \"" + field + "\": ", e.what()));
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(fmt::format("{}: malformed JSON: {}", origin, e.what()));
  }
}

}  // namespace braid::json_text
