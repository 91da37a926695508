#include "services/presence/pidf.h"

#include <fstream>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace herald::services::presence {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The cpim-pidf NOTIFY bodies of the seed call flow, "<?xml" through "</presence>".
std::vector<std::string> seed_bodies() {
  std::ifstream in(std::string(HERALD_TEST_DATA_DIR) + "/seeds/000_cf4fc90a78943399.txt");
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  std::vector<std::string> bodies;
  for (std::size_t pos = all.find("<?xml"); pos != std::string::npos; pos = all.find("<?xml", pos)) {
    const auto end = all.find("</presence>", pos);
    if (end == std::string::npos) break;
    bodies.push_back(all.substr(pos, end + 11 - pos));
    pos = end;
  }
  return bodies;
}

// RFC 3863 §3.4, two tuples.
constexpr std::string_view kRfc3863Example = R"(<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:im="urn:ietf:params:xml:ns:pidf:im"
    xmlns:myex="http://id.example.com/presence/"
    entity="pres:someone@example.com">
  <tuple id="bs35r9">
    <status>
      <basic>open</basic>
      <im:im>busy</im:im>
      <myex:location>home</myex:location>
    </status>
    <contact priority="0.8">im:someone@mobilecarrier.net</contact>
    <note xml:lang="en">Don't Disturb Please!</note>
    <note xml:lang="fr">Ne derangez pas, s'il vous plait</note>
    <timestamp>2001-10-27T16:49:29Z</timestamp>
  </tuple>
  <tuple id="eg92n8">
    <status>
      <basic>open</basic>
    </status>
    <contact priority="1.0">mailto:someone@example.com</contact>
  </tuple>
  <note>I'll be in Tokyo next week</note>
</presence>)";

// RFC 4480 §3.3-style publication with an RPID person.
constexpr std::string_view kRpidExample = R"(<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
    entity="sip:presentity@example.com">
  <tuple id="t1">
    <status><basic>open</basic></status>
    <contact>sip:presentity@pc.example.com</contact>
  </tuple>
  <dm:person id="p1">
    <rpid:activities><rpid:meeting/></rpid:activities>
    <dm:note>In a meeting</dm:note>
  </dm:person>
</presence>)";

std::string pidf(std::string_view entity, std::string_view inner, PidfFlavor flavor = PidfFlavor::kPidf) {
  return std::string(R"(<?xml version="1.0" encoding="UTF-8"?><presence xmlns=")") +
         std::string(namespace_of(flavor)) + R"(" entity=")" + std::string(entity) + R"(">)" +
         std::string(inner) + "</presence>";
}

std::string tuple_xml(std::string_view id, std::string_view basic) {
  return R"(<tuple id=")" + std::string(id) + R"("><status><basic>)" + std::string(basic) +
         "</basic></status></tuple>";
}

PresenceDocument parse_ok(std::string_view body, std::string_view presentity = "") {
  auto parsed = parse_pidf(body, presentity);
  EXPECT_TRUE(parsed.ok()) << parsed.why() << "\n" << body;
  return parsed.value_or(PresenceDocument{});
}

TEST(Pidf, SeedCpimBodiesParse) {
  const auto bodies = seed_bodies();
  ASSERT_EQ(bodies.size(), 2U);
  const auto closed = parse_ok(bodies[0], "sip:poisson@probability.org");
  EXPECT_EQ(closed.flavor, PidfFlavor::kCpimPidf);
  EXPECT_EQ(closed.entity, "sip:poisson@probability.org");
  ASSERT_EQ(closed.tuples.size(), 1U);
  EXPECT_EQ(closed.tuples[0].id, "452426775");
  EXPECT_EQ(closed.tuples[0].basic, "closed");
  EXPECT_EQ(closed.tuples[0].contact, "");

  const auto open = parse_ok(bodies[1], "pres:poisson@probability.org");
  ASSERT_EQ(open.tuples.size(), 1U);
  EXPECT_EQ(open.tuples[0].basic, "open");
  EXPECT_EQ(open.tuples[0].contact, "sip:s.possion@dist.probability.org;transport=tcp");
}

