#include "core/http/message.h"

#include <algorithm>

namespace weft::http {

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

HeaderMap::HeaderMap(std::initializer_list<HeaderField> fields) {
  for (const auto& f : fields) Add(f.name, f.value);
}

std::optional<std::string_view> HeaderMap::Get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

std::vector<std::string_view> HeaderMap::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.name, name)) out.emplace_back(f.value);
  }
  return out;
}

void HeaderMap::Add(std::string_view name, std::string_view value) {
  if (fields_.capacity() == 0) fields_.reserve(8);  // one allocation for most messages
  fields_.push_back({ToLower(name), std::string(value)});
}

void HeaderMap::AddLowercase(std::string name, std::string value) {
  if (fields_.capacity() == 0) fields_.reserve(8);
  fields_.push_back({std::move(name), std::move(value)});
}

void HeaderMap::Set(std::string_view name, std::string_view value) {
  bool placed = false;
  auto it = fields_.begin();
  while (it != fields_.end()) {
    if (EqualsIgnoreCase(it->name, name)) {
      if (!placed) {
        it->value = std::string(value);
        placed = true;
        ++it;
      } else {
        it = fields_.erase(it);
      }
    } else {
      ++it;
    }
  }
  if (!placed) Add(name, value);
}

size_t HeaderMap::Remove(std::string_view name) {
  size_t before = fields_.size();
  fields_.erase(
      std::remove_if(fields_.begin(), fields_.end(),
                     [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); }),
      fields_.end());
  return before - fields_.size();
}

size_t HeaderMap::ByteSize() const {
  size_t n = 0;
  for (const auto& f : fields_) n += f.name.size() + f.value.size();
  return n;
}

std::string_view VersionName(Version v) {
  switch (v) {
    case Version::kHttp10:
      return "HTTP/1.0";
    case Version::kHttp11:
      return "HTTP/1.1";
    case Version::kHttp2:
      return "HTTP/2";
  }
  return "HTTP/1.1";
}

std::string_view RequestHead::PathOnly() const {
  std::string_view p(path);
  size_t q = p.find('?');
  return q == std::string_view::npos ? p : p.substr(0, q);
}

std::string_view RequestHead::Query() const {
  std::string_view p(path);
  size_t q = p.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = p.substr(q + 1);
  size_t hash = rest.find('#');
  return hash == std::string_view::npos ? rest : rest.substr(0, hash);
}

std::string_view StatusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 418:
      return "I'm a teapot";
    case 421:
      return "Misdirected Request";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace weft::http
