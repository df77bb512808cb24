#include "core/http/http1/serializer.h"

#include "core/http/http1/head_syntax.h"

namespace weft::http::http1 {
namespace {

// Appends `s` with CR, LF and NUL written as SP.
void AppendSafe(std::string_view s, std::string* out) {
  size_t start = out->size();
  out->append(s);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
}

void AppendField(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->append(": ");
  AppendSafe(value, out);
  out->append("\r\n");
}

bool IsFramingField(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding");
}

void AppendFields(const HeaderMap& headers, bool skip_host, std::string* out) {
  for (const auto& f : headers) {
    if (!IsToken(f.name) || IsFramingField(f.name)) continue;
    if (skip_host && EqualsIgnoreCase(f.name, "host")) continue;
    AppendField(f.name, f.value, out);
  }
}

void AppendFraming(const BodyFraming& framing, bool request, const HeaderMap& headers,
                   std::string* out) {
  switch (framing.kind) {
    case BodyFraming::Kind::kNone:
      break;
    case BodyFraming::Kind::kContentLength:
      AppendField("content-length", std::to_string(framing.length), out);
      break;
    case BodyFraming::Kind::kChunked:
      AppendField("transfer-encoding", "chunked", out);
      break;
    case BodyFraming::Kind::kUntilClose:
      if (!request && !HasListToken(headers, "connection", "close")) {
        AppendField("connection", "close", out);
      }
      break;
  }
}

std::string_view VersionText(Version v) {
  return v == Version::kHttp10 ? "HTTP/1.0" : "HTTP/1.1";
}

}  // namespace

std::string_view FramingKindName(BodyFraming::Kind kind) {
  switch (kind) {
    case BodyFraming::Kind::kNone:
      return "none";
    case BodyFraming::Kind::kContentLength:
      return "content-length";
    case BodyFraming::Kind::kChunked:
      return "chunked";
    case BodyFraming::Kind::kUntilClose:
      return "until-close";
  }
  return "?";
}

void AppendRequestHead(const RequestHead& head, const BodyFraming& framing, std::string* out) {
  AppendSafe(head.method, out);
  out->push_back(' ');
  AppendSafe(head.path, out);
  out->push_back(' ');
  out->append(VersionText(head.version));
  out->append("\r\n");
  if (!head.authority.empty() || head.version != Version::kHttp10) {
    AppendField("host", head.authority, out);
  }
  AppendFields(head.headers, /*skip_host=*/true, out);
  AppendFraming(framing, /*request=*/true, head.headers, out);
  out->append("\r\n");
}

std::string SerializeRequestHead(const RequestHead& head, const BodyFraming& framing) {
  std::string out;
  out.reserve(64 + head.path.size() + head.authority.size() + head.headers.ByteSize() +
              4 * head.headers.size());
  AppendRequestHead(head, framing, &out);
  return out;
}

void AppendResponseHead(const ResponseHead& head, const BodyFraming& framing, std::string* out) {
  out->append(VersionText(head.version));
  out->push_back(' ');
  int status = head.status;
  if (status < 100 || status > 999) status = 500;
  out->append(std::to_string(status));
  out->push_back(' ');
  AppendSafe(head.reason.empty() ? StatusText(head.status) : std::string_view(head.reason), out);
  out->append("\r\n");
  AppendFields(head.headers, /*skip_host=*/false, out);
  AppendFraming(framing, /*request=*/false, head.headers, out);
  out->append("\r\n");
}

std::string SerializeResponseHead(const ResponseHead& head, const BodyFraming& framing) {
  std::string out;
  out.reserve(64 + head.headers.ByteSize() + 4 * head.headers.size());
  AppendResponseHead(head, framing, &out);
  return out;
}

std::string ChunkHeader(uint64_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[20];
  size_t n = 0;
  do {
    buf[n++] = kHex[size & 0xf];
    size >>= 4;
  } while (size != 0);
  std::string out(buf, n);
  std::string reversed(out.rbegin(), out.rend());
  reversed.append("\r\n");
  return reversed;
}

std::string Chunk(std::string_view data) {
  if (data.empty()) return {};
  std::string out = ChunkHeader(data.size());
  out.append(data);
  out.append(kChunkEnd);
  return out;
}

std::string LastChunk(const HeaderMap& trailers) {
  std::string out = "0\r\n";
  for (const auto& f : trailers) {
    if (!IsToken(f.name) || IsFramingField(f.name) || EqualsIgnoreCase(f.name, "host")) continue;
    AppendField(f.name, f.value, &out);
  }
  out.append("\r\n");
  return out;
}

}  // namespace weft::http::http1
