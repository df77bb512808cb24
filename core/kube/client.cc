#include "core/kube/client.h"

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <limits>
#include <sstream>

namespace weft::kube {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

nlohmann::json Response::Json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string Response::Message() const {
  nlohmann::json j = Json();
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    return j["message"].get<std::string>();
  }
  return body.substr(0, 200);
}

std::string QueryEscape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The io_context of the call in progress, so that Cancel() from another thread can stop it.
struct Canceller::Active {
  asio::io_context* ioc;
};

void Canceller::Cancel() {
  std::lock_guard<std::mutex> l(mu_);
  cancelled_ = true;
  if (active_) active_->ioc->stop();
}

bool Canceller::cancelled() const {
  std::lock_guard<std::mutex> l(mu_);
  return cancelled_;
}

bool Canceller::Attach(std::shared_ptr<Active> a) {
  std::lock_guard<std::mutex> l(mu_);
  if (cancelled_) return false;
  active_ = std::move(a);
  return true;
}

void Canceller::Detach() {
  std::lock_guard<std::mutex> l(mu_);
  active_.reset();
}

struct Client::Impl {
  asio::ssl::context ssl{asio::ssl::context::tls_client};
};

namespace {

// One connection to the API server, driven by its own io_context on the calling thread.
struct Conn {
  explicit Conn(asio::ssl::context& ctx, const Canceller* cancel = nullptr)
      : cancel(cancel), stream(ioc, ctx) {}
  const Canceller* cancel;
  asio::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Starts an async operation and runs the io_context until it completes, the deadline
  // passes (the tcp_stream's timeout fails the operation), or the io_context is stopped.
  template <class Start>
  error_code Run(std::chrono::milliseconds timeout, Start&& start) {
    error_code result = asio::error::operation_aborted;
    bool done = false;
    beast::get_lowest_layer(stream).expires_after(timeout);
    start([&](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc.restart();
    // Cancel() stops the io_context: checked after restart(), which would forget the stop.
    if (cancel && cancel->cancelled()) return asio::error::operation_aborted;
    ioc.run();
    if (!done) {
      // Stopped (cancelled): the operation is abandoned with the connection.
      return asio::error::operation_aborted;
    }
    return result;
  }
};

absl::Status TransportError(std::string_view what, const Config& c, const error_code& ec) {
  return absl::UnavailableError(std::string(what) + " " + c.server() + ": " + ec.message());
}

bool IsIpLiteral(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

Client::Client(Config config) : config_(std::move(config)), impl_(std::make_unique<Impl>()) {}
Client::~Client() = default;

absl::StatusOr<std::shared_ptr<Client>> Client::Create(Config config) {
  std::shared_ptr<Client> c(new Client(std::move(config)));
  asio::ssl::context& ctx = c->impl_->ssl;
  error_code ec;
  ctx.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                  asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  if (c->config_.insecure_skip_verify) {
    ctx.set_verify_mode(asio::ssl::verify_none);
  } else {
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (c->config_.ca_pem.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.add_certificate_authority(asio::buffer(c->config_.ca_pem), ec);
    }
    if (ec) return absl::InvalidArgumentError("the API server's CA: " + ec.message());
  }
  if (!c->config_.client_cert_pem.empty()) {
    ctx.use_certificate_chain(asio::buffer(c->config_.client_cert_pem), ec);
    if (!ec)
      ctx.use_private_key(asio::buffer(c->config_.client_key_pem), asio::ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError("the client certificate or key: " + ec.message());
  }
  return c;
}

std::string Client::Token() {
  std::lock_guard<std::mutex> l(token_mu_);
  if (config_.token_file.empty()) return config_.token;
  struct stat st {};
  if (stat(config_.token_file.c_str(), &st) != 0) return token_;  // keep the last one
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime != token_mtime_) {
    std::ifstream in(config_.token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (!t.empty()) {
      token_ = std::move(t);
      token_mtime_ = mtime;
    }
  }
  return token_;
}

namespace {

// Connects, handshakes and writes the request; the response is read by the caller.
absl::Status Open(Conn& c, const Config& cfg, const std::string& token, std::string_view method,
                  std::string_view path, std::string_view body, std::string_view content_type,
                  std::chrono::milliseconds timeout) {
  tcp::resolver resolver(c.ioc);
  tcp::resolver::results_type endpoints;
  error_code ec = c.Run(timeout, [&](auto handler) {
    resolver.async_resolve(cfg.host, std::to_string(cfg.port),
                           [&, handler](error_code e, tcp::resolver::results_type r) mutable {
                             endpoints = std::move(r);
                             handler(e);
                           });
  });
  if (ec) return TransportError("resolve", cfg, ec);
  ec = c.Run(timeout, [&](auto handler) {
    beast::get_lowest_layer(c.stream).async_connect(endpoints, handler);
  });
  if (ec) return TransportError("connect to", cfg, ec);
  if (!IsIpLiteral(cfg.host)) SSL_set_tlsext_host_name(c.stream.native_handle(), cfg.host.c_str());
  if (!cfg.insecure_skip_verify) {
    c.stream.set_verify_callback(asio::ssl::host_name_verification(cfg.host));
  }
  ec = c.Run(timeout, [&](auto handler) {
    c.stream.async_handshake(asio::ssl::stream_base::client, handler);
  });
  if (ec) return TransportError("TLS handshake with", cfg, ec);

  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(path.data(), path.size()));
  req.version(11);
  req.set(http::field::host, cfg.host);
  req.set(http::field::user_agent, "weft/0.1");
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.set(http::field::content_type,
            beast::string_view(content_type.data(), content_type.size()));
    req.body() = std::string(body);
    req.prepare_payload();
  }
  ec = c.Run(timeout, [&](auto handler) { http::async_write(c.stream, req, handler); });
  if (ec) return TransportError("write to", cfg, ec);
  return absl::OkStatus();
}

// Reads the response head, then the body piece by piece into `sink` (chunked or not).
absl::Status ReadResponse(Conn& c, const Config& cfg, std::chrono::milliseconds timeout,
                          int* status, const std::function<bool(std::string_view)>& sink,
                          const std::function<void(int)>& on_head = nullptr) {
  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Beast 1.74 compares a Content-Length with the optional, and any value
  // exceeds none. Watches are chunked and unbounded in total, lists bounded by pagination.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  error_code ec = c.Run(
      timeout, [&](auto handler) { http::async_read_header(c.stream, c.buffer, parser, handler); });
  if (ec) return TransportError("read from", cfg, ec);
  *status = parser.get().result_int();
  if (on_head) on_head(*status);
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    ec = c.Run(timeout,
               [&](auto handler) { http::async_read_some(c.stream, c.buffer, parser, handler); });
    if (ec == http::error::need_buffer) ec = {};
    size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0 && !sink(std::string_view(chunk, n))) return absl::OkStatus();
    if (ec == http::error::end_of_stream || ec == asio::ssl::error::stream_truncated) break;
    if (ec) return TransportError("read from", cfg, ec);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Response> Client::Request(std::string_view method, std::string_view path,
                                         std::string_view body, std::string_view content_type,
                                         std::chrono::milliseconds timeout) {
  Conn c(impl_->ssl);
  if (auto st = Open(c, config_, Token(), method, path, body, content_type, timeout); !st.ok()) {
    return st;
  }
  Response r;
  auto st = ReadResponse(c, config_, timeout, &r.status, [&](std::string_view piece) {
    r.body.append(piece);
    return true;
  });
  if (!st.ok()) return st;
  return r;
}

absl::Status Client::ErrorOf(std::string_view method, std::string_view path, const Response& r) {
  std::string msg = std::string(method) + " " + std::string(path) + ": " +
                    std::to_string(r.status) + " " + r.Message();
  switch (r.status) {
    case 400:
    case 422:
      return absl::InvalidArgumentError(msg);
    case 401:
      return absl::UnauthenticatedError(msg);
    case 403:
      return absl::PermissionDeniedError(msg);
    case 404:
      return absl::NotFoundError(msg);
    case 409:
      return absl::AbortedError(msg);
    case 410:
      return absl::FailedPreconditionError(msg);
    case 429:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::UnavailableError(msg);
  }
}

namespace {
absl::StatusOr<nlohmann::json> JsonOf(const Response& r) {
  nlohmann::json j = r.Json();
  if (j.is_discarded()) return absl::DataLossError("the API server's reply is not JSON");
  return j;
}
}  // namespace

absl::StatusOr<nlohmann::json> Client::Get(std::string_view path) {
  auto r = Request("GET", path);
  if (!r.ok()) return r.status();
  if (!r->ok()) return ErrorOf("GET", path, *r);
  return JsonOf(*r);
}

absl::StatusOr<nlohmann::json> Client::Post(std::string_view path, const nlohmann::json& body) {
  auto r = Request("POST", path, body.dump());
  if (!r.ok()) return r.status();
  if (!r->ok()) return ErrorOf("POST", path, *r);
  return JsonOf(*r);
}

absl::StatusOr<nlohmann::json> Client::Put(std::string_view path, const nlohmann::json& body) {
  auto r = Request("PUT", path, body.dump());
  if (!r.ok()) return r.status();
  if (!r->ok()) return ErrorOf("PUT", path, *r);
  return JsonOf(*r);
}

absl::StatusOr<nlohmann::json> Client::Patch(std::string_view path, const nlohmann::json& body) {
  auto r = Request("PATCH", path, body.dump(), "application/merge-patch+json");
  if (!r.ok()) return r.status();
  if (!r->ok()) return ErrorOf("PATCH", path, *r);
  return JsonOf(*r);
}

absl::Status Client::Delete(std::string_view path) {
  auto r = Request("DELETE", path);
  if (!r.ok()) return r.status();
  if (!r->ok()) return ErrorOf("DELETE", path, *r);
  return absl::OkStatus();
}

absl::Status Client::Stream(std::string_view path,
                            const std::function<bool(std::string_view)>& on_line, int* status,
                            std::string* error_body, Canceller* cancel,
                            std::chrono::milliseconds idle_timeout,
                            const std::function<void(int)>& on_head) {
  Conn c(impl_->ssl, cancel);
  auto active = std::make_shared<Canceller::Active>(Canceller::Active{&c.ioc});
  if (cancel && !cancel->Attach(active)) return absl::CancelledError("cancelled");
  struct DetachOnExit {
    Canceller* c;
    ~DetachOnExit() {
      if (c) c->Detach();
    }
  } detach{cancel};
  auto cancelled = [&] { return cancel && cancel->cancelled(); };
  absl::Status st = Open(c, config_, Token(), "GET", path, {}, {}, std::chrono::seconds(30));
  if (cancelled()) return absl::CancelledError("cancelled");
  if (!st.ok()) return st;
  std::string pending;
  bool stopped = false;
  auto sink = [&](std::string_view piece) {
    if (*status < 200 || *status >= 300) {
      if (error_body && error_body->size() < (1 << 20)) error_body->append(piece);
      return true;
    }
    pending.append(piece);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (nl > start && !on_line(std::string_view(pending).substr(start, nl - start))) {
        stopped = true;
        return false;
      }
    }
    pending.erase(0, start);
    return true;
  };
  st = ReadResponse(c, config_, idle_timeout, status, sink, on_head);
  if (cancelled()) return absl::CancelledError("cancelled");
  if (!st.ok()) return st;
  if (!stopped && !pending.empty() && *status >= 200 && *status < 300) on_line(pending);
  return absl::OkStatus();
}

}  // namespace weft::kube
