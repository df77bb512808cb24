// The YAML tree: node positions, stream splitting and per-document error isolation. Every
// compiler diagnostic's line and column comes from these marks, so they are checked exactly.

#include "core/yaml/document.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::yaml {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// Marks compare as (line, column) pairs in failure messages.
std::pair<uint32_t, uint32_t> At(const Node& n) {
  return {n.mark().line, n.mark().column};
}
std::pair<uint32_t, uint32_t> LC(uint32_t line, uint32_t col) {
  return {line, col};
}

Document ParseOk(std::string_view text, uint32_t first_line = 1) {
  ParsedDocument pd = ParseDocument(text, first_line);
  EXPECT_FALSE(pd.error) << pd.error->message;
  EXPECT_TRUE(pd.doc);
  return pd.doc ? std::move(*pd.doc) : Document();
}

TEST(DocumentMarks, KeysAndValuesAreOneBased) {
  Document doc = ParseOk(
      "a: 1\n"
      "b:\n"
      "  c: hello\n"
      "  d: [x, y]\n"
      "e:\n"
      "- f: 1\n");
  Node root = doc.root();
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(At(root), LC(1, 1));
  ASSERT_EQ(root.size(), 3u);
  EXPECT_EQ(root.key(0).scalar(), "a");
  EXPECT_EQ(At(root.key(0)), LC(1, 1));
  EXPECT_EQ(At(root.value(0)), LC(1, 4));
  EXPECT_EQ(root.value(0).scalar(), "1");

  Node b = *root.Find("b");
  ASSERT_TRUE(b.IsMap());
  EXPECT_EQ(At(root.key(1)), LC(2, 1));
  EXPECT_EQ(At(b), LC(3, 3));
  EXPECT_EQ(At(b.key(0)), LC(3, 3));
  EXPECT_EQ(At(*b.Find("c")), LC(3, 6));
  EXPECT_EQ(b.Find("c")->scalar(), "hello");
  Node d = *b.Find("d");
  ASSERT_TRUE(d.IsSeq());
  EXPECT_EQ(At(d), LC(4, 6));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(At(d.item(0)), LC(4, 7));
  EXPECT_EQ(At(d.item(1)), LC(4, 10));
  EXPECT_EQ(d.item(1).scalar(), "y");

  Node e = *root.Find("e");
  ASSERT_TRUE(e.IsSeq());
  EXPECT_EQ(At(e), LC(6, 1));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e.item(0).IsMap());
  EXPECT_EQ(At(e.item(0)), LC(6, 3));
  EXPECT_EQ(At(*e.item(0).Find("f")), LC(6, 6));
}

TEST(DocumentMarks, FirstLineOffsetsEveryMark) {
  Document doc = ParseOk("x:\n  y: 2\n", 41);
  EXPECT_EQ(At(doc.root()), LC(41, 1));
  EXPECT_EQ(At(*doc.root().Find("x")->Find("y")), LC(42, 6));
}

TEST(DocumentScalars, NullsStylesAndDescribe) {
  Document doc = ParseOk(
      "a:\n"
      "b: ~\n"
      "c: null\n"
      "d: 'null'\n"
      "e: \"two words\"\n"
      "f: |\n"
      "  line1\n"
      "  line2\n"
      "g: NULL\n"
      "h: plain\n");
  Node r = doc.root();
  EXPECT_TRUE(r.Find("a")->IsNull());
  EXPECT_TRUE(r.Find("b")->IsNull());
  EXPECT_TRUE(r.Find("c")->IsNull());
  EXPECT_TRUE(r.Find("g")->IsNull());
  ASSERT_TRUE(r.Find("d")->IsScalar());
  EXPECT_EQ(r.Find("d")->scalar(), "null");
  EXPECT_EQ(r.Find("d")->style(), ScalarStyle::kQuoted);
  EXPECT_EQ(r.Find("e")->scalar(), "two words");
  EXPECT_EQ(r.Find("e")->style(), ScalarStyle::kQuoted);
  EXPECT_EQ(r.Find("f")->scalar(), "line1\nline2\n");
  EXPECT_EQ(r.Find("f")->style(), ScalarStyle::kBlock);
  EXPECT_EQ(r.Find("h")->style(), ScalarStyle::kPlain);

  EXPECT_EQ(r.Find("a")->Describe(), "null");
  EXPECT_EQ(r.Find("h")->Describe(), "\"plain\"");
  EXPECT_EQ(r.Describe(), "a mapping");
  EXPECT_EQ(ParseOk("[1]").root().Describe(), "a list");
  std::string long_value(80, 'x');
  EXPECT_EQ(ParseOk("k: " + long_value).root().Find("k")->Describe(),
            "\"" + std::string(57, 'x') + "...\"");
}

