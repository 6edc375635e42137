// Environment knobs (src/core/env.h): BRAID_X wins over NCCL_X, numbers take their defaults when
// unset, a value that is set but unusable is an error naming the variable, its value and the
// allowed range, and errors can name the variable the user actually set.
// Each test uses knob names of its own: values are cached per process on first read.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/env.h"

namespace braid::env {
namespace {

long IntOf(const std::string& name, long fallback) {
  long v = -999;
  const Status s = GetInt(name, fallback, -100, 100, &v);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return v;
}

TEST(EnvKnobs, NcclSpellingIsReadAndNamed) {
  setenv("NCCL_ENVTEST_ONLY_NCCL", "7", 1);
  EXPECT_EQ(IntOf("ENVTEST_ONLY_NCCL", 1), 7);
  EXPECT_EQ(VariableName("ENVTEST_ONLY_NCCL"), "NCCL_ENVTEST_ONLY_NCCL");
}

TEST(EnvKnobs, BraidSpellingWins) {
  setenv("NCCL_ENVTEST_BOTH", "7", 1);
  setenv("BRAID_ENVTEST_BOTH", "9", 1);
  EXPECT_EQ(IntOf("ENVTEST_BOTH", 1), 9);
  EXPECT_EQ(VariableName("ENVTEST_BOTH"), "BRAID_ENVTEST_BOTH");
}

TEST(EnvKnobs, UnsetGivesTheDefault) {
  EXPECT_EQ(IntOf("ENVTEST_UNSET", 42), 42);
  EXPECT_EQ(VariableName("ENVTEST_UNSET"), "BRAID_ENVTEST_UNSET");
  EXPECT_FALSE(Get("ENVTEST_UNSET_STRING").has_value());
  setenv("NCCL_ENVTEST_DOUBLE", "0.25", 1);
  double d = 0;
  ASSERT_TRUE(GetDouble("ENVTEST_DOUBLE", 1.0, 0, 1, &d).ok());
  EXPECT_DOUBLE_EQ(d, 0.25);
}

// Unparsable, trailing junk, out of range, NaN, infinity, overflow: each an error naming the
// variable the user set, the value as given and the range; never the default in silence.
TEST(EnvKnobs, UnusableValuesAreErrorsNamingVariableValueAndRange) {
  struct Case {
    const char* variable;
    const char* value;
    bool integer;
    std::string message;
  };
  const Case cases[] = {
      {"BRAID_ENVTEST_BAD_JUNK", "12abc", false, "BRAID_ENVTEST_BAD_JUNK='12abc' is not a number in [0, 1]"},
      {"BRAID_ENVTEST_BAD_WORD", "abc", false, "BRAID_ENVTEST_BAD_WORD='abc' is not a number in [0, 1]"},
      {"BRAID_ENVTEST_BAD_EMPTY", "", true, "BRAID_ENVTEST_BAD_EMPTY='' is not an integer in [-100, 100]"},
      {"NCCL_ENVTEST_BAD_HIGH", "101", true, "NCCL_ENVTEST_BAD_HIGH='101' is not an integer in [-100, 100]"},
      {"BRAID_ENVTEST_BAD_FRACTION", "1.5", true, "BRAID_ENVTEST_BAD_FRACTION='1.5' is not an integer in [-100, 100]"},
      {"BRAID_ENVTEST_BAD_OVERFLOW", "99999999999999999999", true,
       "BRAID_ENVTEST_BAD_OVERFLOW='99999999999999999999' is not an integer in [-100, 100]"},
      {"BRAID_ENVTEST_BAD_NAN", "nan", false, "BRAID_ENVTEST_BAD_NAN='nan' is not a number in [0, 1]"},
      {"BRAID_ENVTEST_BAD_INF", "inf", false, "BRAID_ENVTEST_BAD_INF='inf' is not a number in [0, 1]"},
      {"BRAID_ENVTEST_BAD_NEG", "-0.5", false, "BRAID_ENVTEST_BAD_NEG='-0.5' is not a number in [0, 1]"},
      {"BRAID_ENVTEST_BAD_BLANK", " 5", true, "BRAID_ENVTEST_BAD_BLANK=' 5' is not an integer in [-100, 100]"},
  };
  for (const Case& c : cases) {
    setenv(c.variable, c.value, 1);
    const std::string name = std::string(c.variable).substr(std::string(c.variable).find('_') + 1);
    Status s;
    if (c.integer) {
      long v = 0;
      s = GetInt(name, 5, -100, 100, &v);
    } else {
      double v = 0;
      s = GetDouble(name, 0.5, 0, 1, &v);
    }
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.variable;
    EXPECT_EQ(s.message(), c.message);
  }
}

TEST(EnvKnobs, TimeoutIsBoundedAndNamed) {
  // BRAID_TIMEOUT itself is read once per process; the same rule on a knob of this test's own.
  setenv("BRAID_ENVTEST_TIMEOUT", "0", 1);
  double t = 0;
  const Status s = GetDouble("ENVTEST_TIMEOUT", kDefaultTimeoutS, kMinTimeoutS, kMaxTimeoutS, &t);
  EXPECT_EQ(s.message(), "BRAID_ENVTEST_TIMEOUT='0' is not a number in [0.001, 1000000000]");
}

// Read once: a change after the first read does not change the knob.
TEST(EnvKnobs, ReadOncePerProcess) {
  setenv("BRAID_ENVTEST_ONCE", "1", 1);
  EXPECT_EQ(IntOf("ENVTEST_ONCE", 0), 1);
  setenv("BRAID_ENVTEST_ONCE", "2", 1);
  EXPECT_EQ(IntOf("ENVTEST_ONCE", 0), 1);
}

}  // namespace
}  // namespace braid::env
