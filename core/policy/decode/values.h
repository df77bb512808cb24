#pragma once

// Parsing of scalar values as Kubernetes, Istio and Gateway API write them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::policy {

// Go-style durations as Istio accepts them: one or more <number><unit> with units h, m, s, ms,
// us (or µs), ns, e.g. "5s", "1.5s", "1m30s", "100ms". Returns nanoseconds, or nullopt with a
// reason in `error`.
std::optional<uint64_t> ParseDuration(std::string_view text, std::string* error);

// Milliseconds from nanoseconds, rounding up so that "500us" is not silently zero.
inline uint64_t NanosToMillis(uint64_t ns) {
  return (ns + 999'999) / 1'000'000;
}

// YAML 1.2 core schema integers (decimal, optional sign, 0x hex, 0o octal).
std::optional<int64_t> ParseInt(std::string_view text);
std::optional<double> ParseDouble(std::string_view text);
std::optional<bool> ParseBool(std::string_view text);

// IPv4 or IPv6 address in text form; normalised (e.g. "::ffff:0:1" kept as IPv6).
bool IsIpAddress(std::string_view text);
// "10.0.0.0/8", "2001:db8::/32" or a bare address (made /32 or /128). Returns the canonical
// CIDR text, or nullopt.
std::optional<std::string> NormalizeCidr(std::string_view text);

// Why `pattern` is not a valid RE2 regular expression (the syntax Istio, Envoy and Gateway API
// use); nullopt when it is.
std::optional<std::string> RegexError(const std::string& pattern);

// RFC 1123 DNS label / subdomain, as Kubernetes validates object names.
bool IsDnsLabel(std::string_view s);
bool IsDnsSubdomain(std::string_view s);

// gRPC status names as Istio's fault.abort.grpcStatus accepts them ("UNAVAILABLE" -> 14), per
// https://github.com/grpc/grpc/blob/master/doc/statuscodes.md. nullopt for any other text.
std::optional<uint32_t> GrpcStatusCode(std::string_view name);
// The names GrpcStatusCode accepts, in code order.
const std::vector<std::string_view>& GrpcStatusNames();

// The value of the annotation weft.dev/retry-budget: "off", or a comma list of optional
// key=value pairs "ratio=0.2,min-per-second=10,ttl=10s" ("" and "on": every default).
struct RetryBudgetValue {
  bool off = false;
  double ratio = 0.2;            // 0-1000: retries may add this fraction of the requests.
  uint32_t min_per_second = 10;  // floor of retries per second.
  uint64_t ttl_ms = 10'000;      // window, 1s-60s.
};
inline constexpr std::string_view kRetryBudgetAnnotation = "weft.dev/retry-budget";
// nullopt with the reason in `error` when the value is malformed.
std::optional<RetryBudgetValue> ParseRetryBudget(std::string_view text, std::string* error);

}  // namespace weft::policy
