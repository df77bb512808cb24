// weft-testapp: the workload of the netns cluster's tests and demos.
//   serve: per connection a greeting "NAME <local ip:port> <peer ip:port>\n", then echo until
//          EOF (half-close aware); --http-port answers every HTTP/1.1 request with NAME.
//   call:  N sequential connections, a histogram of the names that answered; --hold-ms keeps
//          one connection open and checks it stays usable.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "tools/testapp/client.h"
#include "tools/testapp/server.h"

int main(int argc, char** argv) {
  CLI::App app{"weft-testapp: a TCP greeting/echo and HTTP server, and its client", "weft-testapp"};
  app.require_subcommand(1);

  weft::testapp::ServeOptions serve;
  auto* s = app.add_subcommand("serve", "Serve greeting+echo (--port) and HTTP (--http-port)");
  s->add_option("--port,-p", serve.ports, "Greeting+echo port (repeatable; 0 = any)");
  s->add_option("--http-port", serve.http_ports, "HTTP/1.1 port (repeatable; 0 = any)");
  bool http = false;
  s->add_flag("--http", http, "Serve HTTP on the --port ports instead of greeting+echo");
  s->add_option("--name", serve.name,
                "Name to answer with (default: $WEFT_POD_NAME, else the host name)");
  s->add_option("--bind", serve.bind, "Address to listen on (0.0.0.0, ::, or one address)")
      ->capture_default_str();

  weft::testapp::CallOptions call;
  auto* c = app.add_subcommand("call", "Connect N times and print which names answered");
  c->add_option("target", call.target, "HOST:PORT or [V6]:PORT")->required();
  c->add_option("-n,--count", call.count, "Sequential connections")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  c->add_option("--timeout-ms", call.timeout_ms, "Per connection (and per round trip)")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  c->add_option("--hold-ms", call.hold_ms,
                "Keep one connection open this long, with an echo round trip every "
                "--interval-ms; fails if any round trip does")
      ->check(CLI::Range(0, 86400000));
  c->add_option("--interval-ms", call.interval_ms, "Between round trips with --hold-ms")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  c->add_flag("--http", call.http, "GET / over HTTP/1.1 and take the name from the body");
  c->add_flag("-v,--verbose", call.verbose, "Print each greeting as received");

  CLI11_PARSE(app, argc, argv);

  if (s->parsed()) {
    if (http) {
      serve.http_ports.insert(serve.http_ports.end(), serve.ports.begin(), serve.ports.end());
      serve.ports.clear();
    }
    if (serve.ports.empty() && serve.http_ports.empty()) {
      std::fprintf(stderr, "error: serve needs --port or --http-port\n");
      return 2;
    }
    if (serve.name.empty()) {
      const char* pod = std::getenv("WEFT_POD_NAME");
      char host[256] = "testapp";
      if (pod && *pod) {
        serve.name = pod;
      } else {
        gethostname(host, sizeof host - 1);
        serve.name = host;
      }
    }
    if (serve.name.find_first_of(" \r\n") != std::string::npos) {
      std::fprintf(stderr, "error: --name must not contain spaces or line breaks\n");
      return 2;
    }
    return weft::testapp::Serve(serve);
  }
  if (call.http && call.hold_ms > 0) {
    std::fprintf(stderr, "error: --hold-ms works on the greeting+echo protocol, not --http\n");
    return 2;
  }
  return weft::testapp::Call(call);
}
