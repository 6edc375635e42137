// Environment knobs (src/core/env.h): BRAID_X wins over NCCL_X, numbers fall back to their
// defaults when unset or unparsable, and errors can name the variable the user actually set.
// Each test uses knob names of its own: values are cached per process on first read.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/env.h"

namespace braid::env {
namespace {

TEST(EnvKnobs, NcclSpellingIsReadAndNamed) {
  setenv("NCCL_ENVTEST_ONLY_NCCL", "7", 1);
  EXPECT_EQ(GetInt("ENVTEST_ONLY_NCCL", 1), 7);
  EXPECT_EQ(VariableName("ENVTEST_ONLY_NCCL"), "NCCL_ENVTEST_ONLY_NCCL");
}

TEST(EnvKnobs, BraidSpellingWins) {
  setenv("NCCL_ENVTEST_BOTH", "7", 1);
  setenv("BRAID_ENVTEST_BOTH", "9", 1);
  EXPECT_EQ(GetInt("ENVTEST_BOTH", 1), 9);
  EXPECT_EQ(VariableName("ENVTEST_BOTH"), "BRAID_ENVTEST_BOTH");
}

TEST(EnvKnobs, UnsetOrUnparsableGivesTheDefault) {
  EXPECT_EQ(GetInt("ENVTEST_UNSET", 42), 42);
  EXPECT_EQ(VariableName("ENVTEST_UNSET"), "BRAID_ENVTEST_UNSET");
  EXPECT_FALSE(Get("ENVTEST_UNSET_STRING").has_value());
  setenv("BRAID_ENVTEST_BAD", "12abc", 1);
  EXPECT_DOUBLE_EQ(GetDouble("ENVTEST_BAD", 2.5), 2.5);
  setenv("NCCL_ENVTEST_DOUBLE", "0.25", 1);
  EXPECT_DOUBLE_EQ(GetDouble("ENVTEST_DOUBLE", 1.0), 0.25);
}

// Read once: a change after the first read does not change the knob.
TEST(EnvKnobs, ReadOncePerProcess) {
  setenv("BRAID_ENVTEST_ONCE", "1", 1);
  EXPECT_EQ(GetInt("ENVTEST_ONCE", 0), 1);
  setenv("BRAID_ENVTEST_ONCE", "2", 1);
  EXPECT_EQ(GetInt("ENVTEST_ONCE", 0), 1);
}

}  // namespace
}  // namespace braid::env
