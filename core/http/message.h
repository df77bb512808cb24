#pragma once

// The HTTP message model shared by the waypoint's codecs (HTTP/1.1 on llhttp, HTTP/2 on
// nghttp2), its filter chain and (later) the gateways: request and response heads with an
// ordered header list. Bodies never live here: they stream through the codecs.
//
// Header names are stored lowercase (HTTP/2 requires it; HTTP/1.1 names are case-insensitive
// and the HTTP/1 codec lowers them on parse). Order and duplicates are kept, so a request is
// forwarded with its headers as sent. Pseudo-headers are not headers here: they are the
// fields of RequestHead / ResponseHead.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::http {

struct HeaderField {
  std::string name;  // lowercase
  std::string value;
};

class HeaderMap {
 public:
  HeaderMap() = default;
  HeaderMap(std::initializer_list<HeaderField> fields);

  // The first value of `name` (any case), or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
  // Every value of `name`, in order.
  std::vector<std::string_view> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Appends a field (name lowered).
  void Add(std::string_view name, std::string_view value);
  // Appends a field whose name is already lowercase (an HTTP/2 field name: nghttp2 refuses
  // uppercase ones), taking the strings instead of copying them.
  void AddLowercase(std::string name, std::string value);
  // Replaces every field called `name` with one (at the first one's place, else appended).
  void Set(std::string_view name, std::string_view value);
  // Removes every field called `name`; returns how many.
  size_t Remove(std::string_view name);

  const std::vector<HeaderField>& fields() const { return fields_; }
  std::vector<HeaderField>& mutable_fields() { return fields_; }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  // Bytes of names and values (a measure for header size limits).
  size_t ByteSize() const;

  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<HeaderField> fields_;
};

enum class Version : uint8_t { kHttp10, kHttp11, kHttp2 };
std::string_view VersionName(Version v);  // "HTTP/1.0", "HTTP/1.1", "HTTP/2"

struct RequestHead {
  std::string method;     // "GET"
  std::string scheme;     // "http" (HTTP/2 :scheme; "http" for HTTP/1.1 in the mesh)
  std::string authority;  // HTTP/2 :authority, or the HTTP/1.1 Host header
  std::string path;       // origin form "/a?b" (or the authority for CONNECT)
  HeaderMap headers;      // without Host (it is `authority`) and without pseudo-headers
  Version version = Version::kHttp11;

  // The path without the query ("/a" of "/a?b").
  std::string_view PathOnly() const;
  // The query without '?' ("b" of "/a?b"); empty when none.
  std::string_view Query() const;
};

struct ResponseHead {
  int status = 200;
  std::string reason;  // HTTP/1.1 reason phrase as received; empty: the standard one
  HeaderMap headers;
  Version version = Version::kHttp11;
};

// "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view StatusText(int status);

// ASCII lowercase copy.
std::string ToLower(std::string_view s);
// Case-insensitive ASCII equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace weft::http
