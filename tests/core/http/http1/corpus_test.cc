// Runs every case of corpus/requests.txt (the format is described at the top of that file)
// through RequestParser, fed whole, byte by byte, in random splits, and with the caller
// pausing after every event (resuming at once). Every way of feeding must give the same
// transcript (events, result, unconsumed bytes), and the transcript must match the case.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/http/http1/parser.h"

namespace weft::http::http1 {
namespace {

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '0':
        out.push_back('\0');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
        break;
      }
      default:
        ADD_FAILURE() << "bad escape \\" << c << " in " << s;
    }
  }
  return out;
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

struct ExpectedMessage {
  std::map<std::string, std::string> keys;  // key -> value, as written
  std::vector<std::string> headers;         // "name: value"
  bool check_headers = false;
  std::vector<std::string> trailers;
};

struct Case {
  std::string name;
  int line = 0;
  std::string raw;
  bool eof = false;
  std::string result = "ok";
  std::optional<std::string> rest;
  Limits limits;
  std::vector<ExpectedMessage> messages;
};

std::vector<Case> LoadCorpus(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<Case> cases;
  Case cur;
  bool open = false;
  int lineno = 0;
  std::string line;
  auto flush = [&] {
    if (open) cases.push_back(std::move(cur));
    cur = Case{};
    open = false;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) {
      flush();
      continue;
    }
    if (line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      ADD_FAILURE() << path << ":" << lineno << ": no key";
      continue;
    }
    std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (!open) {
      open = true;
      cur.line = lineno;
    }
    if (key == "name") {
      cur.name = value;
    } else if (key == "raw") {
      cur.raw += Unescape(value);
    } else if (key == "eof") {
      cur.eof = value == "yes";
    } else if (key == "result") {
      cur.result = value;
    } else if (key == "rest") {
      cur.rest = Unescape(value);
    } else if (key == "limits") {
      std::stringstream ss(value);
      std::string item;
      while (std::getline(ss, item, ',')) {
        size_t eq = item.find('=');
        std::string k = item.substr(0, eq);
        uint64_t v = std::stoull(item.substr(eq + 1));
        if (k == "max_head_bytes")
          cur.limits.max_head_bytes = v;
        else if (k == "max_headers")
          cur.limits.max_headers = v;
        else if (k == "max_request_line_bytes")
          cur.limits.max_request_line_bytes = v;
        else if (k == "max_body_bytes")
          cur.limits.max_body_bytes = v;
        else if (k == "max_chunk_extension_bytes")
          cur.limits.max_chunk_extension_bytes = v;
        else
          ADD_FAILURE() << path << ":" << lineno << ": unknown limit " << k;
      }
    } else if (key == "message") {
      cur.messages.emplace_back();
      cur.messages.back().keys["message"] = value;
    } else {
      if (cur.messages.empty()) {
        ADD_FAILURE() << path << ":" << lineno << ": '" << key << "' before any message:";
        continue;
      }
      ExpectedMessage& m = cur.messages.back();
      if (key == "header") {
        m.headers.push_back(Unescape(value));
        m.check_headers = true;
      } else if (key == "headers") {
        EXPECT_EQ(value, "none") << path << ":" << lineno;
        m.check_headers = true;
      } else if (key == "trailer") {
        m.trailers.push_back(Unescape(value));
      } else {
        m.keys[key] = value;
      }
    }
  }
  flush();
  return cases;
}

// What the parser did, in a form that compares and prints.
struct Message {
  RequestHead head;
  MessageInfo info;
  std::string body;
  std::vector<std::string> trailers;
  bool complete = false;
};

struct Transcript {
  std::vector<Message> messages;
  ParseStatus status = ParseStatus::kOk;
  int error_status = 0;
  std::string_view error_reason;  // not compared: for HTTP1_CORPUS_VERBOSE
  std::string rest;

  std::string ToString() const {
    std::ostringstream os;
    for (const auto& m : messages) {
      os << m.head.method << " " << m.head.path << " [" << m.head.authority << "] "
         << VersionName(m.head.version) << "\n";
      for (const auto& f : m.head.headers) os << "  " << f.name << ": " << Escape(f.value) << "\n";
      os << "  framing=" << FramingKindName(m.info.framing.kind) << " " << m.info.framing.length
         << " keep_alive=" << m.info.keep_alive << " expect=" << m.info.expect_continue
         << " upgrade=" << m.info.upgrade << " connect=" << m.info.connect
         << " form=" << static_cast<int>(m.info.target_form) << "\n";
      os << "  body=" << Escape(m.body) << "\n";
      for (const auto& t : m.trailers) os << "  trailer " << Escape(t) << "\n";
      os << "  complete=" << m.complete << "\n";
    }
    os << "result=" << ParseStatusName(status) << " " << error_status << " rest=" << Escape(rest)
       << "\n";
    return os.str();
  }
};