TEST(Pidf, Rfc3863ExampleWithTwoTuples) {
  const auto doc = parse_ok(kRfc3863Example, "sip:someone@example.com");
  EXPECT_EQ(doc.flavor, PidfFlavor::kPidf);
  ASSERT_EQ(doc.tuples.size(), 2U);
  const auto& first = doc.tuples[0];
  EXPECT_EQ(first.id, "bs35r9");
  EXPECT_EQ(first.basic, "open");
  EXPECT_EQ(first.contact, "im:someone@mobilecarrier.net");
  ASSERT_TRUE(first.contact_priority.has_value());
  EXPECT_DOUBLE_EQ(*first.contact_priority, 0.8);
  EXPECT_EQ(first.note, "Don't Disturb Please!");
  EXPECT_EQ(first.timestamp, "2001-10-27T16:49:29Z");
  EXPECT_THAT(first.xml, HasSubstr("<im:im>busy</im:im>"));
  // The declarations of <presence> are the document's, not copied onto each tuple.
  EXPECT_THAT(first.xml, Not(HasSubstr("xmlns")));
  EXPECT_EQ(doc.namespaces, (std::vector<std::pair<std::string, std::string>>{
                                {"im", "urn:ietf:params:xml:ns:pidf:im"}, {"myex", "http://id.example.com/presence/"}}));
  EXPECT_EQ(doc.tuples[1].id, "eg92n8");
  EXPECT_DOUBLE_EQ(doc.tuples[1].contact_priority.value_or(0), 1.0);
  ASSERT_EQ(doc.notes.size(), 1U);
  EXPECT_EQ(doc.notes[0], "I'll be in Tokyo next week");
  EXPECT_TRUE(doc.extensions.empty());

  // Foreign status children survive compose.
  const auto out = compose("pres:someone@example.com", {doc}, PidfFlavor::kPidf);
  EXPECT_THAT(out, HasSubstr("<im:im>busy</im:im>"));
  EXPECT_THAT(out, HasSubstr("<myex:location>home</myex:location>"));
  const auto again = parse_ok(out, "sip:someone@example.com");
  EXPECT_EQ(again.tuples.size(), 2U);
}

TEST(Pidf, PrefixedPidfNamespace) {
  const auto doc = parse_ok(R"(<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" entity="sip:a@b.c">
      <p:tuple id="x"><p:status><p:basic>closed</p:basic></p:status></p:tuple></p:presence>)");
  ASSERT_EQ(doc.tuples.size(), 1U);
  EXPECT_EQ(doc.tuples[0].basic, "closed");
  const auto converted = compose("sip:a@b.c", {doc}, PidfFlavor::kCpimPidf);
  const auto again = parse_ok(converted);
  EXPECT_EQ(again.flavor, PidfFlavor::kCpimPidf);
  ASSERT_EQ(again.tuples.size(), 1U);
  EXPECT_EQ(again.tuples[0].basic, "closed");
  EXPECT_THAT(converted, Not(HasSubstr("\"urn:ietf:params:xml:ns:pidf\"")));
}

