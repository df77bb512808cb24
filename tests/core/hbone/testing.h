#pragma once

// Fixtures for the HBONE tests: a CA with real workload certificates (through the CSR path),
// TLS contexts built the way the proxy will build them, small loopback applications, and a
// loop runner. Everything on one io_context in the test thread, 127.0.0.1 only.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/h2/tls_transport.h"
#include "core/hbone/byte_stream.h"
#include "core/identity/tls.h"
#include "tests/core/identity/testing.h"

namespace weft::hbone::testing {

using namespace std::chrono_literals;
using identity::testing::Must;

// SSL_CTX with ConfigureMutualTls(bundle) and, when given, SetIdentity(svid), as an asio
// context.
std::shared_ptr<asio::ssl::context> MakeTls(std::shared_ptr<const identity::TrustBundle> bundle,
                                            const identity::testing::Svid* svid);

// Runs `io` until `done()` or `timeout`; false on timeout.
bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout = 20s);
// Runs `io` for `d`.
void RunFor(asio::io_context& io, std::chrono::milliseconds d);

// A TCP application on 127.0.0.1.
class App {
 public:
  enum Mode {
    kEcho,        // echoes; FIN after the peer's FIN
    kReplyAtEof,  // reads to EOF, then writes "got:<bytes>" and closes
    kGreeter,     // writes "hello", FIN, then reads to EOF into received()
    kSink,        // reads nothing until StartReading(), then counts to EOF
  };
  App(asio::io_context& io, Mode mode);
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void StartReading();
  uint64_t bytes() const { return bytes_; }
  const std::string& received() const { return received_; }
  int eofs() const { return eofs_; }
  int ends() const { return ends_; }  // reads that ended (EOF or error)
  int accepted() const { return accepted_; }

 private:
  struct Conn;
  void Accept();
  void Read(std::shared_ptr<Conn> c);
  asio::io_context& io_;
  Mode mode_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Conn>> sinks_;
  bool reading_ = false;
  uint64_t bytes_ = 0;
  std::string received_;
  int eofs_ = 0;
  int ends_ = 0;
  int accepted_ = 0;
};

// Reads `s` to EOF (or error) into `out`; sets *done, *error.
void ReadAll(std::shared_ptr<ByteStream> s, std::string* out, bool* done,
             error_code* error = nullptr);
// Writes `data` then (optionally) ShutdownSend; sets *done.
void WriteAll(std::shared_ptr<ByteStream> s, std::shared_ptr<std::string> data, bool shutdown,
              bool* done, error_code* error = nullptr);

// Connects to 127.0.0.1:port and calls back with a TcpByteStream (or nullptr).
void ConnectTcp(asio::io_context& io, uint16_t port,
                std::function<void(std::shared_ptr<ByteStream>)> done);

}  // namespace weft::hbone::testing
