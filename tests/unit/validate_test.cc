// Send/recv argument validation (runtime/validate.h): the inline fast path and the full check
// behind it must agree, including on counts the fast path does not vouch for.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "runtime/validate.h"

namespace braid::runtime {
namespace {

Status Check(size_t count, DataType type, size_t* bytes, const void* buf = "x", int peer = 1) {
  return ValidatePointToPoint("send", buf, count, type, peer, /*nranks=*/4, bytes);
}

TEST(ValidatePointToPoint, SetsTheMessageSize) {
  size_t bytes = 0;
  ASSERT_TRUE(Check(3, DataType::kFloat64, &bytes).ok());
  EXPECT_EQ(bytes, 24u);
  ASSERT_TRUE(Check(0, DataType::kUint8, &bytes, nullptr).ok());
  EXPECT_EQ(bytes, 0u);
}

// Above the fast path's bound but within what a process can address: valid, with the exact size.
TEST(ValidatePointToPoint, ALargeCountOfSmallElementsPassesTheFullCheck) {
  size_t bytes = 0;
  const size_t count = kSurelySmallCount + 5;
  ASSERT_TRUE(Check(count, DataType::kUint8, &bytes).ok());
  EXPECT_EQ(bytes, count);
  ASSERT_TRUE(Check(kMaxBufferBytes / 2, DataType::kFloat16, &bytes).ok());
  EXPECT_EQ(bytes, kMaxBufferBytes);
}

TEST(ValidatePointToPoint, MoreThanAProcessCanAddressIsRefused) {
  size_t bytes = 0;
  Status s = Check(kMaxBufferBytes / 2 + 1, DataType::kFloat16, &bytes);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("more than a process can address"), std::string::npos) << s.ToString();
  s = Check(SIZE_MAX / 2, DataType::kFloat32, &bytes);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("overflows size_t"), std::string::npos) << s.ToString();
}

TEST(ValidatePointToPoint, NamesEachOtherProblem) {
  size_t bytes = 0;
  EXPECT_NE(Check(1, DataType(99), &bytes).message().find("unknown data type 99"), std::string::npos);
  EXPECT_NE(Check(1, DataType::kUint8, &bytes, "x", 4).message().find("peer 4 out of range [0, 4)"),
            std::string::npos);
  EXPECT_NE(Check(1, DataType::kUint8, &bytes, nullptr).message().find("buffer is null with count 1"),
            std::string::npos);
}

}  // namespace
}  // namespace braid::runtime
