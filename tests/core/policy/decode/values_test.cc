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

// Istio's fault.abort.grpcStatus names, as grpc/doc/statuscodes.md numbers them.
TEST(GrpcStatus, NamesAndCodes) {
  EXPECT_EQ(GrpcStatusCode("OK"), 0u);
  EXPECT_EQ(GrpcStatusCode("CANCELLED"), 1u);
  EXPECT_EQ(GrpcStatusCode("DEADLINE_EXCEEDED"), 4u);
  EXPECT_EQ(GrpcStatusCode("RESOURCE_EXHAUSTED"), 8u);
  EXPECT_EQ(GrpcStatusCode("INTERNAL"), 13u);
  EXPECT_EQ(GrpcStatusCode("UNAVAILABLE"), 14u);
  EXPECT_EQ(GrpcStatusCode("DATA_LOSS"), 15u);
  EXPECT_EQ(GrpcStatusCode("UNAUTHENTICATED"), 16u);
  EXPECT_EQ(GrpcStatusNames().size(), 17u);
  EXPECT_FALSE(GrpcStatusCode("unavailable"));  // names are upper case, as in Istio
  EXPECT_FALSE(GrpcStatusCode("14"));
  EXPECT_FALSE(GrpcStatusCode(""));
}

// weft.dev/retry-budget: "off", or optional ratio, min-per-second, ttl (defaults 0.2, 10, 10s).
TEST(RetryBudget, Parses) {
  auto d = ParseRetryBudget("", nullptr);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->off);
  EXPECT_DOUBLE_EQ(d->ratio, 0.2);
  EXPECT_EQ(d->min_per_second, 10u);
  EXPECT_EQ(d->ttl_ms, 10000u);
  ASSERT_TRUE(ParseRetryBudget("on", nullptr));
  auto off = ParseRetryBudget(" off ", nullptr);
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->off);
  auto all = ParseRetryBudget("ratio=0.5, min-per-second=0,ttl=1m", nullptr);
  ASSERT_TRUE(all);
  EXPECT_DOUBLE_EQ(all->ratio, 0.5);
  EXPECT_EQ(all->min_per_second, 0u);
  EXPECT_EQ(all->ttl_ms, 60000u);
  auto some = ParseRetryBudget("ttl=2500ms", nullptr);
  ASSERT_TRUE(some);
  EXPECT_DOUBLE_EQ(some->ratio, 0.2);
  EXPECT_EQ(some->ttl_ms, 2500u);
}

TEST(RetryBudget, Rejects) {
  for (const char* bad : {"ratio=-0.1", "ratio=x", "ratio=1001", "min-per-second=1.5",
                          "min-per-second=-1", "ttl=500ms", "ttl=61s", "ttl=10", "ratio",
                          "budget=1", "ratio=0.1,ratio=0.2", "of", "ratio=0.1,", "=0.1"}) {
    std::string why;
    EXPECT_FALSE(ParseRetryBudget(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
  std::string why;
  ParseRetryBudget("budget=1", &why);
  EXPECT_THAT(why, HasSubstr("unknown key \"budget\""));
}

}  // namespace
}  // namespace weft::policy
