// weft-testapp on loopback (no root): the greeting, echo with half-close, HTTP, and the
// client's histogram, errors, timeouts and --hold-ms.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>

#include "tests/testing/command.h"

namespace {

using Result = weft::testing::CommandResult;

// Runs weft-testapp with `args`, capturing stdout and stderr (bounded by `timeout 30`).
Result App(const std::string& args) {
  return weft::testing::RunCommand(std::string("timeout 30 ") + TESTAPP_PATH + " " + args);
}

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

std::string ReadLine(int fd) {
  std::string s;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') s += c;
  return s;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// A `weft-testapp serve` on port 0 for each protocol, killed at the end of the test.
class Server {
 public:
  explicit Server(const std::string& name) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execl(TESTAPP_PATH, TESTAPP_PATH, "serve", "--bind", "127.0.0.1", "--port", "0",
            "--http-port", "0", "--name", name.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256];
    std::regex re(R"(listening (tcp|http) 127\.0\.0\.1:(\d+) as )");
    for (int i = 0; i < 2 && fgets(line, sizeof line, f); ++i) {
      std::cmatch m;
      if (std::regex_search(line, m, re)) (m[1] == "tcp" ? tcp_ : http_) = std::stoi(m[2]);
    }
    fclose(f);
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void Kill() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int tcp() const { return tcp_; }
  int http() const { return http_; }

 private:
  pid_t pid_ = -1;
  int tcp_ = 0, http_ = 0;
};

TEST(TestappTest, GreetingNamesServerLocalAndPeerAddresses) {
  Server s("alpha");
  ASSERT_GT(s.tcp(), 0);
  int fd = ConnectLoopback(s.tcp());
  ASSERT_GE(fd, 0);
  sockaddr_in me{};
  socklen_t len = sizeof me;
  getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len);
  EXPECT_EQ(ReadLine(fd), "alpha 127.0.0.1:" + std::to_string(s.tcp()) +
                              " 127.0.0.1:" + std::to_string(ntohs(me.sin_port)));
  close(fd);
}

TEST(TestappTest, EchoesUntilHalfCloseThenCloses) {
  Server s("e");
  int fd = ConnectLoopback(s.tcp());
  ASSERT_GE(fd, 0);
  ReadLine(fd);
  // 4 MiB: more than the socket buffers hold, so the server must keep reading while it
  // writes back, and still deliver everything after our FIN.
  std::string data(4 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] {
    EXPECT_TRUE(WriteAll(fd, data));
    shutdown(fd, SHUT_WR);
  });
  std::string echoed = ReadAll(fd);  // returns at the server's FIN
  writer.join();
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data);
  close(fd);
}

TEST(TestappTest, HttpAnswersWithTheNameKeepAliveAndPipelined) {
  Server s("web");
  ASSERT_GT(s.http(), 0);
  int fd = ConnectLoopback(s.http());
  ASSERT_GE(fd, 0);
  // Two pipelined requests (one with a body to skip), then HEAD, then close.
  ASSERT_TRUE(WriteAll(fd,
                       "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                       "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
                       "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  std::string all = ReadAll(fd);
  close(fd);
  std::string ok =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
      "X-Weft-Name: web\r\n";
  EXPECT_EQ(all, ok + "\r\nweb\n" + ok + "\r\nweb\n" + ok + "Connection: close\r\n\r\n");

  Result r = App("call 127.0.0.1:" + std::to_string(s.http()) + " --http -n 3");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "web 3\n");
}

TEST(TestappTest, CallPrintsAHistogram) {
  Server s("one");
  Result r = App("call 127.0.0.1:" + std::to_string(s.tcp()) + " -n 7");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "one 7\n");
  Result v = App("call 127.0.0.1:" + std::to_string(s.tcp()) + " -n 2 -v");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(
      std::regex_match(v.out, std::regex(R"((one 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+\n){2}one 2\n)")))
      << v.out;
}

TEST(TestappTest, CallCountsErrors) {
  // A port nobody listens on: bind without listen keeps it ours and refusing.
  int held = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(held, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(held, reinterpret_cast<sockaddr*>(&a), &len);
  Result r = App("call 127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + " -n 3");
  close(held);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: connect: Connection refused (3 of 3)\n");

  Result bad = App("call nonsense -n 1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("is not HOST:PORT"), std::string::npos) << bad.err;
}

TEST(TestappTest, CallTimesOutOnASilentServer) {
  // Listening but never accepting: the connect completes, no greeting ever comes.
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(l, 8), 0);
  socklen_t len = sizeof a;
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  auto t0 = std::chrono::steady_clock::now();
  Result r = App("call 127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + " -n 2 --timeout-ms 200");
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  close(l);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: timed out waiting for data (2 of 2)\n");
  EXPECT_GE(ms, 400);
  EXPECT_LT(ms, 5000);
}

TEST(TestappTest, HoldKeepsOneConnectionUsable) {
  Server s("held");
  Result r = App("call 127.0.0.1:" + std::to_string(s.tcp()) + " --hold-ms 400 --interval-ms 50");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      std::regex_match(r.out, std::regex(R"(held 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+\nheld 1\n)")))
      << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(held \d+ ms: (\d+) round trips)")))
      << r.err;
  EXPECT_GE(std::stoi(m[1]), 5);
}

TEST(TestappTest, HoldFailsWhenTheConnectionBreaks) {
  auto s = std::make_unique<Server>("gone");
  int port = s->tcp();
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    s->Kill();
  });
  Result r = App("call 127.0.0.1:" + std::to_string(port) + " --hold-ms 3000 --timeout-ms 500");
  killer.join();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: round trip"), std::string::npos) << r.err;
}

TEST(TestappTest, ServeNeedsAPort) {
  Result r = App("serve --name x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("serve needs --port or --http-port"), std::string::npos) << r.err;
}

}  // namespace