// What kubectl's YAML reader (sigs.k8s.io/yaml, YAML 1.1) makes of plain scalars, checked
// against it (go: yaml.Unmarshal of "a: VALUE"): numbers and booleans are not strings.
TEST(DocumentScalars, NonStringTypeAsKubectlReadsIt) {
  struct Case {
    std::string value;
    std::string_view type;
  };
  for (const Case& c : std::vector<Case>{{"1234", "an integer"},
                                         {"-7", "an integer"},
                                         {"0x1f", "an integer"},
                                         {"010", "an integer"},
                                         {"1_000", "an integer"},
                                         {"0b101", "an integer"},
                                         {"0o17", "an integer"},
                                         {"1.5", "a number"},
                                         {"1e3", "a number"},
                                         {".5", "a number"},
                                         {"1.", "a number"},
                                         {"+1.5e-3", "a number"},
                                         {".inf", "a number"},
                                         {"y", "a boolean"},
                                         {"n", "a boolean"},
                                         {"yes", "a boolean"},
                                         {"Off", "a boolean"},
                                         {"TRUE", "a boolean"},
                                         {"10.0.0.1", ""},
                                         {"1:20", ""},
                                         {"2001-12-14", ""},
                                         {"v1", ""},
                                         {"1e", ""},
                                         {".", ""},
                                         {"5s", ""},
                                         {"\"1234\"", ""},
                                         {"'yes'", ""}}) {
    Document doc = ParseOk("a: " + c.value + "\n");
    EXPECT_EQ(doc.root().Find("a")->NonStringType(), c.type) << c.value;
  }
}

TEST(DocumentTree, FindReturnsFirstKeyAndNothingOnNonMaps) {
  Document doc = ParseOk("k: 1\nk: 2\nlist: [a]\n");
  EXPECT_EQ(doc.root().Find("k")->scalar(), "1");
  EXPECT_FALSE(doc.root().Find("missing"));
  EXPECT_FALSE(doc.root().Find("list")->Find("a"));
  EXPECT_EQ(doc.root().Find("list")->size(), 1u);
  // Scalars have no size; an empty handle is null and not valid.
  EXPECT_EQ(doc.root().Find("k")->size(), 0u);
  Node none;
  EXPECT_FALSE(none.valid());
  EXPECT_TRUE(none.IsNull());
}

TEST(DocumentTree, EmptyDocumentIsEmpty) {
  EXPECT_TRUE(ParseOk("").empty());
  EXPECT_TRUE(ParseOk("# just a comment\n").empty());
  EXPECT_FALSE(ParseOk("a: 1").empty());
}

TEST(DocumentJson, JsonIsParsedAsFlowYaml) {
  Document doc = ParseOk(
      "{\n"
      "  \"apiVersion\": \"v1\",\n"
      "  \"spec\": {\"ports\": [80, \"http\"], \"on\": true, \"none\": null}\n"
      "}\n");
  Node r = doc.root();
  ASSERT_TRUE(r.IsMap());
  EXPECT_EQ(r.Find("apiVersion")->scalar(), "v1");
  EXPECT_EQ(r.Find("apiVersion")->style(), ScalarStyle::kQuoted);
  EXPECT_EQ(At(*r.Find("apiVersion")), LC(2, 17));
  Node spec = *r.Find("spec");
  Node ports = *spec.Find("ports");
  ASSERT_THAT(ports.size(), 2u);
  EXPECT_EQ(ports.item(0).scalar(), "80");
  EXPECT_EQ(ports.item(0).style(), ScalarStyle::kPlain);
  EXPECT_EQ(ports.item(1).style(), ScalarStyle::kQuoted);
  EXPECT_EQ(At(ports.item(1)), LC(3, 26));
  EXPECT_EQ(spec.Find("on")->scalar(), "true");
  EXPECT_TRUE(spec.Find("none")->IsNull());
}

