#include "tools/testapp/server.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <strings.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tools/testapp/net.h"

namespace weft::testapp {

namespace {

std::atomic<int> g_connections{0};

// Greeting, then echo until the peer's EOF; then finish writing and close (half-close).
void ServeEcho(int fd, const std::string& name) {
  std::string greeting = name + " " + LocalOf(fd) + " " + PeerOf(fd) + "\n";
  if (WriteAll(fd, greeting.data(), greeting.size())) {
    char buf[16384];
    while (true) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        shutdown(fd, SHUT_WR);
        break;
      }
      if (n < 0 || !WriteAll(fd, buf, static_cast<size_t>(n))) break;
    }
  }
  close(fd);
}

bool HeaderIs(const std::string& headers, const char* name, const char* value) {
  // Case-insensitive "\r\nName: value" search, good enough for a test server.
  std::string needle = std::string("\r\n") + name + ":";
  for (size_t i = 0; i + needle.size() <= headers.size(); ++i) {
    if (strncasecmp(headers.c_str() + i, needle.c_str(), needle.size()) != 0) continue;
    size_t v = i + needle.size();
    while (v < headers.size() && headers[v] == ' ') ++v;
    return strncasecmp(headers.c_str() + v, value, std::strlen(value)) == 0;
  }
  return false;
}

size_t ContentLength(const std::string& headers) {
  std::string needle = "\r\ncontent-length:";
  for (size_t i = 0; i + needle.size() <= headers.size(); ++i) {
    if (strncasecmp(headers.c_str() + i, needle.c_str(), needle.size()) == 0) {
      return std::strtoul(headers.c_str() + i + needle.size(), nullptr, 10);
    }
  }
  return 0;
}

// HTTP/1.1 with keep-alive and pipelining: every request gets 200 and the name as the body.
void ServeHttp(int fd, const std::string& name) {
  std::string in;
  char buf[16384];
  const std::string body = name + "\n";
  while (true) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (in.size() > 65536) break;
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      continue;
    }
    std::string head = in.substr(0, end + 2);
    size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    size_t eol = head.find("\r\n");
    if (sp1 == std::string::npos || sp2 == std::string::npos || sp2 > eol) {
      const char bad[] =
          "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      WriteAll(fd, bad, sizeof bad - 1);
      break;
    }
    std::string method = head.substr(0, sp1);
    std::string version = head.substr(sp2 + 1, eol - sp2 - 1);
    std::string headers = head.substr(eol);
    if (HeaderIs(headers, "transfer-encoding", "chunked")) {
      const char no[] =
          "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      WriteAll(fd, no, sizeof no - 1);
      break;
    }
    size_t body_len = ContentLength(headers);
    // The request body is read and dropped.
    while (in.size() < end + 4 + body_len) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) goto done;
      in.append(buf, static_cast<size_t>(n));
    }
    in.erase(0, end + 4 + body_len);
    {
      bool close_after = version == "HTTP/1.0" ? !HeaderIs(headers, "connection", "keep-alive")
                                               : HeaderIs(headers, "connection", "close");
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nX-Weft-Name: " + name + "\r\n" +
                         (close_after ? "Connection: close\r\n" : "") + "\r\n";
      if (method != "HEAD") resp += body;
      if (!WriteAll(fd, resp.data(), resp.size()) || close_after) break;
    }
  }
done:
  shutdown(fd, SHUT_WR);
  close(fd);
}

int Listen(const std::string& ip, int port, std::string& bound) {
  Address a;
  if (auto err = BindAddress(ip, port, a); !err.empty()) {
    std::fprintf(stderr, "error: %s\n", err.c_str());
    return -1;
  }
  int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a.ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) != 0 || listen(fd, 1024) != 0) {
    std::fprintf(stderr, "error: listen on %s port %d: %s\n", ip.c_str(), port,
                 std::strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  bound = LocalOf(fd);
  return fd;
}

}  // namespace

int Serve(const ServeOptions& o) {
  signal(SIGPIPE, SIG_IGN);
  struct L {
    int fd;
    bool http;
  };
  std::vector<L> listeners;
  for (int pass = 0; pass < 2; ++pass) {
    for (int port : pass == 0 ? o.ports : o.http_ports) {
      std::string bound;
      int fd = Listen(o.bind, port, bound);
      if (fd < 0) return 1;
      listeners.push_back({fd, pass == 1});
      std::printf("listening %s %s as %s\n", pass == 1 ? "http" : "tcp", bound.c_str(),
                  o.name.c_str());
    }
  }
  std::fflush(stdout);
  std::vector<pollfd> pfds;
  for (const auto& l : listeners) pfds.push_back({l.fd, POLLIN, 0});
  while (true) {
    if (poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("poll");
      return 1;
    }
    for (size_t i = 0; i < pfds.size(); ++i) {
      if (!(pfds[i].revents & POLLIN)) continue;
      int c = accept4(pfds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (g_connections.load() >= o.max_connections) {
        close(c);
        continue;
      }
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ++g_connections;
      bool http = listeners[i].http;
      std::thread([c, http, name = o.name] {
        if (http) {
          ServeHttp(c, name);
        } else {
          ServeEcho(c, name);
        }
        --g_connections;
      }).detach();
    }
  }
}

}  // namespace weft::testapp
