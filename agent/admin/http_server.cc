#include "agent/admin/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/status/status.h"

namespace weft::agent::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class HttpServer::Impl {
 public:
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::map<std::string, Handler> handlers;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) Serve(std::make_shared<tcp::socket>(std::move(s)));
      Accept();
    });
  }

  void Serve(std::shared_ptr<tcp::socket> s) {
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto req = std::make_shared<http::request<http::string_body>>();
    http::async_read(*s, *buffer, *req, [this, s, buffer, req](beast::error_code ec, size_t) {
      if (ec) return;
      auto res = std::make_shared<http::response<http::string_body>>();
      res->version(req->version());
      res->keep_alive(req->keep_alive());
      std::string target(req->target());
      std::string path = target.substr(0, target.find('?'));
      std::string query =
          target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
      Response r;
      if (req->method() != http::verb::get) {
        r = {405, "text/plain", "only GET\n"};
      } else if (auto it = handlers.find(path); it != handlers.end()) {
        r = it->second(query);
      } else {
        std::string list;
        for (const auto& [p, h] : handlers) list += p + "\n";
        r = {404, "text/plain", "not found; endpoints:\n" + list};
      }
      res->result(static_cast<http::status>(r.status));
      res->set(http::field::content_type, r.content_type);
      res->body() = std::move(r.body);
      res->prepare_payload();
      http::async_write(*s, *res, [this, s, buffer, res](beast::error_code wec, size_t) {
        if (!wec && res->keep_alive()) {
          Serve(s);
        } else {
          beast::error_code ignored;
          s->shutdown(tcp::socket::shutdown_send, ignored);
        }
      });
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const std::string& address,
                                                               uint16_t port) {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return absl::InvalidArgumentError("bad listen address " + address);
  tcp::endpoint ep(addr, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(128, ec);
  if (ec) {
    return absl::UnavailableError("listen on " + address + ":" + std::to_string(port) + ": " +
                                  ec.message());
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Handle(const std::string& path, Handler handler) {
  impl_->handlers[path] = std::move(handler);
}

void HttpServer::Start() {
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

}  // namespace weft::agent::admin