TEST(DocumentAnchors, AliasesShareTheAnchoredNode) {
  Document doc = ParseOk(
      "base: &b\n"
      "  x: 1\n"
      "copy: *b\n"
      "n: &n 5\n"
      "m: *n\n"
      "list: &l [p, q]\n"
      "again: *l\n");
  Node r = doc.root();
  Node copy = *r.Find("copy");
  ASSERT_TRUE(copy.IsMap());
  EXPECT_EQ(copy.Find("x")->scalar(), "1");
  // The alias is the anchored node itself, so it reports where that node was written (libyaml
  // starts a node at its properties, here the anchor).
  EXPECT_EQ(At(copy), LC(1, 7));
  EXPECT_EQ(r.Find("m")->scalar(), "5");
  EXPECT_EQ(At(*r.Find("m")), LC(4, 4));
  ASSERT_TRUE(r.Find("again")->IsSeq());
  EXPECT_EQ(r.Find("again")->item(1).scalar(), "q");
}

TEST(DocumentAnchors, UnknownAliasIsAnErrorAtTheAlias) {
  ParsedDocument pd = ParseDocument("a: 1\nb: *nope\n", 10);
  ASSERT_TRUE(pd.error);
  EXPECT_FALSE(pd.doc);
  EXPECT_EQ(pd.error->mark.line, 11u);
  EXPECT_EQ(pd.error->mark.column, 4u);
  EXPECT_THAT(pd.error->message, HasSubstr("alias"));
}

TEST(DocumentErrors, SyntaxErrorHasAbsoluteLineAndColumn) {
  ParsedDocument pd = ParseDocument("ok: 1\nb: c: d\n", 7);
  ASSERT_TRUE(pd.error);
  EXPECT_FALSE(pd.doc);
  EXPECT_EQ(pd.error->mark.line, 8u);
  EXPECT_EQ(pd.error->mark.column, 5u);
  EXPECT_THAT(pd.error->message, HasSubstr("mapping values are not allowed"));
}

TEST(DocumentErrors, TabIndentationIsAnError) {
  ParsedDocument pd = ParseDocument("a:\n\tb: 1\n");
  ASSERT_TRUE(pd.error);
  EXPECT_EQ(pd.error->mark.line, 2u);
}

TEST(DocumentErrors, ContentAfterDocumentEndMarkerIsRejectedNotMerged) {
  ParsedDocument pd = ParseDocument("a: 1\n...\nb: 2\n");
  ASSERT_TRUE(pd.error);
  EXPECT_FALSE(pd.doc);
  EXPECT_EQ(pd.error->mark.line, 3u);
}

TEST(Stream, SplitsAtMarkersWithLineOffsets) {
  std::string text =
      "a: 1\n"       // 1
      "---\n"        // 2
      "# comment\n"  // 3
      "b: 2\n"       // 4
      "---\n"        // 5
      "c:\n"         // 6
      "  d: 3\n";    // 7
  auto docs = ParseStream(text);
  ASSERT_THAT(docs, SizeIs(3));
  EXPECT_EQ(docs[0].first_line, 1u);
  EXPECT_EQ(docs[1].first_line, 2u);
  EXPECT_EQ(docs[2].first_line, 5u);
  for (const auto& d : docs) ASSERT_TRUE(d.doc) << d.error->message;
  EXPECT_EQ(At(docs[0].doc->root().key(0)), LC(1, 1));
  EXPECT_EQ(At(docs[1].doc->root().key(0)), LC(4, 1));
  EXPECT_EQ(docs[1].doc->root().Find("b")->scalar(), "2");
  EXPECT_EQ(At(*docs[2].doc->root().Find("c")->Find("d")), LC(7, 6));
  // Each document's text is its own section of the input.
  EXPECT_EQ(docs[1].text, "---\n# comment\nb: 2\n");
}

TEST(Stream, LeadingMarkerStartsTheFirstDocument) {
  auto docs = ParseStream("---\na: 1\n---\nb: 2\n");
  ASSERT_THAT(docs, SizeIs(2));
  ASSERT_TRUE(docs[0].doc);
  ASSERT_TRUE(docs[1].doc);
  EXPECT_EQ(docs[0].first_line, 1u);
  EXPECT_EQ(At(docs[0].doc->root().key(0)), LC(2, 1));
  EXPECT_EQ(docs[1].first_line, 3u);
  EXPECT_EQ(At(docs[1].doc->root().key(0)), LC(4, 1));
}

TEST(Stream, MarkerWithoutTrailingNewlineAndCrlf) {
  auto docs = ParseStream("a: 1\r\n---\r\nb: 2\r\n---");
  ASSERT_THAT(docs, SizeIs(2));
  ASSERT_TRUE(docs[1].doc);
  EXPECT_EQ(docs[1].doc->root().Find("b")->scalar(), "2");
  EXPECT_EQ(At(docs[1].doc->root().key(0)), LC(3, 1));
}

