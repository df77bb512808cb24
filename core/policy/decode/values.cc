#include "core/policy/decode/values.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace weft::policy {

std::optional<uint64_t> ParseDuration(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<uint64_t> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  const std::string expected =
      "expected a number followed by a unit (h, m, s, ms, us, ns), e.g. \"5s\" or \"1m30s\"";
  if (text.empty()) return fail("empty duration; " + expected);
  if (text == "0") return 0;
  long double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (i == start) return fail(expected);
    std::string number(text.substr(start, i - start));
    char* end = nullptr;
    long double value = std::strtold(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return fail(expected);
    size_t ustart = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.')
      ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    long double scale;
    if (unit == "h") {
      scale = 3600e9L;
    } else if (unit == "m") {
      scale = 60e9L;
    } else if (unit == "s") {
      scale = 1e9L;
    } else if (unit == "ms") {
      scale = 1e6L;
    } else if (unit == "us" || unit == "\xc2\xb5s") {
      scale = 1e3L;
    } else if (unit == "ns") {
      scale = 1;
    } else if (unit.empty()) {
      return fail("missing unit; " + expected);
    } else {
      return fail("unknown unit \"" + std::string(unit) + "\"; " + expected);
    }
    total += value * scale;
  }
  // Go's limit (int64 nanoseconds, ~2562047h); beyond it llround below would overflow.
  if (total >= 9.2233720368547758e18L) return fail("duration out of range");
  return static_cast<uint64_t>(std::llround(static_cast<double>(total)));
}

std::optional<int64_t> ParseInt(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool neg = false;
  size_t i = 0;
  if (text[0] == '-' || text[0] == '+') {
    neg = text[0] == '-';
    i = 1;
  }
  int base = 10;
  if (text.substr(i, 2) == "0x") {
    base = 16;
    i += 2;
  } else if (text.substr(i, 2) == "0o") {
    base = 8;
    i += 2;
  }
  // from_chars takes a sign of its own: "--5" or "0x-5" must not get through as numbers.
  if (i >= text.size() || text[i] == '-' || text[i] == '+') return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), v, base);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return neg ? -v : v;
}

std::optional<double> ParseDouble(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno != 0 || std::isnan(v)) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string_view t) {
  if (t == "true" || t == "True" || t == "TRUE") return true;
  if (t == "false" || t == "False" || t == "FALSE") return false;
  return std::nullopt;
}

bool IsIpAddress(std::string_view text) {
  std::string s(text);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::optional<std::string> NormalizeCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string addr(text.substr(0, slash));
  unsigned char buf[16];
  int family;
  int max_bits;
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    family = AF_INET;
    max_bits = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    family = AF_INET6;
    max_bits = 128;
  } else {
    return std::nullopt;
  }
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    auto b = ParseInt(text.substr(slash + 1));
    if (!b || *b < 0 || *b > max_bits) return std::nullopt;
    bits = static_cast<int>(*b);
  }
  // Zero the host bits so that equal networks print equally.
  int bytes = max_bits / 8;
  for (int i = 0; i < bytes; ++i) {
    int keep = bits - i * 8;
    if (keep >= 8) continue;
    buf[i] &= keep <= 0 ? 0 : static_cast<unsigned char>(0xff << (8 - keep));
  }
  char out[INET6_ADDRSTRLEN];
  inet_ntop(family, buf, out, sizeof(out));
  return std::string(out) + "/" + std::to_string(bits);
}

std::optional<std::string> RegexError(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (re.ok()) return std::nullopt;
  return re.error();
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i + 1 < s.size())) return false;
  }
  return true;
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == s.npos ? s.npos : dot - start))) return false;
    if (dot == s.npos) return true;
    start = dot + 1;
  }
}

const std::vector<std::string_view>& GrpcStatusNames() {
  static const std::vector<std::string_view> names = {"OK",
                                                      "CANCELLED",
                                                      "UNKNOWN",
                                                      "INVALID_ARGUMENT",
                                                      "DEADLINE_EXCEEDED",
                                                      "NOT_FOUND",
                                                      "ALREADY_EXISTS",
                                                      "PERMISSION_DENIED",
                                                      "RESOURCE_EXHAUSTED",
                                                      "FAILED_PRECONDITION",
                                                      "ABORTED",
                                                      "OUT_OF_RANGE",
                                                      "UNIMPLEMENTED",
                                                      "INTERNAL",
                                                      "UNAVAILABLE",
                                                      "DATA_LOSS",
                                                      "UNAUTHENTICATED"};
  return names;
}

std::optional<uint32_t> GrpcStatusCode(std::string_view name) {
  const auto& names = GrpcStatusNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<uint32_t>(i);
  }
  return std::nullopt;
}

std::optional<RetryBudgetValue> ParseRetryBudget(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<RetryBudgetValue> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  RetryBudgetValue out;
  text = trim(text);
  if (text == "off") {
    out.off = true;
    return out;
  }
  if (text.empty() || text == "on") return out;
  bool seen[3] = {false, false, false};
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item =
        trim(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start));
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return fail("\"" + std::string(item) +
                  "\" is not key=value; expected \"off\" or keys ratio, min-per-second, ttl, "
                  "e.g. \"ratio=0.2,min-per-second=10,ttl=10s\"");
    }
    std::string_view key = trim(item.substr(0, eq));
    std::string_view value = trim(item.substr(eq + 1));
    int k = key == "ratio" ? 0 : key == "min-per-second" ? 1 : key == "ttl" ? 2 : -1;
    if (k < 0) {
      return fail("unknown key \"" + std::string(key) +
                  "\"; expected ratio, min-per-second or ttl");
    }
    if (seen[k]) return fail("key \"" + std::string(key) + "\" is given twice");
    seen[k] = true;
    if (k == 0) {
      auto v = ParseDouble(value);
      if (!v || !(*v >= 0 && *v <= 1000)) {
        return fail("ratio \"" + std::string(value) + "\" is not a number from 0 to 1000");
      }
      out.ratio = *v;
    } else if (k == 1) {
      auto v = ParseInt(value);
      if (!v || *v < 0 || *v > UINT32_MAX) {
        return fail("min-per-second \"" + std::string(value) +
                    "\" is not a whole number from 0 to 4294967295");
      }
      out.min_per_second = static_cast<uint32_t>(*v);
    } else {
      std::string why;
      auto ns = ParseDuration(value, &why);
      if (!ns) return fail("ttl \"" + std::string(value) + "\": " + why);
      if (*ns < 1'000'000'000ULL || *ns > 60'000'000'000ULL) {
        return fail("ttl \"" + std::string(value) + "\" must be from 1s to 60s");
      }
      out.ttl_ms = NanosToMillis(*ns);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace weft::policy
