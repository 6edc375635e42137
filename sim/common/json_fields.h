// Typed, range-checked access to the fields of a JSON object read from a user file, so every
// error names the file, the field, the value found and what was allowed.
#pragma once

#include <nlohmann/json.hpp>

#include "core/input_file.h"
#include <string>
#include <vector>

namespace braid::sim {

class JsonFields {
 public:
  // `origin` names where the object came from, e.g. "cluster.json" or "cluster.json: node".
  JsonFields(const nlohmann::json& object, std::string origin);
  // The object is held by reference: it must outlive this (a temporary would dangle).
  JsonFields(nlohmann::json&& object, std::string origin) = delete;

  bool Has(const std::string& field) const;
  // Required fields: throw InputError when missing, of the wrong type, or out of [lo, hi].
  int Int(const std::string& field, int lo, int hi) const;
  double Number(const std::string& field, double lo, double hi) const;
  std::string String(const std::string& field) const;
  // String restricted to `allowed` (the error lists them).
  std::string Choice(const std::string& field, const std::vector<std::string>& allowed) const;
  // Optional variants: `fallback` when the field is absent (still checked when present).
  int Int(const std::string& field, int lo, int hi, int fallback) const;
  double Number(const std::string& field, double lo, double hi, double fallback) const;
  std::string Choice(const std::string& field, const std::vector<std::string>& allowed,
                     const std::string& fallback) const;
  bool Bool(const std::string& field, bool fallback) const;  // true or false, nothing else
  const nlohmann::json& Object(const std::string& field) const;  // required sub-object
  const nlohmann::json& Array(const std::string& field) const;   // required, at least one item
  // Throws if the object has a field not in `known` (catches typos such as "hiden").
  void RejectUnknown(const std::vector<std::string>& known) const;
  const std::string& origin() const { return origin_; }

 private:
  const nlohmann::json& Get(const std::string& field) const;
  const nlohmann::json& object_;
  std::string origin_;
};

// Parses `text` (the contents of `origin`); a syntax error names origin, line and column, and an
// object key given twice names origin, the key and the object holding it (nlohmann would keep the
// last silently, so a typo such as a second "layers" would change the run unseen), and nesting
// deeper than 64 levels is refused (deeper values would overflow the stack when copied).
nlohmann::json ParseJsonText(const std::string& text, const std::string& origin);
// A value as an error message shows it: scalars as written (cut at 64 characters), objects and
// arrays by their type alone, so a huge value never becomes the message.
std::string ShownValue(const nlohmann::json& v);
// Model, cluster and calibration files: a regular file or a pipe, at most 16 MiB (far above any
// real one).
inline constexpr input_file::Kind kJsonFile{"a JSON file (or a pipe)", "a model, cluster or calibration file",
                                            size_t{16} << 20};
// Reads and parses a regular file or a pipe (--model <(...)); a missing or unreadable file, a
// directory or a device (/dev/zero never ends), or a FIFO nobody writes to is an InputError
// naming it.
nlohmann::json ReadJsonFile(const std::string& path);
// `doc` as text (indent as nlohmann's dump; -1 = one line). Names taken from file paths may hold
// bytes that are not UTF-8; they are written as U+FFFD instead of failing the whole output.
std::string DumpJson(const nlohmann::json& doc, int indent = -1);

}  // namespace braid::sim
