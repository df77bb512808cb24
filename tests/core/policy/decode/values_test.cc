// Scalar value parsing: durations as Istio writes them, YAML 1.2 integers, CIDRs, DNS names.

#include "core/policy/decode/values.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::policy {
namespace {

using ::testing::HasSubstr;

struct DurationCase {
  std::string text;
  uint64_t nanos;
};

class DurationOk : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationOk, Parses) {
  std::string error;
  auto v = ParseDuration(GetParam().text, &error);
  ASSERT_TRUE(v) << GetParam().text << ": " << error;
  EXPECT_EQ(*v, GetParam().nanos) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Values, DurationOk,
    ::testing::Values(DurationCase{"0", 0}, DurationCase{"5s", 5'000'000'000},
                      DurationCase{"1.5s", 1'500'000'000}, DurationCase{"1m30s", 90'000'000'000},
                      DurationCase{"100ms", 100'000'000}, DurationCase{"1h", 3'600'000'000'000},
                      DurationCase{"2h45m", 9'900'000'000'000}, DurationCase{"250us", 250'000},
                      DurationCase{"250\xc2\xb5s", 250'000}, DurationCase{"10ns", 10},
                      DurationCase{"0.001s", 1'000'000}, DurationCase{"1s500ms", 1'500'000'000}));

struct DurationBad {
  std::string text;
  std::string why;  // substring of the error
};

class DurationError : public ::testing::TestWithParam<DurationBad> {};

TEST_P(DurationError, Rejects) {
  std::string error;
  EXPECT_FALSE(ParseDuration(GetParam().text, &error)) << GetParam().text;
  EXPECT_THAT(error, HasSubstr(GetParam().why)) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Values, DurationError,
    ::testing::Values(DurationBad{"", "empty duration"}, DurationBad{"5", "missing unit"},
                      DurationBad{"5s tempo", "unknown unit \"s tempo\""},
                      DurationBad{"5 s", "unknown unit \" s\""}, DurationBad{"-5s", "expected"},
                      DurationBad{"s", "expected"}, DurationBad{"1.2.3s", "expected"},
                      DurationBad{"5sec", "unknown unit \"sec\""},
                      DurationBad{"1d", "unknown unit \"d\""}));

TEST(Duration, LargestAndTooLarge) {
  std::string error;
  EXPECT_EQ(ParseDuration("2562047h", &error), 2'562'047ull * 3'600'000'000'000ull);
  // Past int64 nanoseconds (Go's limit) it is an error, not a wrapped-around value.
  for (std::string_view s : {"2562048h", "2600000h", "9999999h", "99999999999999999999s"}) {
    EXPECT_FALSE(ParseDuration(s, &error)) << s;
    EXPECT_EQ(error, "duration out of range") << s;
  }
}

TEST(Duration, NullErrorPointerIsAllowed) {
  EXPECT_FALSE(ParseDuration("x", nullptr));
}

TEST(Duration, MillisRoundUp) {
  EXPECT_EQ(NanosToMillis(0), 0u);
  EXPECT_EQ(NanosToMillis(500'000), 1u);  // 500us is not silently zero
  EXPECT_EQ(NanosToMillis(2'000'000'000), 2000u);
  EXPECT_EQ(NanosToMillis(1'000'001), 2u);
}

TEST(Int, AcceptsYamlCoreIntegers) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_EQ(ParseInt("+3"), 3);
  EXPECT_EQ(ParseInt("0x1F"), 31);
  EXPECT_EQ(ParseInt("0o17"), 15);
  EXPECT_EQ(ParseInt("0"), 0);
}

TEST(Int, RejectsEverythingElse) {
  for (std::string_view s :
       {"", "1.5", "abc", "1 -maximo de conexao", "80a", "0x", "-", "1e3", " 1", "0xZZ"}) {
    EXPECT_FALSE(ParseInt(s)) << "'" << s << "'";
  }
}

TEST(Int, RejectsDoubleSigns) {
  // A sign is allowed once, before any digits or base prefix.
  for (std::string_view s : {"--5", "+-5", "-+5", "0x-5", "-0x-5", "0o+7"}) {
    EXPECT_FALSE(ParseInt(s)) << "'" << s << "'";
  }
}

TEST(Double, Parses) {
  EXPECT_EQ(ParseDouble("1.5"), 1.5);
  EXPECT_EQ(ParseDouble("1e2"), 100.0);
  EXPECT_EQ(ParseDouble("-0.25"), -0.25);
  EXPECT_FALSE(ParseDouble(""));
  EXPECT_FALSE(ParseDouble("abc"));
  EXPECT_FALSE(ParseDouble("nan"));
  EXPECT_FALSE(ParseDouble("1.5x"));
}

TEST(Bool, OnlyYaml12Booleans) {
  EXPECT_EQ(ParseBool("true"), true);
  EXPECT_EQ(ParseBool("True"), true);
  EXPECT_EQ(ParseBool("TRUE"), true);
  EXPECT_EQ(ParseBool("false"), false);
  EXPECT_EQ(ParseBool("False"), false);
  EXPECT_FALSE(ParseBool("yes"));
  EXPECT_FALSE(ParseBool("on"));
  EXPECT_FALSE(ParseBool("1"));
}

TEST(Ip, Addresses) {
  EXPECT_TRUE(IsIpAddress("10.0.0.1"));
  EXPECT_TRUE(IsIpAddress("::1"));
  EXPECT_TRUE(IsIpAddress("fd00::5"));
  EXPECT_FALSE(IsIpAddress("10.0.0.256"));
  EXPECT_FALSE(IsIpAddress("10.0.0.0/8"));
  EXPECT_FALSE(IsIpAddress("example.com"));
  EXPECT_FALSE(IsIpAddress(""));
}

struct CidrCase {
  std::string in;
  std::string out;  // empty = invalid
};

class Cidr : public ::testing::TestWithParam<CidrCase> {};

TEST_P(Cidr, Normalises) {
  auto v = NormalizeCidr(GetParam().in);
  if (GetParam().out.empty()) {
    EXPECT_FALSE(v) << GetParam().in << " -> " << v.value_or("");
  } else {
    ASSERT_TRUE(v) << GetParam().in;
    EXPECT_EQ(*v, GetParam().out);
  }
}

INSTANTIATE_TEST_SUITE_P(Values, Cidr,
                         ::testing::Values(CidrCase{"10.1.2.3/8", "10.0.0.0/8"},
                                           CidrCase{"10.0.0.1", "10.0.0.1/32"},
                                           CidrCase{"10.1.200.3/17", "10.1.128.0/17"},
                                           CidrCase{"10.1.2.3/0", "0.0.0.0/0"},
                                           CidrCase{"192.168.0.7/32", "192.168.0.7/32"},
                                           CidrCase{"2001:db8::1/32", "2001:db8::/32"},
                                           CidrCase{"::1", "::1/128"}, CidrCase{"10.0.0.0/33", ""},
                                           CidrCase{"10.0.0.0/-1", ""}, CidrCase{"10.0.0.0/", ""},
                                           CidrCase{"x/8", ""}, CidrCase{"300.1.1.1", ""},
                                           CidrCase{"2001:db8::/129", ""}));

TEST(Dns, LabelsAndSubdomains) {
  EXPECT_TRUE(IsDnsLabel("web-1"));
  EXPECT_TRUE(IsDnsLabel("a"));
  EXPECT_FALSE(IsDnsLabel("Web"));
  EXPECT_FALSE(IsDnsLabel("-web"));
  EXPECT_FALSE(IsDnsLabel("web-"));
  EXPECT_FALSE(IsDnsLabel("a.b"));
  EXPECT_FALSE(IsDnsLabel(""));
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
  EXPECT_TRUE(IsDnsLabel(std::string(63, 'a')));
  EXPECT_TRUE(IsDnsSubdomain("catalog.istioinaction.svc"));
  EXPECT_FALSE(IsDnsSubdomain("a..b"));
  EXPECT_FALSE(IsDnsSubdomain("a_b"));
  EXPECT_FALSE(IsDnsSubdomain("."));
}

}  // namespace
}  // namespace weft::policy
