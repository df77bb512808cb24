#include "agent/admin/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "agent/admin/metrics.h"

namespace weft::agent::admin {
namespace {

std::string Get(uint16_t port, const std::string& target, const std::string& method = "GET") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return "connect failed";
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

TEST(HttpServer, ServesHandlersWithQueryAndListsEndpointsOn404) {
  auto s = HttpServer::Create("127.0.0.1", 0);
  ASSERT_TRUE(s.ok()) << s.status();
  (*s)->Handle("/hello", [](const std::string& q) {
    return Response{200, "text/plain", "q=" + q};
  });
  (*s)->Handle("/ready", [](const std::string&) { return Response{503, "text/plain", "no\n"}; });
  (*s)->Start();
  uint16_t port = (*s)->port();
  std::string r = Get(port, "/hello?x=1");
  EXPECT_NE(r.find("HTTP/1.1 200"), std::string::npos) << r;
  EXPECT_NE(r.find("q=x=1"), std::string::npos) << r;
  EXPECT_NE(Get(port, "/ready").find("HTTP/1.1 503"), std::string::npos);
  std::string nf = Get(port, "/nope");
  EXPECT_NE(nf.find("HTTP/1.1 404"), std::string::npos);
  EXPECT_NE(nf.find("/hello\n"), std::string::npos) << nf;
  EXPECT_NE(Get(port, "/hello", "POST").find("HTTP/1.1 405"), std::string::npos);
}

TEST(HttpServer, BusyPortIsAnError) {
  auto a = HttpServer::Create("127.0.0.1", 0);
  ASSERT_TRUE(a.ok());
  (*a)->Start();
  auto b = HttpServer::Create("127.0.0.1", (*a)->port());
  // SO_REUSEADDR does not allow two listeners on one port.
  EXPECT_FALSE(b.ok());
}

TEST(Metrics, PrometheusTextFormat) {
  MetricsWriter w;
  w.Family("weft_bpf_verdicts_total", "counter", "Socket verdicts of the BPF programs.");
  w.Sample("weft_bpf_verdicts_total", {{"program", "connect4"}, {"verdict", "redirected"}}, 3);
  w.Sample("weft_up", 1);
  w.Sample("weft_ratio", {{"v", "a\"b"}}, 0.25);
  EXPECT_EQ(w.text(),
            "# HELP weft_bpf_verdicts_total Socket verdicts of the BPF programs.\n"
            "# TYPE weft_bpf_verdicts_total counter\n"
            "weft_bpf_verdicts_total{program=\"connect4\",verdict=\"redirected\"} 3\n"
            "weft_up 1\n"
            "weft_ratio{v=\"a\\\"b\"} 0.25\n");
}

}  // namespace
}  // namespace weft::agent::admin
