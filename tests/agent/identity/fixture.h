#pragma once

// A CaServer on 127.0.0.1 running on its own thread, and node credentials written to files.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "agent/identity/ca_client.h"
#include "agent/identity/ca_server.h"
#include "tests/core/identity/testing.h"

namespace weft::agent::testing {

using namespace std::chrono_literals;
using identity::testing::Must;

inline identity::CertificateAuthority MakeShortCa(std::string_view td = "cluster.local") {
  identity::CaSettings settings;
  settings.backdate = 0s;  // short lifetimes in tests: half life is issue + ttl/2
  return Must(
      identity::CertificateAuthority::CreateRoot(td, 24h * 30, identity::Clock::now(), settings));
}

// Pods the CA knows about: (node, ns, sa). Thread-safe.
class Placement {
 public:
  void Add(std::string node, std::string ns, std::string sa) {
    std::lock_guard<std::mutex> l(mu_);
    pods_.insert({node, ns, sa});
  }
  identity::HasPodOnNode Fn() {
    return [this](std::string_view node, std::string_view ns, std::string_view sa) {
      std::lock_guard<std::mutex> l(mu_);
      return pods_.count({std::string(node), std::string(ns), std::string(sa)}) > 0;
    };
  }

 private:
  std::mutex mu_;
  std::set<std::tuple<std::string, std::string, std::string>> pods_;
};

class RunningCa {
 public:
  RunningCa(const identity::CertificateAuthority& ca, identity::HasPodOnNode has_pod,
            uint16_t port = 0, CaServerOptions o = {}) {
    o.address = "127.0.0.1";
    o.port = port;
    auto copy = Must(identity::CertificateAuthority::FromPem(ca.root().ToPem(), ca.RootKeyPem(), "",
                                                             ca.settings()));
    server_ = Must(CaServer::Start(io_, std::move(copy), std::move(has_pod), o));
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    io_thread_ = thread_.get_id();
  }
  std::thread::id io_thread() const { return io_thread_; }
  ~RunningCa() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      server_->Stop();
      done.set_value();
    });
    done.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_->port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  CaServerStats stats() const { return server_->Stats(); }
  std::string metrics() const { return server_->MetricsText(); }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::shared_ptr<CaServer> server_;
  std::thread thread_;
  std::thread::id io_thread_;
};

inline CaCredentials NodeCreds(const identity::CertificateAuthority& issuer,
                               const identity::CertificateAuthority& trusted,
                               std::string_view node) {
  auto svid = identity::testing::IssueNode(issuer, node, 24h);
  auto bundle = Must(identity::TrustBundle::Create(trusted.trust_domain(), {trusted.root()}));
  return CaCredentials{svid.cert, std::make_shared<identity::KeyPair>(std::move(svid.key)),
                       std::make_shared<identity::TrustBundle>(std::move(bundle))};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weft-identity-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& content) {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

}  // namespace weft::agent::testing
