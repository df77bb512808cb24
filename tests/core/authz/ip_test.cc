// Addresses and CIDR blocks as the authorizer matches ipBlocks and `when source.ip`.

#include "core/authz/ip.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace weft::authz {
namespace {

IpAddress Ip(const char* s) {
  auto ip = IpAddress::Parse(s);
  EXPECT_TRUE(ip.has_value()) << s;
  return ip.value_or(IpAddress());
}

bool In(const char* cidr, const char* ip) {
  auto c = Cidr::Parse(cidr);
  EXPECT_TRUE(c.has_value()) << cidr;
  return c && c->Contains(Ip(ip));
}

TEST(IpAddress, ParsesBothFamilies) {
  EXPECT_EQ(Ip("10.1.2.3").family(), IpAddress::Family::kV4);
  EXPECT_EQ(Ip("10.1.2.3"), IpAddress::V4(0x0a010203));
  EXPECT_EQ(Ip("fd00::1").family(), IpAddress::Family::kV6);
  EXPECT_EQ(Ip("fd00::1").ToString(), "fd00::1");
  EXPECT_EQ(Ip("10.1.2.3").ToString(), "10.1.2.3");
}

TEST(IpAddress, V4MappedIsV4) {
  EXPECT_EQ(Ip("::ffff:10.1.2.3"), Ip("10.1.2.3"));
  EXPECT_TRUE(In("10.0.0.0/8", "::ffff:10.1.2.3"));
}

TEST(IpAddress, RejectsNonAddresses) {
  for (const char* s : {"", "10.1.2", "10.1.2.3.4", "256.1.1.1", "10.1.2.3/8", "[fd00::1]",
                        "fd00::1%eth0", "host", "10.1.2.3:80", "fd00:::1"}) {
    EXPECT_FALSE(IpAddress::Parse(s).has_value()) << s;
  }
  EXPECT_FALSE(IpAddress().valid());
}

TEST(IpAddress, FromSockaddr) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(0x0a000005);
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in)), Ip("10.0.0.5"));
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "fd00::7", &in6.sin6_addr);
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6)), Ip("fd00::7"));
  inet_pton(AF_INET6, "::ffff:10.0.0.5", &in6.sin6_addr);
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6)), Ip("10.0.0.5"));
  sockaddr other{};
  other.sa_family = AF_UNIX;
  EXPECT_FALSE(IpAddress::FromSockaddr(&other).has_value());
  EXPECT_FALSE(IpAddress::FromSockaddr(nullptr).has_value());
}

TEST(Cidr, V4Prefixes) {
  EXPECT_TRUE(In("10.0.0.0/8", "10.255.1.1"));
  EXPECT_FALSE(In("10.0.0.0/8", "11.0.0.0"));
  EXPECT_TRUE(In("10.1.2.0/23", "10.1.3.255"));
  EXPECT_FALSE(In("10.1.2.0/23", "10.1.4.0"));
  EXPECT_TRUE(In("0.0.0.0/0", "203.0.113.9"));
  EXPECT_TRUE(In("10.1.2.3/32", "10.1.2.3"));
  EXPECT_FALSE(In("10.1.2.3/32", "10.1.2.4"));
  EXPECT_TRUE(In("10.1.2.3/31", "10.1.2.2"));
  EXPECT_TRUE(In("128.0.0.0/1", "200.1.1.1"));
  EXPECT_FALSE(In("128.0.0.0/1", "127.1.1.1"));
}

TEST(Cidr, BareAddressIsHostBlock) {
  EXPECT_EQ(Cidr::Parse("10.1.2.3")->prefix_length(), 32);
  EXPECT_TRUE(In("10.1.2.3", "10.1.2.3"));
  EXPECT_FALSE(In("10.1.2.3", "10.1.2.2"));
  EXPECT_EQ(Cidr::Parse("fd00::1")->prefix_length(), 128);
  EXPECT_TRUE(In("fd00::1", "fd00::1"));
  EXPECT_FALSE(In("fd00::1", "fd00::2"));
}

TEST(Cidr, V6Prefixes) {
  EXPECT_TRUE(In("fd00::/8", "fdff:1::1"));
  EXPECT_FALSE(In("fd00::/8", "fe80::1"));
  EXPECT_TRUE(In("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(In("2001:db8::/32", "2001:db9::1"));
  // Across the 64-bit halves.
  EXPECT_TRUE(In("2001:db8:0:0:8000::/65", "2001:db8::ffff:0:0:1"));
  EXPECT_FALSE(In("2001:db8:0:0:8000::/65", "2001:db8::7fff:0:0:1"));
  EXPECT_TRUE(In("2001:db8::1:0/112", "2001:db8::1:abcd"));
  EXPECT_FALSE(In("2001:db8::1:0/112", "2001:db8::2:0"));
  EXPECT_TRUE(In("::/0", "fe80::1"));
}

TEST(Cidr, FamiliesNeverMix) {
  EXPECT_FALSE(In("::/0", "10.0.0.1"));
  EXPECT_FALSE(In("0.0.0.0/0", "fd00::1"));
  EXPECT_FALSE(Cidr::Parse("0.0.0.0/0")->Contains(IpAddress()));
}

TEST(Cidr, HostBitsAreCleared) {
  EXPECT_EQ(Cidr::Parse("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_TRUE(In("10.1.2.3/8", "10.200.0.1"));
  EXPECT_EQ(Cidr::Parse("fd00::1/8")->ToString(), "fd00::/8");
}

TEST(Cidr, RejectsInvalid) {
  for (const char* s :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/8x",
        "10.0.0.0/08 ", "10.0.0/8", "::ffff:10.0.0.0/104", "10.0.0.0/8/8", "*"}) {
    EXPECT_FALSE(Cidr::Parse(s).has_value()) << s;
  }
}

}  // namespace
}  // namespace weft::authz
