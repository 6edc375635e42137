// BRAID_SOCKET_IFNAME's interface selection (bootstrap/interface.h), NCCL_SOCKET_IFNAME syntax:
// prefixes, exact names ("="), exclusions ("^"), and an error that lists what exists.
#include "bootstrap/interface.h"

#include <gtest/gtest.h>

#include <vector>

namespace braid::bootstrap {
namespace {

TEST(SocketIfnameTest, PrefixListsSelectByPrefixAndMayNameLoopback) {
  EXPECT_TRUE(InterfaceSelected("eth", "eth0", false));
  EXPECT_TRUE(InterfaceSelected("ib,eth", "eth1", false));
  EXPECT_FALSE(InterfaceSelected("eth", "bt0", false));
  EXPECT_TRUE(InterfaceSelected("lo", "lo", true));
}

TEST(SocketIfnameTest, EqualsMeansExactNames) {
  EXPECT_TRUE(InterfaceSelected("=eth0", "eth0", false));
  EXPECT_FALSE(InterfaceSelected("=eth0", "eth01", false));
  EXPECT_TRUE(InterfaceSelected("=bt0,eth0", "eth0", false));
}

TEST(SocketIfnameTest, CaretExcludesAndSkipsLoopback) {
  EXPECT_FALSE(InterfaceSelected("^docker", "docker0", false));
  EXPECT_TRUE(InterfaceSelected("^docker", "eth0", false));
  EXPECT_FALSE(InterfaceSelected("^docker", "lo", true));
  EXPECT_FALSE(InterfaceSelected("^=eth0", "eth0", false));
  EXPECT_TRUE(InterfaceSelected("^=eth0", "eth00", false));
}

TEST(SocketIfnameTest, EmptySpecSelectsAnyNonLoopback) {
  EXPECT_TRUE(InterfaceSelected("", "eth0", false));
  EXPECT_FALSE(InterfaceSelected("", "lo", true));
}

TEST(SocketIfnameTest, PickTakesTheFirstSelectedInKernelOrder) {
  const std::vector<InterfaceAddress> up = {
      {"lo", "127.0.0.1", true}, {"eth0", "192.168.1.5", false}, {"bt0", "10.88.0.1", false}};
  InterfaceAddress pick;
  ASSERT_TRUE(PickInterface("", up, &pick).ok());
  EXPECT_EQ(pick.ipv4, "192.168.1.5");
  ASSERT_TRUE(PickInterface("bt", up, &pick).ok());
  EXPECT_EQ(pick.ipv4, "10.88.0.1");
  ASSERT_TRUE(PickInterface("^eth", up, &pick).ok());
  EXPECT_EQ(pick.name, "bt0");
}

TEST(SocketIfnameTest, NoMatchNamesTheSpecAndTheInterfaces) {
  const std::vector<InterfaceAddress> up = {{"lo", "127.0.0.1", true}, {"eth0", "192.168.1.5", false}};
  InterfaceAddress pick;
  Status s = PickInterface("ib", up, &pick);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("BRAID_SOCKET_IFNAME='ib'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("eth0 (192.168.1.5)"), std::string::npos) << s.ToString();
}

// A setting that names no interface ("^", "=", ",") is refused, not read as "any interface".
TEST(SocketIfnameTest, ASettingNamingNoInterfaceIsRefused) {
  for (const char* spec : {"^", "=", ",", "^=,"}) {
    const Status s = CheckIfnameSetting(spec);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << spec << ": " << s.ToString();
    EXPECT_NE(s.message().find(std::string("='") + spec + "' names no interface"), std::string::npos) << s.ToString();
  }
  for (const char* spec : {"lo", "^docker", "=eth0", "ib,eth"}) EXPECT_TRUE(CheckIfnameSetting(spec).ok()) << spec;
}

TEST(SocketIfnameTest, UpInterfacesIncludeLoopback) {
  bool loopback = false;
  for (const InterfaceAddress& i : UpIPv4Interfaces()) loopback = loopback || i.loopback;
  EXPECT_TRUE(loopback);
}

}  // namespace
}  // namespace braid::bootstrap