TEST(Pidf, RpidPersonSurvivesParseAndCompose) {
  const auto doc = parse_ok(kRpidExample, "sip:presentity@example.com");
  ASSERT_EQ(doc.extensions.size(), 1U);
  EXPECT_THAT(doc.extensions[0], StartsWith("<dm:person"));
  EXPECT_EQ(doc.namespaces.size(), 2U);

  for (const auto flavor : {PidfFlavor::kPidf, PidfFlavor::kCpimPidf}) {
    const auto out = compose("sip:presentity@example.com", {doc}, flavor);
    const auto again = parse_ok(out, "sip:presentity@example.com");
    EXPECT_EQ(again.flavor, flavor);
    ASSERT_EQ(again.extensions.size(), 1U) << out;
    EXPECT_THAT(again.extensions[0], HasSubstr("<rpid:activities><rpid:meeting/></rpid:activities>"));
    EXPECT_THAT(again.extensions[0], HasSubstr("<dm:note>In a meeting</dm:note>"));
    // Declared once, on the composed <presence>.
    EXPECT_THAT(out, HasSubstr(R"(xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid")"));
    EXPECT_THAT(out, HasSubstr(R"(xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model")"));
    EXPECT_EQ(again.namespaces.size(), 2U);
  }
}

TEST(Pidf, MalformedXml) {
  const auto parsed = parse_pidf("<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='a'>", "");
  ASSERT_TRUE(parsed.malformed());
  EXPECT_THAT(std::string(parsed.why()), StartsWith("malformed XML: "));
  EXPECT_GT(parsed.why().size(), std::string_view("malformed XML: ").size());

  EXPECT_TRUE(parse_pidf("", "").malformed());
  EXPECT_THAT(std::string(parse_pidf("not xml at all", "").why()), StartsWith("malformed XML"));
}

TEST(Pidf, WrongNamespaceOrRoot) {
  EXPECT_EQ(parse_pidf(R"(<presence xmlns="urn:example:other" entity="sip:a@b.c"/>)", "").why(),
            "not a PIDF document");
  EXPECT_EQ(parse_pidf(R"(<presence entity="sip:a@b.c"/>)", "").why(), "not a PIDF document");
  EXPECT_EQ(parse_pidf(R"(<status xmlns="urn:ietf:params:xml:ns:pidf"/>)", "").why(), "not a PIDF document");
}

TEST(Pidf, EntityMustMatchPresentity) {
  const auto body = pidf("sip:alice@example.com", tuple_xml("a", "open"));
  EXPECT_TRUE(parse_pidf(body, "sip:alice@example.com").ok());
  EXPECT_TRUE(parse_pidf(body, "sip:alice@EXAMPLE.com").ok());
  EXPECT_TRUE(parse_pidf(body, "pres:alice@example.com").ok());
  EXPECT_TRUE(parse_pidf(body, "").ok());
  EXPECT_EQ(parse_pidf(body, "sip:bob@example.com").why(), "entity does not match the presentity");
  EXPECT_EQ(parse_pidf(body, "sip:alice@example.org").why(), "entity does not match the presentity");

  const auto pres_body = pidf("pres:alice@example.com", tuple_xml("a", "open"));
  EXPECT_TRUE(parse_pidf(pres_body, "sip:alice@example.com").ok());
  EXPECT_TRUE(parse_pidf(pres_body, "PRES:alice@example.com").ok());
  EXPECT_EQ(parse_pidf(pidf("", tuple_xml("a", "open")), "sip:alice@example.com").why(),
            "entity does not match the presentity");
}

TEST(Pidf, TupleErrors) {
  EXPECT_EQ(parse_pidf(pidf("sip:a@b.c", "<tuple><status><basic>open</basic></status></tuple>"), "").why(),
            "tuple without id");
  EXPECT_EQ(parse_pidf(pidf("sip:a@b.c", tuple_xml("a", "busy")), "").why(), "basic must be open or closed");
  const auto no_basic = parse_ok(pidf("sip:a@b.c", R"(<tuple id="a"><status/></tuple>)"));
  ASSERT_EQ(no_basic.tuples.size(), 1U);
  EXPECT_EQ(no_basic.tuples[0].basic, "");
}

TEST(Pidf, FlavorOfContentType) {
  EXPECT_EQ(flavor_of("application/pidf+xml"), PidfFlavor::kPidf);
  EXPECT_EQ(flavor_of("Application/PIDF+XML ; charset=UTF-8"), PidfFlavor::kPidf);
  EXPECT_EQ(flavor_of("application/cpim-pidf+xml"), PidfFlavor::kCpimPidf);
  EXPECT_EQ(flavor_of("application/pidf-diff+xml"), std::nullopt);
  EXPECT_EQ(flavor_of("text/plain"), std::nullopt);
  EXPECT_EQ(flavor_of(""), std::nullopt);
  EXPECT_EQ(content_type_of(PidfFlavor::kPidf), "application/pidf+xml");
  EXPECT_EQ(content_type_of(PidfFlavor::kCpimPidf), "application/cpim-pidf+xml");
}

TEST(Pidf, ComposeMakesDuplicateTupleIdsUnique) {
  const auto older = parse_ok(pidf("sip:a@b.c", tuple_xml("t", "open") + tuple_xml("u", "open")));
  const auto newer = parse_ok(pidf("sip:a@b.c", tuple_xml("t", "closed") + tuple_xml("t-2", "open")));
  const auto out = compose("sip:a@b.c", {older, newer}, PidfFlavor::kPidf);
  const auto doc = parse_ok(out, "sip:a@b.c");
  ASSERT_EQ(doc.tuples.size(), 4U);
  EXPECT_EQ(doc.tuples[0].id, "t");
  EXPECT_EQ(doc.tuples[0].basic, "open");
  EXPECT_EQ(doc.tuples[1].id, "u");
  // The repeated "t" takes the first suffix no publication uses; "t-2" keeps its own name.
  EXPECT_EQ(doc.tuples[2].id, "t-3");
  EXPECT_EQ(doc.tuples[2].basic, "closed");
  EXPECT_EQ(doc.tuples[3].id, "t-2");
}

// Every id attribute in `xml`, in document order.
std::vector<std::string> ids_in(const std::string& xml) {
  std::vector<std::string> ids;
  constexpr std::string_view kId = " id=\"";
  for (auto at = xml.find(kId); at != std::string::npos; at = xml.find(kId, at + 1)) {
    const auto start = at + kId.size();
    ids.push_back(xml.substr(start, xml.find('"', start) - start));
  }
  return ids;
}

// XML requires ids to be unique in a document: persons and devices (RFC 4479) that two
// publications both call "p1" or "d1", and ids deeper down, are renamed too.
TEST(Pidf, EveryIdInAComposedDocumentIsUnique) {
  const std::string rpid = R"(<dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" id="p1">)"
                           R"(<dm:note>here</dm:note></dm:person>)"
                           R"(<dm:device xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" id="d1">)"
                           R"(<dm:deviceID>urn:x</dm:deviceID><x:y xmlns:x="urn:x" id="p1"/></dm:device>)";
  const auto a = parse_ok(pidf("sip:a@b.c", tuple_xml("p1", "open") + rpid));
  const auto b = parse_ok(pidf("sip:a@b.c", tuple_xml("d1", "closed") + rpid));
  const std::string out = compose("sip:a@b.c", {a, b, a}, PidfFlavor::kPidf);
  const std::vector<std::string> ids = ids_in(out);
  EXPECT_EQ(ids.size(), 12U) << out;
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << out;
  EXPECT_EQ(ids.front(), "p1");  // the first keeps its id
  EXPECT_TRUE(parse_pidf(out, "sip:a@b.c").ok());
}