TEST(Stream, SyntaxErrorLosesOnlyItsDocument) {
  std::string text =
      "a: 1\n"     // 1
      "---\n"      // 2
      "b: c: d\n"  // 3
      "---\n"      // 4
      "e: 5\n";    // 5
  auto docs = ParseStream(text);
  ASSERT_THAT(docs, SizeIs(3));
  EXPECT_TRUE(docs[0].doc);
  EXPECT_FALSE(docs[1].doc);
  ASSERT_TRUE(docs[1].error);
  EXPECT_EQ(docs[1].error->mark.line, 3u);
  EXPECT_EQ(docs[1].error->mark.column, 5u);
  EXPECT_EQ(docs[1].first_line, 2u);
  ASSERT_TRUE(docs[2].doc);
  EXPECT_EQ(docs[2].doc->root().Find("e")->scalar(), "5");
  EXPECT_EQ(At(docs[2].doc->root().key(0)), LC(5, 1));
}

TEST(Stream, UnterminatedFlowDoesNotSwallowTheNextDocument) {
  auto docs = ParseStream("a: [1, 2\n---\nb: 3\n");
  ASSERT_THAT(docs, SizeIs(2));
  EXPECT_TRUE(docs[0].error);
  ASSERT_TRUE(docs[1].doc);
  EXPECT_EQ(docs[1].doc->root().Find("b")->scalar(), "3");
}

TEST(Stream, CommentOnlyAndEmptyDocumentsAreDropped) {
  auto docs = ParseStream(
      "# header comment\n"  // 1
      "---\n"               // 2
      "# only a comment\n"  // 3
      "\n"                  // 4
      "---\n"               // 5
      "---\n"               // 6
      "a: 1\n"              // 7
      "---\n"               // 8
      "   \n");             // 9
  ASSERT_THAT(docs, SizeIs(1));
  EXPECT_EQ(docs[0].first_line, 6u);
  ASSERT_TRUE(docs[0].doc);
  EXPECT_EQ(At(docs[0].doc->root().key(0)), LC(7, 1));
  EXPECT_THAT(ParseStream(""), SizeIs(0));
  EXPECT_THAT(ParseStream("\n\n# nothing\n"), SizeIs(0));
  EXPECT_THAT(SplitStream("%YAML 1.2\n---\n"), SizeIs(0));
}

TEST(Stream, ContentOnTheMarkerLineIsKeptWithItsLine) {
  std::string text =
      "a: 1\n"              // 1
      "--- {b: 2}\n"        // 2
      "--- [p, q]\n"        // 3
      "--- # a comment\n"   // 4
      "---\t|\n"            // 5
      "  text\n"            // 6
      "---\n"               // 7
      "c: 3\n"              // 8
      "--- !tag {d: 4}\n";  // 9
  auto docs = ParseStream(text);
  ASSERT_THAT(docs, SizeIs(6));
  for (const auto& d : docs) ASSERT_TRUE(d.doc) << d.first_line << ": " << d.error->message;
  EXPECT_EQ(docs[1].first_line, 2u);
  EXPECT_EQ(docs[1].text, "--- {b: 2}\n");
  EXPECT_EQ(At(docs[1].doc->root()), LC(2, 5));
  EXPECT_EQ(At(docs[1].doc->root().key(0)), LC(2, 6));
  EXPECT_EQ(docs[1].doc->root().Find("b")->scalar(), "2");
  EXPECT_EQ(docs[2].first_line, 3u);
  ASSERT_TRUE(docs[2].doc->root().IsSeq());
  EXPECT_EQ(docs[2].doc->root().item(1).scalar(), "q");
  EXPECT_EQ(At(docs[2].doc->root().item(1)), LC(3, 9));
  // The comment-only marker line is not a document of its own.
  EXPECT_EQ(docs[3].first_line, 5u);
  EXPECT_EQ(docs[3].doc->root().scalar(), "text\n");
  EXPECT_EQ(docs[3].doc->root().style(), ScalarStyle::kBlock);
  EXPECT_EQ(docs[4].first_line, 7u);
  EXPECT_EQ(At(docs[4].doc->root().key(0)), LC(8, 1));
  EXPECT_EQ(docs[5].first_line, 9u);
  EXPECT_EQ(docs[5].doc->root().Find("d")->scalar(), "4");
  EXPECT_EQ(At(*docs[5].doc->root().Find("d")), LC(9, 14));
  // Alone, with and without a newline.
  EXPECT_THAT(ParseStream("--- {a: 1}"), SizeIs(1));
  EXPECT_THAT(SplitStream("--- !tag\n"), SizeIs(1));
  EXPECT_THAT(SplitStream("--- x\r\n"), SizeIs(1));
  EXPECT_THAT(SplitStream("---   \r\n--- #c\n...\n"), SizeIs(0));
}