// Feeds `pieces` in order, like a connection would: unconsumed bytes are kept and fed again
// with the next piece. With `pause`, the caller pauses after every event and resumes at once.
Transcript RunCase(const Case& c, const std::vector<std::string>& pieces, bool pause) {
  Transcript t;
  RequestParser* parser_ptr = nullptr;
  auto maybe_pause = [&] {
    if (pause) parser_ptr->Pause();
  };
  RequestParser parser({
                           .on_head =
                               [&](RequestHead&& head, const MessageInfo& info) {
                                 t.messages.push_back({std::move(head), info, "", {}, false});
                                 maybe_pause();
                               },
                           .on_body =
                               [&](std::string_view data) {
                                 EXPECT_FALSE(t.messages.empty());
                                 EXPECT_FALSE(data.empty());
                                 t.messages.back().body.append(data);
                                 maybe_pause();
                               },
                           .on_trailers =
                               [&](HeaderMap&& trailers) {
                                 for (const auto& f : trailers) {
                                   t.messages.back().trailers.push_back(f.name + ": " + f.value);
                                 }
                               },
                           .on_complete =
                               [&] {
                                 t.messages.back().complete = true;
                                 maybe_pause();
                               },
                       },
                       c.limits);
  parser_ptr = &parser;

  std::string pending;
  size_t i = 0;
  bool stopped = false;
  for (; i < pieces.size() && !stopped; ++i) {
    pending += pieces[i];
    for (int guard = 0;; ++guard) {
      if (guard > 100000) {
        ADD_FAILURE() << c.name << ": the parser makes no progress";
        return t;
      }
      ParseResult r = parser.Feed(pending);
      EXPECT_LE(r.consumed, pending.size());
      pending.erase(0, r.consumed);
      t.status = r.status;
      t.error_status = r.error_status;
      t.error_reason = r.error_reason;
      if (r.status == ParseStatus::kPaused) {
        EXPECT_TRUE(pause) << c.name << ": paused without a Pause()";
        parser.Resume();
        continue;
      }
      if (r.status == ParseStatus::kOk) {
        EXPECT_TRUE(pending.empty());
        break;
      }
      stopped = true;  // upgrade, done, error
      break;
    }
  }
  if (stopped) {
    t.rest = pending;
    for (; i < pieces.size(); ++i) t.rest += pieces[i];
  } else if (c.eof) {
    ParseResult r = parser.Finish();
    t.status = r.status;
    t.error_status = r.error_status;
    t.error_reason = r.error_reason;
  }
  if (t.status == ParseStatus::kError) t.rest.clear();  // what follows an error is not kept
  return t;
}

std::vector<std::string> Whole(const std::string& raw) {
  return {raw};
}

std::vector<std::string> ByteByByte(const std::string& raw) {
  std::vector<std::string> out;
  for (char c : raw) out.emplace_back(1, c);
  return out;
}

std::vector<std::string> RandomSplit(const std::string& raw, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t max = std::max<size_t>(1, raw.size() / 4);
    size_t n = std::uniform_int_distribution<size_t>(1, max)(rng);
    out.push_back(raw.substr(pos, n));
    pos += n;
  }
  return out;
}

std::string Bool(bool b) {
  return b ? "yes" : "no";
}

std::string FormName(TargetForm f) {
  switch (f) {
    case TargetForm::kOrigin:
      return "origin";
    case TargetForm::kAbsolute:
      return "absolute";
    case TargetForm::kAuthority:
      return "authority";
    case TargetForm::kAsterisk:
      return "asterisk";
  }
  return "?";
}

std::string FramingText(const BodyFraming& f) {
  if (f.kind == BodyFraming::Kind::kContentLength) return "length " + std::to_string(f.length);
  return std::string(FramingKindName(f.kind));
}

