#include "core/http/http1/head_syntax.h"

#include <array>

namespace weft::http::http1 {
namespace {

constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTokenTable = MakeTokenTable();

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// unreserved / sub-delims / '%' (pct-encoded is checked by the caller's loop).
bool IsRegNameChar(char c) {
  if (IsAlpha(c) || IsDigit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':  // unreserved
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':  // sub-delims
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case '%':
      return true;
    default:
      return false;
  }
}

bool IsValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  uint32_t v = 0;
  for (char c : port) {
    if (!IsDigit(c)) return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v <= 65535;
}

bool IsValidRegName(std::string_view host) {
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (!IsRegNameChar(c)) return false;
    if (c == '%') {
      if (i + 2 >= host.size() || !IsHex(host[i + 1]) || !IsHex(host[i + 2])) return false;
      i += 2;
    }
  }
  return true;
}

bool IsValidIpLiteral(std::string_view inside) {
  // IPv6address / IPvFuture, loosely: hex digits, ':', '.', and a "%25" zone id.
  if (inside.empty()) return false;
  for (char c : inside) {
    if (!(IsHex(c) || c == ':' || c == '.' || c == '%' || c == 'v' || c == 'V' || c == '-' ||
          c == '_' || c == '~' || IsAlpha(c))) {
      return false;
    }
  }
  return inside.find(':') != std::string_view::npos;
}

}  // namespace

bool IsTokenChar(unsigned char c) {
  return kTokenTable[c];
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTokenTable[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool IsValidFieldValue(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\t' || c == ' ') continue;
    if (c < 0x21 || c == 0x7f) return false;  // NUL, CR, LF, other controls, DEL
  }
  return true;
}

bool IsValidAuthority(std::string_view s, bool require_port) {
  if (s.empty()) return false;
  std::string_view host = s;
  std::string_view port;
  bool has_port = false;
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    if (!IsValidIpLiteral(s.substr(1, close - 1))) return false;
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
    host = {};
  } else {
    size_t colon = s.rfind(':');
    if (colon != std::string_view::npos) {
      has_port = true;
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
    if (host.empty() || !IsValidRegName(host)) return false;
  }
  if (has_port && !IsValidPort(port)) return false;
  if (require_port && !has_port) return false;
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool HasListToken(const HeaderMap& headers, std::string_view name, std::string_view token) {
  for (const auto& f : headers) {
    if (!EqualsIgnoreCase(f.name, name)) continue;
    std::string_view rest = f.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = TrimOws(rest.substr(0, comma));
      if (EqualsIgnoreCase(item, token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::optional<uint64_t> ParseContentLength(std::string_view value) {
  if (value.empty() || value.size() > 18) return std::nullopt;  // 18 digits < 2^63
  uint64_t v = 0;
  for (char c : value) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<SyntaxError> ParseRequestLine(std::string_view line, RequestLine* out) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return SyntaxError{400, "malformed request line"};
  std::string_view method = line.substr(0, sp1);
  if (!IsToken(method)) return SyntaxError{400, "invalid method"};
  std::string_view rest = line.substr(sp1 + 1);
  size_t sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos) return SyntaxError{400, "malformed request line"};
  std::string_view target = rest.substr(0, sp2);
  std::string_view version = rest.substr(sp2 + 1);
  if (target.empty()) return SyntaxError{400, "several spaces in the request line"};
  for (char ch : target) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e) return SyntaxError{400, "invalid character in request-target"};
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !IsDigit(version[5]) ||
      version[6] != '.' || !IsDigit(version[7])) {
    return SyntaxError{400, "malformed HTTP version"};
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return SyntaxError{505, "HTTP version not supported"};
  }
  out->method = method;
  out->target = target;
  out->version = version[7] == '0' ? Version::kHttp10 : Version::kHttp11;
  return std::nullopt;
}

std::optional<SyntaxError> ParseStatusLine(std::string_view line, StatusLine* out) {
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !IsDigit(line[5]) || line[6] != '.' ||
      !IsDigit(line[7]) || line[8] != ' ') {
    return SyntaxError{400, "malformed status line"};
  }
  if (line[5] != '1' || (line[7] != '0' && line[7] != '1')) {
    return SyntaxError{505, "HTTP version not supported"};
  }
  if (!IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11])) {
    return SyntaxError{400, "malformed status code"};
  }
  int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 100 || status > 599) return SyntaxError{400, "status code out of range"};
  std::string_view reason;
  if (line.size() > 12) {
    if (line[12] != ' ') return SyntaxError{400, "malformed status line"};
    reason = line.substr(13);
    if (!IsValidFieldValue(reason)) return SyntaxError{400, "invalid character in reason"};
  }
  out->version = line[7] == '0' ? Version::kHttp10 : Version::kHttp11;
  out->status = status;
  out->reason = reason;
  return std::nullopt;
}

std::optional<SyntaxError> ParseFieldSection(std::string_view block, size_t max_fields,
                                             HeaderMap* out) {
  size_t count = 0;
  while (true) {
    size_t eol = block.find("\r\n");
    if (eol == std::string_view::npos) return SyntaxError{400, "field section without CRLF"};
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol + 2);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      return SyntaxError{400, "obs-fold (line folding) in a field"};
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return SyntaxError{400, "field line without colon"};
    std::string_view name = line.substr(0, colon);
    if (!IsToken(name)) {
      if (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
        return SyntaxError{400, "whitespace between field name and colon"};
      }
      return SyntaxError{400, "invalid field name"};
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    if (!IsValidFieldValue(value)) {
      // Covers NUL and controls, and a bare CR or LF inside the line.
      return SyntaxError{400, "invalid character in field value"};
    }
    if (++count > max_fields) return SyntaxError{431, "too many header fields"};
    out->Add(name, value);
  }
  if (!block.empty()) return SyntaxError{400, "bytes after the field section"};
  return std::nullopt;
}

std::optional<SyntaxError> CheckTarget(std::string_view method, std::string_view target,
                                       TargetForm* form, std::string_view* absolute_authority) {
  *absolute_authority = {};
  if (target.find('#') != std::string_view::npos) {
    return SyntaxError{400, "fragment in request-target"};
  }
  if (method == "CONNECT") {
    if (!IsValidAuthority(target, /*require_port=*/true)) {
      return SyntaxError{400, "CONNECT needs an authority-form target (host:port)"};
    }
    *form = TargetForm::kAuthority;
    return std::nullopt;
  }
  if (target == "*") {
    if (method != "OPTIONS") return SyntaxError{400, "asterisk-form target outside OPTIONS"};
    *form = TargetForm::kAsterisk;
    return std::nullopt;
  }
  if (target.front() == '/') {
    *form = TargetForm::kOrigin;
    return std::nullopt;
  }
  // absolute-form: scheme "://" authority path-abempty [ "?" query ]
  size_t sep = target.find("://");
  if (sep == std::string_view::npos) return SyntaxError{400, "invalid request-target"};
  std::string_view scheme = target.substr(0, sep);
  if (!EqualsIgnoreCase(scheme, "http") && !EqualsIgnoreCase(scheme, "https")) {
    return SyntaxError{400, "absolute-form target with a scheme other than http(s)"};
  }
  std::string_view rest = target.substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (!IsValidAuthority(authority, /*require_port=*/false)) {
    return SyntaxError{400, "invalid authority in absolute-form target"};
  }
  *form = TargetForm::kAbsolute;
  *absolute_authority = authority;
  return std::nullopt;
}

}  // namespace weft::http::http1
