#include "sim/common/json_fields.h"

#include <fmt/format.h>

#include <cmath>

#include "core/input_file.h"
#include "core/json_text.h"
#include "sim/common/input_error.h"

namespace braid::sim {

JsonFields::JsonFields(const nlohmann::json& object, std::string origin)
    : object_(object), origin_(std::move(origin)) {
  if (!object_.is_object()) {
    throw InputError(fmt::format("{}: expected a JSON object, found {}", origin_, object_.type_name()));
  }
}

bool JsonFields::Has(const std::string& field) const { return object_.contains(field); }

const nlohmann::json& JsonFields::Get(const std::string& field) const {
  auto it = object_.find(field);
  if (it == object_.end()) throw InputError(fmt::format("{}: missing field \"{}\"", origin_, field));
  return *it;
}

int JsonFields::Int(const std::string& field, int lo, int hi) const {
  const nlohmann::json& v = Get(field);
  if (!v.is_number_integer()) {
    throw InputError(fmt::format("{}: field \"{}\" must be an integer in [{}, {}], found {}", origin_,
                                 field, lo, hi, ShownValue(v)));
  }
  // Unsigned JSON integers above 2^63 would wrap negative as long long: print them as written.
  if (v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(hi)) {
    throw InputError(fmt::format("{}: field \"{}\" = {} is out of range [{}, {}]", origin_, field,
                                 v.get<unsigned long long>(), lo, hi));
  }
  long long x = v.get<long long>();
  if (x < lo || x > hi) {
    throw InputError(
        fmt::format("{}: field \"{}\" = {} is out of range [{}, {}]", origin_, field, x, lo, hi));
  }
  return static_cast<int>(x);
}

double JsonFields::Number(const std::string& field, double lo, double hi) const {
  const nlohmann::json& v = Get(field);
  if (!v.is_number()) {
    throw InputError(fmt::format("{}: field \"{}\" must be a number in [{}, {}], found {}", origin_,
                                 field, lo, hi, ShownValue(v)));
  }
  double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    throw InputError(
        fmt::format("{}: field \"{}\" = {} is out of range [{}, {}]", origin_, field, x, lo, hi));
  }
  return x;
}

std::string JsonFields::String(const std::string& field) const {
  const nlohmann::json& v = Get(field);
  if (!v.is_string()) {
    throw InputError(
        fmt::format("{}: field \"{}\" must be a string, found {}", origin_, field, ShownValue(v)));
  }
  std::string text = v.get<std::string>();
  // Strings name things in table headers and CSV: a newline, carriage return or escape sequence
  // would break or forge those lines.
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      throw InputError(fmt::format("{}: field \"{}\" contains a control character (0x{:02x}); names are "
                                   "printed in tables and CSV", origin_, field, c));
    }
  }
  return text;
}

std::string JsonFields::Choice(const std::string& field,
                               const std::vector<std::string>& allowed) const {
  std::string s = String(field);
  for (const std::string& a : allowed) {
    if (s == a) return s;
  }
  throw InputError(fmt::format("{}: field \"{}\" = \"{}\" is not one of: {}", origin_, field, s,
                               fmt::join(allowed, ", ")));
}

int JsonFields::Int(const std::string& field, int lo, int hi, int fallback) const {
  return Has(field) ? Int(field, lo, hi) : fallback;
}

double JsonFields::Number(const std::string& field, double lo, double hi, double fallback) const {
  return Has(field) ? Number(field, lo, hi) : fallback;
}

std::string JsonFields::Choice(const std::string& field, const std::vector<std::string>& allowed,
                               const std::string& fallback) const {
  return Has(field) ? Choice(field, allowed) : fallback;
}

bool JsonFields::Bool(const std::string& field, bool fallback) const {
  if (!Has(field)) return fallback;
  const nlohmann::json& v = Get(field);
  if (!v.is_boolean()) {
    throw InputError(fmt::format("{}: field \"{}\" must be true or false, found {}", origin_, field, ShownValue(v)));
  }
  return v.get<bool>();
}

const nlohmann::json& JsonFields::Object(const std::string& field) const {
  const nlohmann::json& v = Get(field);
  if (!v.is_object()) {
    throw InputError(
        fmt::format("{}: field \"{}\" must be an object, found {}", origin_, field, v.type_name()));
  }
  return v;
}

const nlohmann::json& JsonFields::Array(const std::string& field) const {
  const nlohmann::json& v = Get(field);
  if (!v.is_array() || v.empty()) {
    throw InputError(fmt::format("{}: field \"{}\" must be a non-empty array, found {}", origin_, field,
                                 v.is_array() ? "an empty one" : v.type_name()));
  }
  return v;
}

void JsonFields::RejectUnknown(const std::vector<std::string>& known) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    bool found = false;
    for (const std::string& k : known) found = found || it.key() == k;
    if (!found) {
      throw InputError(fmt::format("{}: unknown field \"{}\" (known fields: {})", origin_, json_text::ShownKey(it.key()),
                                   fmt::join(known, ", ")));
    }
  }
}

std::string ShownValue(const nlohmann::json& v) {
  if (v.is_structured()) return std::string(v.is_object() ? "an object" : "an array");
  std::string text = v.dump();
  return text.size() > 64 ? text.substr(0, 61) + "..." : text;
}

nlohmann::json ParseJsonText(const std::string& text, const std::string& origin) {
  nlohmann::json document;
  if (Status parsed = json_text::Parse(text, origin, &document); !parsed.ok()) throw InputError(parsed.message());
  return document;
}

nlohmann::json ReadJsonFile(const std::string& path) {
  // A pipe is welcome (--model <(jq ... base.json)); any other non-regular file is an error.
  std::string text;
  if (Status read = input_file::Read(path, kJsonFile, &text); !read.ok()) throw InputError(read.message());
  return ParseJsonText(text, path);
}

std::string DumpJson(const nlohmann::json& doc, int indent) {
  return doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace braid::sim
