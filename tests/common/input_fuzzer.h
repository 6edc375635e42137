// The fuzz tier's engine: random mutants of a valid input, fed to a reader that must load them or
// refuse them with its format's own error (tests/fuzz/input_fuzz_test.cc, tests/perf for the
// braid-perf readers). Deterministic: a fixed seed per format, FUZZ_ITERATIONS mutants each
// (default 1500); FUZZ_ITERATIONS=100000 FUZZ_SEED=N runs a longer campaign.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "sim/common/input_error.h"

namespace braid::test {

using sim::InputError;
namespace fs = std::filesystem;

long EnvLong(const char* name, long fallback) {
  const char* value = std::getenv(name);
  return value ? std::strtol(value, nullptr, 10) : fallback;
}

// Text a JSON or XML parser treats as structure, or that no valid file has.
const std::vector<std::string>& Tokens() {
  static const std::vector<std::string> tokens = {
      "{", "}", "[", "]", ",", ":", "\"", "<", ">", "/>", "</", "=", "&", "&#0;", "\\u0000", "\\",
      "null", "true", "false", "\"\"", "[]", "{}", "\xff", "\xc3\x28"};
  return tokens;
}

// Numbers at the edges of what fields take.
const std::vector<std::string>& EdgeNumbers() {
  static const std::vector<std::string> numbers = {"-1", "0", "1e309", "-1e309", "NaN", "1e-320", "4294967296",
                                                   "9223372036854775808", "2147483648", "0.0000001", "-0"};
  return numbers;
}

// One random edit of `text`: a byte changed, a span deleted or repeated, a token inserted or put
// in place of a number, or the text cut short. Several edits make a mutant.
std::string Mutate(std::string text, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : size_t(rng() % n); };
  const int edits = 1 + int(rng() % 3);
  for (int e = 0; e < edits && !text.empty(); ++e) {
    const size_t at = pick(text.size());
    switch (rng() % 6) {
      case 0:
        text[at] = char(rng() % 256);
        break;
      case 1:
        text.erase(at, 1 + pick(16));
        break;
      case 2:
        text.insert(at, text.substr(at, 1 + pick(64)));
        break;
      case 3:
        text.insert(at, Tokens()[pick(Tokens().size())]);
        break;
      case 4: {  // a number replaced by an edge value
        size_t digit = text.find_first_of("0123456789", at);
        if (digit == std::string::npos) break;
        const size_t end = text.find_first_not_of("0123456789.eE+-", digit);
        text.replace(digit, (end == std::string::npos ? text.size() : end) - digit,
                     EdgeNumbers()[pick(EdgeNumbers().size())]);
        break;
      }
      default:
        text.resize(at);
        break;
    }
  }
  return text;
}

class InputFuzz : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("braid-fuzz-" + std::to_string(::getpid()) + "-" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Write(const std::string& name, const std::string& text) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // Feeds `seed` and its mutants to `load`, which must return (loaded or refused as the format's
  // reader refuses) or throw InputError. The first other outcome fails, keeping the input.
  void Fuzz(const std::string& format, const std::string& seed, uint64_t rng_seed,
            const std::function<void(const std::string&)>& load) {
    ASSERT_NO_THROW(load(seed)) << format << ": the unmutated example must load";
    std::mt19937_64 rng(uint64_t(EnvLong("FUZZ_SEED", 0)) * 1000003u + rng_seed);
    const long iterations = EnvLong("FUZZ_ITERATIONS", 1500);
    int refused = 0;
    for (long i = 0; i < iterations; ++i) {
      const std::string mutant = Mutate(seed, rng);
      std::string escaped;
      try {
        load(mutant);
      } catch (const InputError&) {
        ++refused;
      } catch (const std::exception& e) {
        escaped = std::string("an exception other than InputError escaped: ") + e.what();
      } catch (...) {
        escaped = "a non-standard exception escaped";
      }
      if (!escaped.empty()) {
        FAIL() << format << " mutant " << i << ": " << escaped << "; input kept in "
               << Write("failing-" + format, mutant);
      }
    }
    // Most mutants break the file: a fuzzer whose inputs all loaded would be testing nothing.
    EXPECT_GT(refused, iterations / 10) << format << ": too few mutants were refused";
    std::printf("%s: %ld mutants, %d refused with an input error, the rest loaded\n", format.c_str(),
                iterations, refused);
  }

  fs::path dir_;
};

}  // namespace braid::test