TEST(Pidf, DocumentsBeyondTheDepthOrElementLimitAreRefused) {
  auto nested = [](int depth) {  // <presence> 1, the tuple 2, a chain, then <status><basic>
    std::string inner;
    for (int i = 0; i < depth - 4; ++i) inner += "<x:e xmlns:x=\"urn:x\">";
    inner += "<status><basic>open</basic></status>";
    for (int i = 0; i < depth - 4; ++i) inner += "</x:e>";
    return pidf("sip:a@b.c", "<tuple id=\"t\">" + inner + "</tuple>");
  };
  PidfLimits limits;
  limits.max_depth = 10;
  EXPECT_TRUE(parse_pidf(nested(10), "", limits).ok());
  auto deep = parse_pidf(nested(11), "", limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.why(), kTooDeep);
  EXPECT_EQ(parse_pidf(nested(6000), "").why(), kTooDeep);  // the attack: refused, not composed

  limits = {};
  limits.max_elements = 20;
  std::string many;
  for (int i = 0; i < 6; ++i) many += tuple_xml("t" + std::to_string(i), "open");  // 3 elements each
  EXPECT_TRUE(parse_pidf(pidf("sip:a@b.c", many), "", limits).ok());     // 19
  many += tuple_xml("t9", "open");
  EXPECT_EQ(parse_pidf(pidf("sip:a@b.c", many), "", limits).why(), kTooManyElements);  // 22
}

