// ObjectReader: every getter's type checks, and the promise that a field nobody read is an
// "unknown field" error at its own line and path.

#include "core/policy/decode/reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::Dump;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;
using ::testing::SizeIs;

// Parses `text` and runs `fn` on an ObjectReader over its root; returns what the sink got
// after the reader was destroyed (which is when unknown fields are reported).
class ReaderTest : public ::testing::Test {
 protected:
  std::vector<Diagnostic> Read(std::string_view text,
                               const std::function<void(ObjectReader&)>& fn) {
    pd_ = yaml::ParseDocument(text);
    EXPECT_TRUE(pd_.doc) << pd_.error->message;
    DiagnosticSink sink({"f.yaml", "Thing", "v1", "ns", "name", 1, 1});
    {
      ObjectReader r(sink, pd_.doc->root(), "spec");
      fn(r);
    }
    return sink.Take();
  }
  yaml::ParsedDocument pd_;
};

// One diagnostic's essentials, for exact comparison.
std::string Brief(const Diagnostic& d) {
  return std::string(SeverityName(d.severity)) + " " + d.code + " " + std::to_string(d.line) + ":" +
         std::to_string(d.column) + " " + d.field + ": " + d.message;
}

std::vector<std::string> Briefs(const std::vector<Diagnostic>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(Brief(d));
  return out;
}

TEST_F(ReaderTest, UnreadFieldsAreUnknownAtTheirKey) {
  auto diags = Read("known: 1\nnested:\n  typo: 2\nmisspelt: 3\n", [](ObjectReader& r) {
    r.Int("known", 0, 10);
    r.Object("nested", [](ObjectReader&) {});
  });
  EXPECT_THAT(Briefs(diags),
              ElementsAre("error unknown-field 3:3 spec.nested.typo: unknown field \"typo\"",
                          "error unknown-field 4:1 spec.misspelt: unknown field \"misspelt\""));
}

TEST_F(ReaderTest, IgnoreAndIgnoreAllOthersConsume) {
  EXPECT_THAT(Read("a: 1\nb: 2\n", [](ObjectReader& r) { r.Ignore("a"), r.Ignore("b"); }),
              IsEmpty());
  EXPECT_THAT(Read("a: 1\nb: 2\n", [](ObjectReader& r) { r.IgnoreAllOthers(); }), IsEmpty());
}

TEST_F(ReaderTest, ReadingAFieldTwiceIsNotADuplicate) {
  // Decoders may read a field and the generic code then ignore it (e.g. "status"); only a key
  // written twice in the YAML is a duplicate.
  auto diags = Read("status:\n  phase: Running\n", [](ObjectReader& r) {
    r.Object("status", [](ObjectReader& s) { s.IgnoreAllOthers(); });
    r.Ignore("status");
  });
  EXPECT_THAT(diags, IsEmpty()) << Dump(diags);
}

TEST_F(ReaderTest, DuplicateKeyIsAConflictAtTheSecondKey) {
  std::optional<std::string> v;
  auto diags = Read("name: a\nname: b\n", [&](ObjectReader& r) { v = r.String("name"); });
  EXPECT_THAT(v, Optional(std::string("a")));
  EXPECT_THAT(Briefs(diags), ElementsAre("error conflict 2:1 spec.name: duplicate field \"name\""));
}

TEST_F(ReaderTest, StringTypeErrors) {
  auto diags = Read("s: {a: 1}\nl: [x]\n", [](ObjectReader& r) {
    EXPECT_FALSE(r.String("s"));
    EXPECT_FALSE(r.String("l"));
    EXPECT_FALSE(r.String("absent"));
  });
  EXPECT_THAT(Briefs(diags), ElementsAre("error type 1:4 spec.s: expected a string, got a mapping",
                                         "error type 2:4 spec.l: expected a string, got a list"));
}