TEST(Stream, SyntaxErrorOnTheMarkerLineHasItsLine) {
  // Not dropped as a blank section: reported, at its line.
  auto docs = ParseStream("a: 1\n--- {b: 1]\n");
  ASSERT_THAT(docs, SizeIs(2));
  EXPECT_TRUE(docs[0].doc);
  ASSERT_TRUE(docs[1].error);
  EXPECT_EQ(docs[1].first_line, 2u);
  EXPECT_EQ(docs[1].error->mark.line, 2u);
  EXPECT_EQ(docs[1].error->mark.column, 10u);
}

TEST(Stream, IndentedMarkerInsideBlockScalarDoesNotSplit) {
  auto docs = ParseStream("x: |\n  ---\n  y\nz: 1\n");
  ASSERT_THAT(docs, SizeIs(1));
  ASSERT_TRUE(docs[0].doc);
  EXPECT_EQ(docs[0].doc->root().Find("x")->scalar(), "---\ny\n");
  EXPECT_EQ(docs[0].doc->root().Find("z")->scalar(), "1");
}

TEST(Stream, FourDashesIsNotAMarker) {
  auto sections = SplitStream("a: |\n  x\n----\n");
  EXPECT_THAT(sections, SizeIs(1));
}

// ---- scalar and collection forms a Kubernetes manifest may use ----

TEST(DocumentForms, QuotingEscapesAndComments) {
  Document doc = ParseOk(
      "\"a b\": 1 # trailing comment\n"
      "'c:d': 'it''s'\n"
      "e: \"tab\\there \\u00e9 \\\"q\\\"\"\n"
      "f: value # comment\n"
      "g: 'x # not a comment'\n"
      "h: a:b\n"
      "i: http://example.com/x?y=1#frag\n");
  Node r = doc.root();
  EXPECT_EQ(r.Find("a b")->scalar(), "1");
  EXPECT_EQ(r.Find("c:d")->scalar(), "it's");
  EXPECT_EQ(r.Find("e")->scalar(), "tab\there \xc3\xa9 \"q\"");
  EXPECT_EQ(r.Find("f")->scalar(), "value");
  EXPECT_EQ(r.Find("g")->scalar(), "x # not a comment");
  EXPECT_EQ(r.Find("h")->scalar(), "a:b");
  EXPECT_EQ(r.Find("i")->scalar(), "http://example.com/x?y=1#frag");
  EXPECT_EQ(At(r.key(0)), LC(1, 1));
  EXPECT_EQ(At(r.value(0)), LC(1, 8));
}

TEST(DocumentForms, BlockScalarsFoldedAndChomped) {
  Document doc = ParseOk(
      "lit: |\n"
      "  one\n"
      "    two\n"
      "strip: |-\n"
      "  x\n"
      "fold: >\n"
      "  a\n"
      "  b\n"
      "\n"
      "  c\n"
      "keep: |+\n"
      "  k\n"
      "\n"
      "after: 1\n");
  Node r = doc.root();
  EXPECT_EQ(r.Find("lit")->scalar(), "one\n  two\n");
  EXPECT_EQ(r.Find("strip")->scalar(), "x");
  EXPECT_EQ(r.Find("fold")->scalar(), "a b\nc\n");
  EXPECT_EQ(r.Find("keep")->scalar(), "k\n\n");
  EXPECT_EQ(r.Find("after")->scalar(), "1");
  EXPECT_EQ(At(*r.Find("after")), LC(14, 8));
}

TEST(DocumentForms, MultiLinePlainAndQuotedScalars) {
  Document doc = ParseOk(
      "a: first\n"
      "  second\n"
      "b: \"x\n"
      "  y\"\n"
      "c: 2\n");
  EXPECT_EQ(doc.root().Find("a")->scalar(), "first second");
  EXPECT_EQ(doc.root().Find("b")->scalar(), "x y");
  EXPECT_EQ(At(*doc.root().Find("c")), LC(5, 4));
}

