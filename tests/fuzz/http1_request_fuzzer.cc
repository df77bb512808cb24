// libFuzzer target for weft::http::http1::RequestParser.
//
// Build (clang with its runtimes, Debian's libclang-rt-14-dev; the default g++ build skips
// tests/fuzz) and run:
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DWEFT_FUZZ=ON
//   cmake --build build-fuzz --target http1_request_fuzzer
//   mkdir -p /tmp/http1-corpus
//   build-fuzz/bin/http1_request_fuzzer -max_total_time=60 -max_len=4096 /tmp/http1-corpus
// (any directory works as the working corpus; seeding it with requests helps.) A crash,
// sanitizer report or __builtin_trap below is a finding; the input is written to crash-*.
//
// Beyond memory safety it checks properties on every input:
//   - the parser never consumes more than it is given, and makes progress;
//   - feeding the same bytes whole, or split at points taken from the input, with pauses
//     after some events, gives the same events and result (incremental parsing is exact);
//   - a request it accepts, serialized again (SerializeRequestHead + its body, chunked or
//     with a length), parses to the same head and body: nothing it lets through is
//     ambiguous to itself.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/http1/parser.h"
#include "core/http/http1/serializer.h"

namespace {

using weft::http::HeaderMap;
using weft::http::RequestHead;
using namespace weft::http::http1;

struct Msg {
  RequestHead head;
  MessageInfo info;
  std::string body;
  HeaderMap trailers;
  bool complete = false;
};

struct Run {
  std::vector<Msg> msgs;
  ParseStatus status = ParseStatus::kOk;
  int error_status = 0;
};

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string Key(const Run& r) {
  std::string k;
  for (const Msg& m : r.msgs) {
    k += m.head.method + ' ' + m.head.path + ' ' + m.head.authority + ' ' +
         std::string(weft::http::VersionName(m.head.version)) + '\n';
    for (const auto& f : m.head.headers) k += f.name + ':' + f.value + '\n';
    k += std::to_string(static_cast<int>(m.info.framing.kind)) + ' ' +
         std::to_string(m.info.framing.length) + (m.info.keep_alive ? " ka" : "") +
         (m.info.upgrade ? " up" : "") + (m.info.connect ? " co" : "") + '\n';
    k += m.body + '\n';
    for (const auto& f : m.trailers) k += f.name + ':' + f.value + '\n';
    k += m.complete ? "complete\n" : "partial\n";
  }
  k += std::to_string(static_cast<int>(r.status)) + ' ' + std::to_string(r.error_status);
  return k;
}

// Feeds `data` in pieces of the given sizes (cycled), pausing after every `pause_every`-th
// event when non-zero.
Run Feed(std::string_view data, const std::vector<size_t>& sizes, unsigned pause_every) {
  Run run;
  RequestParser* parser_ptr = nullptr;
  unsigned events = 0;
  auto event = [&] {
    if (pause_every != 0 && ++events % pause_every == 0) parser_ptr->Pause();
  };
  RequestParser parser({
      .on_head =
          [&](RequestHead&& h, const MessageInfo& i) {
            run.msgs.push_back({std::move(h), i, "", {}, false});
            event();
          },
      .on_body =
          [&](std::string_view d) {
            Check(!run.msgs.empty() && !d.empty());
            run.msgs.back().body.append(d);
            event();
          },
      .on_trailers = [&](HeaderMap&& t) { run.msgs.back().trailers = std::move(t); },
      .on_complete =
          [&] {
            run.msgs.back().complete = true;
            event();
          },
  });
  parser_ptr = &parser;
  std::string pending;
  size_t pos = 0, piece = 0;
  while (pos < data.size()) {
    size_t n = sizes.empty() ? data.size() : sizes[piece++ % sizes.size()];
    n = std::min(std::max<size_t>(n, 1), data.size() - pos);
    pending.append(data.substr(pos, n));
    pos += n;
    for (int guard = 0;; ++guard) {
      Check(guard < 1000000);
      ParseResult r = parser.Feed(pending);
      Check(r.consumed <= pending.size());
      pending.erase(0, r.consumed);
      run.status = r.status;
      run.error_status = r.error_status;
      if (r.status == ParseStatus::kPaused) {
        parser.Resume();
        continue;
      }
      if (r.status == ParseStatus::kOk) Check(pending.empty());
      break;
    }
    if (run.status != ParseStatus::kOk) return run;
  }
  // Anything owed after the last pause.
  ParseResult r = parser.Feed("");
  if (r.status != ParseStatus::kOk || run.status == ParseStatus::kOk) {
    run.status = r.status;
    run.error_status = r.error_status;
  }
  return run;
}

void CheckReserialized(const Msg& m) {
  if (!m.complete || m.info.upgrade || m.info.connect) return;
  // Chunked only where the original was (HTTP/1.1; it may carry trailers), else a length.
  BodyFraming framing = m.info.framing.kind == BodyFraming::Kind::kChunked ? BodyFraming::Chunked()
                        : m.info.framing.kind == BodyFraming::Kind::kNone
                            ? BodyFraming::None()
                            : BodyFraming::ContentLength(m.body.size());
  std::string bytes = SerializeRequestHead(m.head, framing);
  if (framing.kind == BodyFraming::Kind::kChunked) {
    bytes += Chunk(m.body) + LastChunk(m.trailers);
  } else {
    bytes += m.body;
  }
  Run again = Feed(bytes, {}, 0);
  Check(again.msgs.size() == 1 && again.msgs[0].complete);
  const Msg& b = again.msgs[0];
  Check(b.head.method == m.head.method && b.head.path == m.head.path &&
        b.head.authority == m.head.authority && b.head.version == m.head.version);
  Check(b.body == m.body);
  // Same fields except the framing ones, which the serializer writes itself.
  std::vector<std::string> fa, fb;
  for (const auto& f : m.head.headers) {
    if (f.name != "content-length" && f.name != "transfer-encoding")
      fa.push_back(f.name + ':' + f.value);
  }
  for (const auto& f : b.head.headers) {
    if (f.name != "content-length" && f.name != "transfer-encoding")
      fb.push_back(f.name + ':' + f.value);
  }
  Check(fa == fb);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first two bytes choose the split sizes and the pause rhythm; the rest is the stream.
  const unsigned split_seed = data[0];
  const unsigned pause_every = data[1] % 4;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  Run whole = Feed(stream, {}, 0);
  std::vector<size_t> sizes = {1 + split_seed % 7, 1 + split_seed / 7 % 13, 1, 1 + split_seed % 3};
  Run split = Feed(stream, sizes, pause_every);
  Check(Key(whole) == Key(split));
  Run bytes = Feed(stream, {1}, 0);
  Check(Key(whole) == Key(bytes));

  for (const Msg& m : whole.msgs) CheckReserialized(m);
  return 0;
}