TEST_F(ReaderTest, IntTypeAndRange) {
  std::optional<int64_t> ok, quoted, bad, range, hex;
  auto diags = Read(
      "ok: 12\n"
      "quoted: \"12\"\n"
      "bad: 1 -maximo de conexao\n"
      "range: 70000\n"
      "hex: 0x10\n",
      [&](ObjectReader& r) {
        ok = r.Int("ok", 0, 100);
        quoted = r.Int("quoted", 0, 100);
        bad = r.Int("bad", 0, 100);
        range = r.Port("range");
        hex = r.Int("hex", 0, 100);
      });
  EXPECT_EQ(ok, 12);
  EXPECT_FALSE(quoted);
  EXPECT_FALSE(bad);
  EXPECT_FALSE(range);
  EXPECT_EQ(hex, 16);
  EXPECT_THAT(Briefs(diags),
              ElementsAre("error type 2:9 spec.quoted: expected an integer, got \"12\"",
                          "error type 3:6 spec.bad: expected an integer, got \"1 -maximo de "
                          "conexao\"",
                          "error value 4:8 spec.range: 70000 is out of range [1, 65535]"));
}

TEST_F(ReaderTest, DoubleBoolDuration) {
  std::optional<double> d;
  std::optional<bool> b, nb;
  std::optional<uint64_t> ms, bad_ms;
  auto diags = Read(
      "d: 12.5\n"
      "b: true\n"
      "nb: yes\n"
      "ms: 1m30s\n"
      "bad: 5s tempo\n"
      "big: 101\n",
      [&](ObjectReader& r) {
        d = r.Double("d", 0, 100);
        b = r.Bool("b");
        nb = r.Bool("nb");
        ms = r.DurationMs("ms");
        bad_ms = r.DurationMs("bad");
        EXPECT_FALSE(r.Double("big", 0, 100));
      });
  EXPECT_EQ(d, 12.5);
  EXPECT_EQ(b, true);
  EXPECT_FALSE(nb);
  EXPECT_EQ(ms, 90'000u);
  EXPECT_FALSE(bad_ms);
  auto briefs = Briefs(diags);
  ASSERT_THAT(briefs, SizeIs(3));
  EXPECT_EQ(briefs[0], "error type 3:5 spec.nb: expected a boolean (true or false), got \"yes\"");
  EXPECT_EQ(briefs[1],
            "error duration 5:6 spec.bad: invalid duration \"5s tempo\": unknown unit \"s "
            "tempo\"; expected a number followed by a unit (h, m, s, ms, us, ns), e.g. \"5s\" or "
            "\"1m30s\"");
  EXPECT_THAT(briefs[2], ::testing::StartsWith("error value 6:6 spec.big: 101 is out of range"));
}

TEST_F(ReaderTest, EnumListsTheChoices) {
  auto diags = Read("mode: STRICTEST\n", [](ObjectReader& r) {
    EXPECT_FALSE(r.Enum("mode", {"STRICT", "PERMISSIVE"}));
  });
  EXPECT_THAT(Briefs(diags),
              ElementsAre("error value 1:7 spec.mode: invalid value \"STRICTEST\"; expected one "
                          "of: STRICT, PERMISSIVE"));
}

TEST_F(ReaderTest, StringMapAndList) {
  std::optional<std::map<std::string, std::string>> m;
  std::optional<std::vector<std::string>> l;
  auto diags = Read(
      "m:\n"
      "  a: x\n"
      "  b:\n"
      "  c: [1]\n"
      "l: [p, {q: 1}, r]\n"
      "notmap: [1]\n"
      "notlist: x\n",
      [&](ObjectReader& r) {
        m = r.StringMap("m");
        l = r.StringList("l");
        EXPECT_FALSE(r.StringMap("notmap"));
        EXPECT_FALSE(r.StringList("notlist"));
      });
  ASSERT_TRUE(m);
  EXPECT_THAT(*m, ElementsAre(Pair("a", "x"), Pair("b", "")));
  ASSERT_TRUE(l);
  EXPECT_THAT(*l, ElementsAre("p", "r"));
  EXPECT_THAT(Briefs(diags),
              ElementsAre("error type 4:6 spec.m.c: expected a string, got a list",
                          "error type 5:8 spec.l[1]: expected a string, got a mapping",
                          "error type 6:9 spec.notmap: expected a mapping of strings, got a list",
                          "error type 7:10 spec.notlist: expected a list of strings, got \"x\""));
}

TEST_F(ReaderTest, ObjectsAndListsCarryPaths) {
  std::vector<std::string> seen;
  auto diags = Read(
      "obj: 5\n"
      "items:\n"
      "- name: a\n"
      "- 7\n"
      "- name: c\n"
      "  extra: 1\n"
      "notlist: {a: 1}\n",
      [&](ObjectReader& r) {
        r.Object("obj", [&](ObjectReader&) { seen.push_back("obj"); });
        r.ObjectList("items", [&](ObjectReader& i, size_t n) {
          seen.push_back(i.path() + "=" + i.String("name").value_or("?") + "#" + std::to_string(n));
        });
        r.List("notlist", [](yaml::Node, const std::string&, size_t) {});
      });
  EXPECT_THAT(seen, ElementsAre("spec.items[0]=a#0", "spec.items[2]=c#2"));
  EXPECT_THAT(Briefs(diags),
              ElementsAre("error type 1:6 spec.obj: expected a mapping, got \"5\"",
                          "error type 4:3 spec.items[1]: expected a mapping, got \"7\"",
                          "error unknown-field 6:3 spec.items[2].extra: unknown field \"extra\"",
                          "error type 7:10 spec.notlist: expected a list, got a mapping"));
}

TEST_F(ReaderTest, RequireUnsupportedAndFieldErrors) {
  auto diags = Read(
      "present: 1\n"
      "nulled:\n"
      "later: x\n",
      [](ObjectReader& r) {
        EXPECT_TRUE(r.Require("present"));
        EXPECT_FALSE(r.Require("missing"));
        EXPECT_FALSE(r.Require("nulled"));  // null counts as absent
        r.Ignore("present");
        r.Ignore("nulled");
        r.Unsupported("later", "not yet");
        r.Unsupported("absent");  // absent: nothing to say
      });
  EXPECT_THAT(Briefs(diags),
              ElementsAre("error missing-field 1:1 spec.missing: required field \"missing\" is "
                          "missing",
                          "error missing-field 1:1 spec.nulled: required field \"nulled\" is "
                          "missing",
                          "warning unsupported 3:8 spec.later: field \"later\" is not supported "
                          "by weft and is ignored: not yet"));
}

TEST_F(ReaderTest, MarkOfNullValueIsItsKey) {
  Read("a:\nb: 2\n", [](ObjectReader& r) {
    EXPECT_EQ(r.MarkOf("a").line, 1u);
    EXPECT_EQ(r.MarkOf("a").column, 1u);
    EXPECT_EQ(r.MarkOf("b").column, 4u);
    EXPECT_EQ(r.Child("b"), "spec.b");
    r.IgnoreAllOthers();
  });
}

TEST_F(ReaderTest, NonMappingRootIsATypeError) {
  auto diags = Read("- 1\n", [](ObjectReader& r) { EXPECT_FALSE(r.is_map()); });
  EXPECT_THAT(Briefs(diags), ElementsAre("error type 1:1 spec: expected a mapping, got a list"));
}

TEST(ScalarString, ReportsNonScalars) {
  auto pd = yaml::ParseDocument("[a, [b]]");
  DiagnosticSink sink;
  EXPECT_EQ(ScalarString(sink, pd.doc->root().item(0), "x[0]"), "a");
  EXPECT_FALSE(ScalarString(sink, pd.doc->root().item(1), "x[1]"));
  ASSERT_THAT(sink.diagnostics(), SizeIs(1));
  EXPECT_EQ(sink.diagnostics()[0].field, "x[1]");
  EXPECT_EQ(sink.error_count(), 1u);
}

}  // namespace
}  // namespace weft::policy