// pugixml reads what XML 1.0 forbids; a composed copy of it would not parse. Refused.
TEST(Pidf, RepeatedAttributesAndControlCharactersAreRefused) {
  EXPECT_EQ(parse_pidf(pidf("sip:a@b.c", tuple_xml("t", "open") +
                                              R"(<x:p xmlns:x="urn:x" id="p1" id="t"/>)"),
                       "")
                .why(),
            kRepeatedAttribute);
  EXPECT_EQ(parse_pidf(pidf("sip:a@b.c", tuple_xml("t", "open") + "<note>a\x02" "b</note>"), "").why(), kControlCharacter);
  EXPECT_EQ(parse_pidf(pidf("sip:a@b.c", tuple_xml("t", "open") + "<note>a&#2;b</note>"), "").why(), kControlCharacter);
  EXPECT_EQ(parse_pidf(pidf("sip:a@b.c", R"(<tuple id="t&#x1f;"><status><basic>open</basic></status></tuple>)"), "")
                .why(),
            kControlCharacter);
  EXPECT_TRUE(parse_pidf(pidf("sip:a@b.c", tuple_xml("t", "open") + "<note>tab\tand\nnewline</note>"), "").ok());
}

// The declarations of each publication's <presence> go once onto the composed one, not onto
// every tuple and extension (100 declarations and 100 tuples made 3 KB into 141 KB).
TEST(Pidf, NamespaceDeclarationsAreMadeOnceNotPerElement) {
  std::string declarations;
  std::string body;
  for (int i = 0; i < 100; ++i) {
    declarations += " xmlns:a" + std::to_string(i) + "=\"urn:example:" + std::to_string(i) + "\"";
    body += tuple_xml("t" + std::to_string(i), "open");
  }
  const std::string text = R"(<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf")" +
                           declarations + R"( entity="sip:a@b.c">)" + body +
                           R"(<a7:x id="e1"><a8:y/></a7:x></presence>)";
  const auto doc = parse_ok(text);
  EXPECT_EQ(doc.namespaces.size(), 100U);
  const std::string out = compose("sip:a@b.c", {doc, doc}, PidfFlavor::kPidf);
  EXPECT_LT(out.size(), 3 * text.size()) << out.size();
  EXPECT_NE(out.find(R"(xmlns:a99="urn:example:99")"), std::string::npos);
  const auto again = parse_ok(out);
  EXPECT_EQ(again.tuples.size(), 200U);
  ASSERT_EQ(again.extensions.size(), 2U);  // a7:x is still outside the PIDF namespace
}

// Two publications binding one prefix to two namespaces: the later one's is renamed throughout
// its elements, so each element keeps its namespace.
TEST(Pidf, APrefixBoundTwoWaysIsRenamedInTheLaterPublication) {
  auto doc_with = [](std::string_view uri, std::string_view id) {
    return parse_ok(R"(<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" )"
                    R"(xmlns:x=")" + std::string(uri) + R"(" entity="sip:a@b.c">)" + tuple_xml(id, "open") +
                    R"(<x:thing id="e)" + std::string(id) + R"(" x:attr="1"><x:inner/></x:thing></presence>)");
  };
  const std::string out = compose("sip:a@b.c", {doc_with("urn:one", "1"), doc_with("urn:two", "2")}, PidfFlavor::kPidf);
  EXPECT_NE(out.find(R"(xmlns:x="urn:one")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(xmlns:x-2="urn:two")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(<x-2:thing id="e2" x-2:attr="1">)"), std::string::npos) << out;
  EXPECT_NE(out.find("<x-2:inner"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(<x:thing id="e1" x:attr="1">)"), std::string::npos) << out;
  // The same binding twice is declared once.
  const std::string same = compose("sip:a@b.c", {doc_with("urn:one", "1"), doc_with("urn:one", "2")}, PidfFlavor::kPidf);
  EXPECT_EQ(same.find("x-2"), std::string::npos) << same;
}

// The composed document grows linearly with what it is made of, however deep (an indented
// one grew with the square of the depth: 120 KB of PUBLISH bodies made a 110 MB NOTIFY).
TEST(Pidf, ComposedOutputGrowsLinearly) {
  PidfLimits unlimited;
  unlimited.max_depth = 100000;
  unlimited.max_elements = 100000;
  std::string inner = "<status><basic>open</basic></status>";
  for (int i = 0; i < 6000; ++i) inner = "<x:e xmlns:x=\"urn:x\">" + inner + "</x:e>";
  const std::string body = pidf("sip:a@b.c", "<tuple id=\"t\">" + inner + "</tuple>");
  auto doc = parse_pidf(body, "", unlimited);
  ASSERT_TRUE(doc.ok()) << doc.why();
  const std::string out = compose("sip:a@b.c", {doc.value(), doc.value(), doc.value()}, PidfFlavor::kPidf);
  EXPECT_LT(out.size(), 2 * 3 * body.size()) << "input " << body.size() << " bytes, output " << out.size();
  EXPECT_EQ(out.find("  <"), std::string::npos) << "no indentation";
}

TEST(Pidf, NewestNotesWin) {
  const auto older = parse_ok(pidf("sip:a@b.c", tuple_xml("a", "open") + "<note>old</note>"));
  const auto newer = parse_ok(pidf("sip:a@b.c", tuple_xml("b", "open") + "<note>new</note><note>newer</note>"));
  const auto silent = parse_ok(pidf("sip:a@b.c", tuple_xml("c", "open")));
  auto doc = parse_ok(compose("sip:a@b.c", {older, newer}, PidfFlavor::kPidf));
  EXPECT_EQ(doc.notes, (std::vector<std::string>{"new", "newer"}));
  doc = parse_ok(compose("sip:a@b.c", {newer, older}, PidfFlavor::kPidf));
  EXPECT_EQ(doc.notes, (std::vector<std::string>{"old"}));
  // A newest publication without notes leaves the last notes standing.
  doc = parse_ok(compose("sip:a@b.c", {older, silent}, PidfFlavor::kPidf));
  EXPECT_EQ(doc.notes, (std::vector<std::string>{"old"}));
}

TEST(Pidf, ExtensionsOfAllPublicationsKeptNewestLast) {
  const auto older = parse_ok(kRpidExample);
  const auto newer = parse_ok(pidf("sip:presentity@example.com",
                                   tuple_xml("t2", "open") +
                                       R"(<dm:device xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" id="d1"/>)"));
  const auto doc = parse_ok(compose("sip:presentity@example.com", {older, newer}, PidfFlavor::kPidf));
  ASSERT_EQ(doc.extensions.size(), 2U);
  EXPECT_THAT(doc.extensions[0], StartsWith("<dm:person"));
  EXPECT_THAT(doc.extensions[1], StartsWith("<dm:device"));
}

TEST(Pidf, FlavorConversionBothWays) {
  const auto seed = parse_ok(seed_bodies().at(1));
  const auto as_pidf = compose("sip:poisson@probability.org", {seed}, PidfFlavor::kPidf);
  EXPECT_THAT(as_pidf, HasSubstr(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:poisson@probability.org">)"));
  EXPECT_THAT(as_pidf, Not(HasSubstr("cpim-pidf")));
  const auto pidf_doc = parse_ok(as_pidf, "sip:poisson@probability.org");
  EXPECT_EQ(pidf_doc.flavor, PidfFlavor::kPidf);
  ASSERT_EQ(pidf_doc.tuples.size(), 1U);
  EXPECT_EQ(pidf_doc.tuples[0].basic, "open");
  EXPECT_EQ(pidf_doc.tuples[0].contact, "sip:s.possion@dist.probability.org;transport=tcp");

  const auto back = compose("sip:poisson@probability.org", {pidf_doc}, PidfFlavor::kCpimPidf);
  EXPECT_THAT(back, HasSubstr(R"(xmlns="urn:ietf:params:xml:ns:cpim-pidf")"));
  EXPECT_THAT(back, Not(HasSubstr("\"urn:ietf:params:xml:ns:pidf\"")));
  const auto cpim_doc = parse_ok(back);
  EXPECT_EQ(cpim_doc.flavor, PidfFlavor::kCpimPidf);
  ASSERT_EQ(cpim_doc.tuples.size(), 1U);
  EXPECT_EQ(cpim_doc.tuples[0].basic, "open");
}

TEST(Pidf, ComposeOutputShapeAndDeterminism) {
  const auto doc = parse_ok(kRfc3863Example);
  const auto out = compose("sip:someone@example.com", {doc}, PidfFlavor::kPidf);
  EXPECT_THAT(out, StartsWith(R"(<?xml version="1.0" encoding="UTF-8"?>)"));
  EXPECT_THAT(out, HasSubstr(R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:someone@example.com" )"
                             R"(xmlns:im="urn:ietf:params:xml:ns:pidf:im" xmlns:myex="http://id.example.com/presence/">)"));
  EXPECT_EQ(out, compose("sip:someone@example.com", {doc}, PidfFlavor::kPidf));
  EXPECT_TRUE(parse_pidf(out, "sip:someone@example.com").ok());
  EXPECT_TRUE(parse_pidf(compose("sip:someone@example.com", {}, PidfFlavor::kPidf), "").ok());
}

TEST(Pidf, ComposeFromHandBuiltTuple) {
  PresenceDocument doc;
  Tuple tuple;
  tuple.id = "hand";
  tuple.basic = "open";
  tuple.contact = "sip:a@10.0.0.1";
  tuple.contact_priority = 0.5;
  tuple.note = "at <desk> & \"busy\"";
  tuple.timestamp = "2024-01-01T00:00:00Z";
  doc.tuples.push_back(tuple);
  const auto again = parse_ok(compose("sip:a@b.c", {doc}, PidfFlavor::kPidf));
  ASSERT_EQ(again.tuples.size(), 1U);
  EXPECT_EQ(again.tuples[0].contact, "sip:a@10.0.0.1");
  EXPECT_DOUBLE_EQ(again.tuples[0].contact_priority.value_or(0), 0.5);
  EXPECT_EQ(again.tuples[0].note, "at <desk> & \"busy\"");
  EXPECT_EQ(again.tuples[0].timestamp, "2024-01-01T00:00:00Z");
}

TEST(Pidf, SpecialCharactersEscaped) {
  PresenceDocument doc;
  doc.notes = {"Tom & Jerry <3 \"quotes\" 'apos'"};
  const std::string entity = "sip:a&b@example.com";
  const auto out = compose(entity, {doc}, PidfFlavor::kPidf);
  EXPECT_THAT(out, HasSubstr("Tom &amp; Jerry &lt;3"));
  EXPECT_THAT(out, HasSubstr(R"(entity="sip:a&amp;b@example.com")"));
  const auto again = parse_ok(out);
  EXPECT_EQ(again.entity, entity);
  ASSERT_EQ(again.notes.size(), 1U);
  EXPECT_EQ(again.notes[0], doc.notes[0]);

  const auto parsed = parse_ok(pidf("sip:a@b.c", tuple_xml("a", "open") + "<note>x &lt; y &amp; z</note>"));
  EXPECT_EQ(parsed.notes.at(0), "x < y & z");
  const auto recomposed = compose("sip:a@b.c", {parsed}, PidfFlavor::kPidf);
  EXPECT_THAT(recomposed, HasSubstr("x &lt; y &amp; z"));
}

TEST(Pidf, ComposeFromRegistration) {
  const std::vector<std::string> contacts = {"sip:alice@10.0.0.1:5060", "sip:alice@10.0.0.2;transport=tcp"};
  const auto out = compose_from_registration("sip:alice@example.com", contacts, PidfFlavor::kPidf);
  const auto doc = parse_ok(out, "sip:alice@example.com");
  ASSERT_EQ(doc.tuples.size(), 2U);
  for (std::size_t i = 0; i < contacts.size(); ++i) {
    EXPECT_EQ(doc.tuples[i].basic, "open");
    EXPECT_EQ(doc.tuples[i].contact, contacts[i]);
  }
  EXPECT_NE(doc.tuples[0].id, doc.tuples[1].id);
  EXPECT_EQ(out, compose_from_registration("sip:alice@example.com", contacts, PidfFlavor::kPidf));
  // Ids follow the contact, not its position.
  const auto one = parse_ok(compose_from_registration("sip:alice@example.com", {contacts[1]}, PidfFlavor::kPidf));
  EXPECT_EQ(one.tuples.at(0).id, doc.tuples[1].id);

  const auto offline = parse_ok(compose_from_registration("sip:alice@example.com", {}, PidfFlavor::kCpimPidf));
  EXPECT_EQ(offline.flavor, PidfFlavor::kCpimPidf);
  ASSERT_EQ(offline.tuples.size(), 1U);
  EXPECT_EQ(offline.tuples[0].basic, "closed");
  EXPECT_EQ(offline.tuples[0].contact, "");
}

TEST(Pidf, ComposeClosed) {
  const auto out = compose_closed("sip:bob@example.com", PidfFlavor::kPidf);
  EXPECT_EQ(out, compose_closed("sip:bob@example.com", PidfFlavor::kPidf));
  const auto doc = parse_ok(out, "sip:bob@example.com");
  ASSERT_EQ(doc.tuples.size(), 1U);
  EXPECT_EQ(doc.tuples[0].basic, "closed");
  EXPECT_TRUE(doc.notes.empty());
  EXPECT_TRUE(doc.extensions.empty());
}

}  // namespace
}  // namespace herald::services::presence
