#include "runtime/algorithm_setting.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace braid::runtime {
namespace {

// NCCL's GPU and in-network algorithms: valid in NCCL_ALGO, absent from braid.
constexpr std::string_view kNcclOnly[] = {"nvls", "nvlstree", "collnetdirect", "collnetchain", "collnet", "pat"};

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (size_t begin = 0;;) {
    const size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return parts;
    begin = end + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<coll::Collective> CollectiveByName(std::string_view name) {
  for (int c = 0; c < coll::kNumCollectives; ++c)
    if (name == coll::CollectiveName(coll::Collective(c))) return coll::Collective(c);
  return std::nullopt;
}

std::string ValidNames() {
  std::string names;
  for (int a = 0; a < coll::kNumAlgorithms; ++a)
    names += fmt::format("{}{}", a ? ", " : "", coll::AlgorithmName(coll::Algorithm(a)));
  return names + " (NCCL's nvls, nvlstree, collnetdirect, collnetchain, pat are accepted and skipped)";
}

}  // namespace

Status ParseAlgorithmSetting(std::string_view text, const std::string& source, AllowedAlgorithms* out,
                             std::vector<std::string>* left_to_tuner) {
  out->fill(coll::kAnyAlgorithm);
  std::string lower(Trim(text));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.empty()) return Status::Ok();
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(fmt::format("{}='{}': {}", source, std::string(text), why));
  };
  // A section naming a collective wins over one that does not, whatever their order
  // ("allreduce:tree;ring": tree for all-reduce, ring for the rest).
  std::array<bool, coll::kNumCollectives> named_by_section{};
  for (std::string_view section : Split(lower, ';')) {
    section = Trim(section);
    if (section.empty()) continue;  // "ring;" as a trailing separator
    std::optional<coll::Collective> only;
    bool sep_collective = false;  // the section named a collective ("name:...")
    if (const size_t colon = section.find(':'); colon != std::string_view::npos) {
      sep_collective = true;
      const std::string_view name = Trim(section.substr(0, colon));
      section = Trim(section.substr(colon + 1));
      only = CollectiveByName(name);
      if (!only && name != "sendrecv") {
        return bad(fmt::format("unknown collective '{}' (valid: allreduce, reducescatter, allgather, broadcast, "
                               "reduce, alltoall, sendrecv)", name));
      }
    }
    const bool exclude = !section.empty() && section.front() == '^';
    if (exclude) section.remove_prefix(1);
    coll::AlgorithmMask named = 0;
    bool any_name = false;
    for (std::string_view name : Split(section, ',')) {
      name = Trim(name);
      if (name.empty()) return bad("an empty algorithm name");
      any_name = true;
      if (std::find(std::begin(kNcclOnly), std::end(kNcclOnly), name) != std::end(kNcclOnly)) continue;
      const std::optional<coll::Algorithm> algorithm = coll::AlgorithmByName(name);
      if (!algorithm) return bad(fmt::format("unknown algorithm '{}' (valid: {})", name, ValidNames()));
      named |= coll::MaskOf(*algorithm);
    }
    if (!any_name) return bad("no algorithm named");
    coll::AlgorithmMask allowed = exclude ? coll::kAnyAlgorithm & ~named : named;
    if (exclude && allowed == 0) return bad("it excludes every algorithm braid has");
    if (!exclude && named == 0) {
      if (left_to_tuner) left_to_tuner->emplace_back(section);
      allowed = coll::kAnyAlgorithm;
    }
    if (!only && sep_collective) continue;  // "sendrecv:...": checked; point-to-point has nothing to choose
    if (only) {
      (*out)[size_t(*only)] = allowed;
      named_by_section[size_t(*only)] = true;
    } else {
      for (int c = 0; c < coll::kNumCollectives; ++c)
        if (!named_by_section[size_t(c)]) (*out)[size_t(c)] = allowed;
    }
  }
  return Status::Ok();
}

std::string CanonicalAlgorithmSetting(const AllowedAlgorithms& allowed) {
  auto names = [](coll::AlgorithmMask mask) {
    std::string text;
    for (int a = 0; a < coll::kNumAlgorithms; ++a)
      if (mask & coll::MaskOf(coll::Algorithm(a))) text += fmt::format("{}{}", text.empty() ? "" : ",", coll::AlgorithmName(coll::Algorithm(a)));
    return text;
  };
  if (std::all_of(allowed.begin(), allowed.end(), [&](coll::AlgorithmMask m) { return m == allowed[0]; }))
    return allowed[0] == coll::kAnyAlgorithm ? "(tuner)" : names(allowed[0]);
  std::string text;
  for (int c = 0; c < coll::kNumCollectives; ++c) {
    if (allowed[size_t(c)] == coll::kAnyAlgorithm) continue;
    text += fmt::format("{}{}:{}", text.empty() ? "" : ";", coll::CollectiveName(coll::Collective(c)), names(allowed[size_t(c)]));
  }
  return text;
}

}  // namespace braid::runtime