TEST(DocumentForms, NestedCollections) {
  Document doc = ParseOk(
      "empty_map: {}\n"
      "empty_list: []\n"
      "nested: [[a, b], {c: [d]}]\n"
      "seqs:\n"
      "- - x\n"
      "  - y\n"
      "- k: 1\n"
      "  l: 2\n"
      "flow: {p: {q: r}, s: [1, 2]}\n");
  Node r = doc.root();
  EXPECT_TRUE(r.Find("empty_map")->IsMap());
  EXPECT_EQ(r.Find("empty_map")->size(), 0u);
  EXPECT_TRUE(r.Find("empty_list")->IsSeq());
  EXPECT_EQ(r.Find("empty_list")->size(), 0u);
  Node nested = *r.Find("nested");
  EXPECT_EQ(nested.item(0).item(1).scalar(), "b");
  EXPECT_EQ(nested.item(1).Find("c")->item(0).scalar(), "d");
  EXPECT_EQ(At(nested.item(1).Find("c")->item(0)), LC(3, 23));
  Node seqs = *r.Find("seqs");
  ASSERT_EQ(seqs.size(), 2u);
  ASSERT_TRUE(seqs.item(0).IsSeq());
  EXPECT_EQ(seqs.item(0).item(1).scalar(), "y");
  EXPECT_EQ(At(seqs.item(0).item(1)), LC(6, 5));
  ASSERT_TRUE(seqs.item(1).IsMap());
  EXPECT_EQ(seqs.item(1).Find("l")->scalar(), "2");
  EXPECT_EQ(At(seqs.item(1).key(1)), LC(8, 3));
  EXPECT_EQ(r.Find("flow")->Find("p")->Find("q")->scalar(), "r");
  EXPECT_EQ(r.Find("flow")->Find("s")->item(1).scalar(), "2");
}

TEST(DocumentForms, ColumnsCountCharactersNotBytes) {
  // "é" is two bytes in UTF-8 but one column for the reader of an error message.
  Document doc = ParseOk("name: é\nx: [é, y]\n");
  EXPECT_EQ(doc.root().Find("name")->scalar(), "\xc3\xa9");
  EXPECT_EQ(At(doc.root().Find("x")->item(1)), LC(2, 8));
}

TEST(DocumentForms, ByteOrderMarkIsNotContent) {
  Document doc = ParseOk(
      "\xef\xbb\xbf"
      "a: 1\n");
  ASSERT_TRUE(doc.root().IsMap());
  EXPECT_EQ(doc.root().Find("a")->scalar(), "1");
}

TEST(DocumentForms, WindowsLineEndings) {
  Document doc = ParseOk("a: 1\r\nb:\r\n  c: |\r\n    x\r\n  d: 2\r\n");
  EXPECT_EQ(doc.root().Find("a")->scalar(), "1");
  EXPECT_EQ(doc.root().Find("b")->Find("c")->scalar(), "x\n");
  EXPECT_EQ(At(*doc.root().Find("b")->Find("d")), LC(5, 6));
}

TEST(DocumentForms, IndentationErrorsAreSyntaxErrors) {
  for (std::string_view bad : {"a:\n  b: 1\n c: 2\n", "a: [1, 2\n", "a: {b: 1\n", "- a\nb: 1\n",
                               "a: 'unterminated\n", "a: \"x\n"}) {
    ParsedDocument pd = ParseDocument(bad);
    EXPECT_TRUE(pd.error) << bad;
    EXPECT_FALSE(pd.doc) << bad;
  }
}

}  // namespace
}  // namespace weft::yaml

namespace weft::yaml {
namespace {

// kubectl (sigs.k8s.io/yaml) reads unquoted IPv6 addresses in a flow sequence as strings;
// so does weft (issue: `addresses: [1.2.3.4, 2001:db8::1]` in a ServiceEntry).
TEST(DocumentScalars, UnquotedIpv6InAFlowSequence) {
  Document d = ParseOk("addresses: [1.2.3.4, 2001:db8::1, \"::1\"]\n");
  Node list = *d.root().Find("addresses");
  ASSERT_TRUE(list.IsSeq());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list.item(0).scalar(), "1.2.3.4");
  EXPECT_EQ(list.item(1).scalar(), "2001:db8::1");
  EXPECT_EQ(list.item(2).scalar(), "::1");
}

}  // namespace
}  // namespace weft::yaml