void CheckExpectations(const Case& c, const Transcript& t) {
  std::string result = std::string(ParseStatusName(t.status));
  if (t.status == ParseStatus::kError) result += " " + std::to_string(t.error_status);
  EXPECT_EQ(result, c.result) << "result";
  if (c.rest) {
    EXPECT_EQ(Escape(t.rest), Escape(*c.rest)) << "unconsumed bytes";
  }
  ASSERT_EQ(t.messages.size(), c.messages.size()) << "number of messages";
  for (size_t i = 0; i < c.messages.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    const ExpectedMessage& want = c.messages[i];
    const Message& got = t.messages[i];
    const RequestHead& h = got.head;
    std::string authority = h.authority.empty() ? "-" : h.authority;
    std::string version = h.version == Version::kHttp10 ? "1.0" : "1.1";
    EXPECT_EQ(Escape(h.method + " " + h.path + " " + authority + " " + version),
              Escape(Unescape(want.keys.at("message"))));
    EXPECT_EQ(h.scheme, "http");
    if (want.check_headers) {
      std::vector<std::string> headers;
      for (const auto& f : h.headers) headers.push_back(f.name + ": " + f.value);
      EXPECT_EQ(headers, want.headers);
    }
    std::vector<std::string> trailers = want.trailers;
    EXPECT_EQ(got.trailers, trailers);
    for (const auto& [key, value] : want.keys) {
      if (key == "message") continue;
      if (key == "framing") {
        EXPECT_EQ(FramingText(got.info.framing), value) << key;
      } else if (key == "keep_alive") {
        EXPECT_EQ(Bool(got.info.keep_alive), value) << key;
      } else if (key == "expect") {
        EXPECT_EQ(Bool(got.info.expect_continue), value) << key;
      } else if (key == "upgrade") {
        EXPECT_EQ(Bool(got.info.upgrade), value) << key;
      } else if (key == "connect") {
        EXPECT_EQ(Bool(got.info.connect), value) << key;
      } else if (key == "form") {
        EXPECT_EQ(FormName(got.info.target_form), value) << key;
      } else if (key == "body") {
        EXPECT_EQ(Escape(got.body), Escape(Unescape(value))) << key;
      } else if (key == "complete") {
        EXPECT_EQ(Bool(got.complete), value) << key;
      } else {
        ADD_FAILURE() << "unknown key " << key;
      }
    }
    if (!want.keys.count("complete")) {
      EXPECT_TRUE(got.complete) << "message not complete";
    }
  }
}

const std::vector<Case>& Corpus() {
  static const std::vector<Case> cases =
      LoadCorpus(std::string(WEFT_SOURCE_DIR) + "/tests/core/http/http1/corpus/requests.txt");
  return cases;
}

TEST(RequestCorpus, HasEnoughUniqueCases) {
  const auto& cases = Corpus();
  EXPECT_GE(cases.size(), 100u);
  std::map<std::string, int> names;
  for (const auto& c : cases) {
    EXPECT_FALSE(c.name.empty()) << "case at line " << c.line << " has no name";
    EXPECT_EQ(names[c.name]++, 0) << "duplicate case name " << c.name;
  }
}

TEST(RequestCorpus, EveryCaseAnyFeeding) {
  size_t errors = 0;
  for (const Case& c : Corpus()) {
    SCOPED_TRACE("case " + c.name + " (requests.txt:" + std::to_string(c.line) + ")");
    Transcript whole = RunCase(c, Whole(c.raw), /*pause=*/false);
    CheckExpectations(c, whole);
    if (whole.status == ParseStatus::kError) ++errors;
    if (getenv("HTTP1_CORPUS_VERBOSE") != nullptr) {
      printf("%-45s %s %d %.*s\n", c.name.c_str(), ParseStatusName(whole.status).data(),
             whole.error_status, static_cast<int>(whole.error_reason.size()),
             whole.error_reason.data());
    }
    const std::string want = whole.ToString();
    EXPECT_EQ(RunCase(c, ByteByByte(c.raw), false).ToString(), want) << "byte by byte";
    EXPECT_EQ(RunCase(c, Whole(c.raw), true).ToString(), want) << "whole, pausing";
    EXPECT_EQ(RunCase(c, ByteByByte(c.raw), true).ToString(), want) << "byte by byte, pausing";
    for (uint32_t seed = 1; seed <= 8; ++seed) {
      EXPECT_EQ(RunCase(c, RandomSplit(c.raw, seed), seed % 2 == 0).ToString(), want)
          << "random split, seed " << seed;
    }
  }
  // The corpus is about both sides: plenty of each.
  EXPECT_GE(errors, 40u);
  EXPECT_GE(Corpus().size() - errors, 40u);
}

}  // namespace
}  // namespace weft::http::http1
