// ByteStreamTransport: an HTTP/2 session over a ByteStream (h2c inside a tunnel, as the
// waypoint runs it), with bytes read ahead of the session (protocol detection) replayed first.

#include "core/hbone/stream_transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "core/h2/session.h"

namespace weft::hbone {
namespace {

using namespace std::chrono_literals;

bool RunUntil(asio::io_context& io, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_for(10ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

TEST(ByteStreamTransportTest, H2SessionOverAByteStreamWithReadAheadBytes) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket c(io);
  c.connect(acceptor.local_endpoint());
  auto server_side = std::make_shared<TcpByteStream>(acceptor.accept());

  std::vector<std::shared_ptr<h2::Stream>> requests;
  std::shared_ptr<h2::Session> server;
  std::shared_ptr<h2::Session> client = h2::Session::Create(
      h2::Session::kClient,
      std::make_unique<ByteStreamTransport>(std::make_shared<TcpByteStream>(std::move(c))), {}, {});
  client->Start();

  // The server side reads the first bytes itself (as protocol detection does), then hands
  // them to the session with the stream.
  std::vector<char> first(10);
  size_t got = 0;
  bool read_done = false;
  server_side->AsyncReadSome(asio::buffer(first), [&](error_code e, size_t n) {
    ASSERT_FALSE(e);
    got = n;
    read_done = true;
  });
  ASSERT_TRUE(RunUntil(io, [&] { return read_done; }));
  ASSERT_GT(got, 0u);
  EXPECT_EQ(std::string(first.data(), std::min<size_t>(got, 3)),
            std::string("PRI").substr(0, std::min<size_t>(got, 3)));
  h2::Session::Callbacks cbs;
  cbs.on_request = [&](std::shared_ptr<h2::Stream> st) { requests.push_back(st); };
  server = h2::Session::Create(
      h2::Session::kServer,
      std::make_unique<ByteStreamTransport>(server_side, std::string(first.data(), got)), {},
      std::move(cbs));
  server->Start();

  std::shared_ptr<h2::Stream> response;
  client->SubmitRequest(
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/hello"}, {":authority", "svc"}}, true,
      [&](error_code e, std::shared_ptr<h2::Stream> st) {
        ASSERT_FALSE(e);
        response = st;
      });
  ASSERT_TRUE(RunUntil(io, [&] { return requests.size() == 1; }));
  EXPECT_EQ(requests[0]->header(":path"), "/hello");
  requests[0]->Respond(204, {}, true);
  ASSERT_TRUE(RunUntil(io, [&] { return response != nullptr; }));
  EXPECT_EQ(response->status(), 204);
  client->Close();
  server->Close();
}

}  // namespace
}  // namespace weft::hbone
