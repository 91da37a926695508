// RFC 4475 torture messages, table-driven: each file in tests/data/torture/ with the outcome the
// RFC gives at the message layer. Policy answers that depend on what a server supports
// (416, 420, 483 …) are asserted against the running server in tests/integration/.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "sip/msg/message.h"
#include "sip/msg/validate.h"

namespace herald::sip {
namespace {

enum class Outcome {
  kValidRequest,   // parses; check_request() passes
  kValidResponse,  // parses; response_usable()
  kReject,         // request answered with `code` and a reason containing `reason`
  kDrop,           // cannot be answered: the parse fails or the response is unusable
};

struct TortureCase {
  const char* file;
  Outcome outcome;
  int code = 0;
  const char* reason = "";
};

std::string read_torture(const std::string& name) {
  std::ifstream in(std::string(HERALD_TEST_DATA_DIR) + "/torture/" + name + ".dat", std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class Torture : public ::testing::TestWithParam<TortureCase> {};

TEST_P(Torture, OutcomeAsRfc4475Says) {
  const TortureCase& c = GetParam();
  std::string bytes = read_torture(c.file);
  ASSERT_FALSE(bytes.empty()) << HERALD_TEST_DATA_DIR << "/torture/" << c.file << ".dat is missing or empty";
  auto parsed = parse_message(bytes);
  switch (c.outcome) {
    case Outcome::kValidRequest: {
      ASSERT_TRUE(parsed.ok()) << parsed.why();
      auto check = check_request(*parsed);
      EXPECT_TRUE(check.ok()) << check.status_code << " " << check.reason;
      break;
    }
    case Outcome::kValidResponse:
      ASSERT_TRUE(parsed.ok()) << parsed.why();
      EXPECT_TRUE(response_usable(*parsed));
      break;
    case Outcome::kReject: {
      ASSERT_TRUE(parsed.ok()) << parsed.why();
      auto check = check_request(*parsed);
      EXPECT_EQ(check.status_code, c.code);
      EXPECT_NE(std::string(check.reason).find(c.reason), std::string::npos) << check.reason;
      break;
    }
    case Outcome::kDrop:
      EXPECT_TRUE(!parsed.ok() || (parsed->is_response() && !response_usable(*parsed)));
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rfc4475, Torture,
    ::testing::Values(
        // §3.1.1 valid messages
        TortureCase{"wsinv", Outcome::kValidRequest}, TortureCase{"intmeth", Outcome::kValidRequest},
        TortureCase{"esc01", Outcome::kValidRequest}, TortureCase{"escnull", Outcome::kValidRequest},
        TortureCase{"esc02", Outcome::kValidRequest}, TortureCase{"lwsdisp", Outcome::kValidRequest},
        TortureCase{"longreq", Outcome::kValidRequest}, TortureCase{"dblreq", Outcome::kValidRequest},
        TortureCase{"semiuri", Outcome::kValidRequest}, TortureCase{"transports", Outcome::kValidRequest},
        TortureCase{"mpart01", Outcome::kValidRequest}, TortureCase{"unreason", Outcome::kValidResponse},
        TortureCase{"noreason", Outcome::kValidResponse},
        // §3.1.2 invalid messages
        TortureCase{"badinv01", Outcome::kReject, 400, "Via"},
        TortureCase{"clerr", Outcome::kReject, 400, "Content-Length larger than body"},
        TortureCase{"scalar02", Outcome::kReject, 400, "CSeq"},
        TortureCase{"scalarlg", Outcome::kDrop},
        TortureCase{"quotbal", Outcome::kReject, 400, "To"},
        TortureCase{"ltgtruri", Outcome::kReject, 400, "Request-URI"},
        TortureCase{"lwsruri", Outcome::kReject, 400, "Request-Line"},
        TortureCase{"lwsstart", Outcome::kReject, 400, "Request-Line"},
        TortureCase{"trws", Outcome::kReject, 400, "Request-Line"},
        TortureCase{"escruri", Outcome::kReject, 400, "Request-URI"},
        // A non-GMT Date is malformed, but an element that does not use Date may ignore it
        // (RFC 4475 §3.1.2.11); Herald's core does not use Date. See DateIsMalformed below.
        TortureCase{"baddate", Outcome::kValidRequest},
        TortureCase{"regbadct", Outcome::kReject, 400, "Contact"},
        TortureCase{"badaspec", Outcome::kReject, 400, "To"},
        TortureCase{"baddn", Outcome::kReject, 400, "From"},
        TortureCase{"badvers", Outcome::kReject, 505, "Version"},
        TortureCase{"mismatch01", Outcome::kReject, 400, "CSeq method"},
        TortureCase{"mismatch02", Outcome::kReject, 400, "CSeq method"},
        TortureCase{"bigcode", Outcome::kDrop},
        TortureCase{"ncl", Outcome::kReject, 400, "Content-Length"},
        // §3.2 transaction layer: well formed (matching handles the bare cookie)
        TortureCase{"badbranch", Outcome::kValidRequest},
        // §3.3 application layer: well formed at this layer, except these
        TortureCase{"insuf", Outcome::kReject, 400, "Missing"},
        TortureCase{"multi01", Outcome::kReject, 400, "Multiple"},
        TortureCase{"mcl01", Outcome::kReject, 400, "Content-Length"},
        TortureCase{"unkscm", Outcome::kValidRequest}, TortureCase{"novelsc", Outcome::kValidRequest},
        TortureCase{"unksm2", Outcome::kValidRequest}, TortureCase{"bext01", Outcome::kValidRequest},
        TortureCase{"invut", Outcome::kValidRequest}, TortureCase{"regaut01", Outcome::kValidRequest},
        TortureCase{"bcast", Outcome::kValidResponse}, TortureCase{"zeromf", Outcome::kValidRequest},
        TortureCase{"cparam01", Outcome::kValidRequest}, TortureCase{"cparam02", Outcome::kValidRequest},
        TortureCase{"regescrt", Outcome::kValidRequest}, TortureCase{"sdp01", Outcome::kValidRequest},
        // §3.4 backward compatibility
        TortureCase{"inv2543", Outcome::kValidRequest}),
    [](const auto& test_info) { return std::string(test_info.param.file); });

Message torture(const char* name) {
  auto parsed = parse_message(read_torture(name));
  EXPECT_TRUE(parsed.ok()) << name << ": " << parsed.why();
  return std::move(parsed).value();
}

TEST(TortureFields, WsinvFoldedAndSpacedHeaders) {
  Message m = torture("wsinv");
  EXPECT_EQ(m.method(), Method::kInvite);
  auto to = m.get<hdr::To>();
  ASSERT_TRUE(to.ok()) << to.why();
  EXPECT_EQ(to->uri.host, "chair-dnrc.example.com");
  EXPECT_EQ(to->tag(), "1918181833n");
  auto from = m.get<hdr::From>();
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(from->display_name, R"(J Rosenberg \\\")");
  EXPECT_EQ(from->tag(), "98asjd8");
  EXPECT_EQ(m.get<hdr::MaxForwards>().value(), 68u);
  EXPECT_EQ(m.get<hdr::CSeq>()->number, 9u);
  EXPECT_EQ(m.get<hdr::CSeq>()->method, Method::kInvite);
  auto vias = m.get_all<hdr::Via>();
  ASSERT_TRUE(vias.ok()) << vias.why();
  ASSERT_EQ(vias->size(), 3u);
  EXPECT_EQ((*vias)[0].transport, "UDP");
  EXPECT_EQ((*vias)[0].host, "192.0.2.2");
  EXPECT_EQ((*vias)[0].branch(), "390skdjuw");
  EXPECT_FALSE((*vias)[0].rfc3261_branch());
  EXPECT_EQ((*vias)[1].transport, "TCP");
  EXPECT_EQ((*vias)[1].branch(), "z9hG4bK9ikj8");
  EXPECT_EQ((*vias)[2].host, "192.168.255.111");
  EXPECT_EQ((*vias)[2].branch(), "z9hG4bK30239");
  auto contact = m.get<hdr::Contact>();
  ASSERT_TRUE(contact.ok()) << contact.why();
  EXPECT_EQ(contact->address.display_name, R"(Quoted string \"\")");
  EXPECT_EQ(contact->q(), 330);
  EXPECT_EQ(contact->address.params.find("newparam"), "newvalue");
  EXPECT_EQ(m.find("NewFangledHeader")->value, "newfangled value continued newfangled value");
  EXPECT_EQ(m.find("UnknownHeaderWithUnusualValue")->value, ";;,,;;,;");
  EXPECT_EQ(m.find(HeaderId::kSubject)->value, "");
  EXPECT_EQ(m.get<hdr::Route>()->uri.host, "services.example.com");
  EXPECT_EQ(m.body().size(), 150u);
}

TEST(TortureFields, IntmethKeepsUnusualTokens) {
  Message m = torture("intmeth");
  EXPECT_EQ(m.method(), Method::kOther);
  EXPECT_EQ(m.method_name(), "!interesting-Method0123456789_*+`.%indeed'~");
  ASSERT_TRUE(m.request_uri().ok());
  EXPECT_EQ(m.request_uri()->user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  EXPECT_EQ(m.request_uri()->password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  EXPECT_EQ(m.get<hdr::CallId>().value(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  EXPECT_EQ(m.get<hdr::From>()->display_name, "token1~` token2'+_ token3*%!.-");
  EXPECT_EQ(m.get<hdr::From>()->tag(), "_token~1'+`*%!-.");
  EXPECT_NE(m.find("extensionHeader-!.%*+_`'~"), nullptr);
}

TEST(TortureFields, EscapesStayAsWrittenAndCompareUnescaped) {
  Message m = torture("esc01");
  EXPECT_EQ(m.request_uri()->user, "sips%3Auser%40example.com");
  EXPECT_EQ(unescape(m.request_uri()->user), "sips:user@example.com");
  EXPECT_EQ(unescape(m.get<hdr::To>()->uri.user), "user");
  Message esc02 = torture("esc02");
  EXPECT_EQ(esc02.method(), Method::kOther);  // RE%47IST%45R is not REGISTER
  EXPECT_EQ(esc02.count(HeaderId::kContact), 2u);  // C%6Fntact is an unknown header
  Message escnull = torture("escnull");
  EXPECT_EQ(unescape(escnull.get<hdr::To>()->uri.user), std::string("null-\0-null", 11));
}

TEST(TortureFields, LongreqHasManyVias) {
  Message m = torture("longreq");
  auto vias = m.get_all<hdr::Via>();
  ASSERT_TRUE(vias.ok());
  EXPECT_EQ(vias->size(), 34u);
  EXPECT_EQ(m.get<hdr::From>()->tag()->size(), 155u);
}

TEST(TortureFields, DblreqKeepsOnlyTheFirstRequest) {
  Message m = torture("dblreq");
  EXPECT_EQ(m.method(), Method::kRegister);
  EXPECT_TRUE(m.body().empty());
}

TEST(TortureFields, SemiuriUserHoldsSemicolon) {
  Message m = torture("semiuri");
  EXPECT_EQ(m.request_uri()->user, "user;par=u%40example.net");
  EXPECT_EQ(m.request_uri()->host, "example.com");
  EXPECT_FALSE(m.request_uri()->has_param("par"));
  auto accept = m.get_all<hdr::Accept>();
  ASSERT_TRUE(accept.ok());
  EXPECT_EQ(accept->size(), 6u);
}

TEST(TortureFields, NoreasonAndUnreasonStatusLines) {
  Message m = torture("noreason");
  EXPECT_EQ(m.status_code(), 100);
  EXPECT_EQ(m.reason_phrase(), "");
  Message u = torture("unreason");
  EXPECT_EQ(u.status_code(), 200);
  EXPECT_EQ(u.reason_phrase().substr(0, 14), "= 2**3 * 5**2 ");
}

TEST(TortureFields, UnknownSchemesParseAsOpaque) {
  EXPECT_EQ(torture("unkscm").request_uri()->scheme, UriScheme::kOther);
  Message novelsc = torture("novelsc");
  EXPECT_EQ(novelsc.request_uri()->scheme_name, "soap.beep");
  Message m = torture("unksm2");
  EXPECT_EQ(m.get<hdr::To>()->uri.scheme_name, "isbn");
  EXPECT_EQ(m.get<hdr::Contact>()->address.uri.opaque, "John_Smith");
}

TEST(TortureFields, DateIsMalformed) {
  EXPECT_TRUE(torture("baddate").get<hdr::Date>().malformed());
  EXPECT_TRUE(torture("mpart01").get<hdr::Date>().ok());
}

TEST(TortureFields, ContactParams) {
  Message m1 = torture("cparam01");
  auto c1 = m1.get<hdr::Contact>();
  EXPECT_TRUE(c1->address.params.has("unknownparam"));
  EXPECT_FALSE(c1->address.uri.has_param("unknownparam"));
  Message m2 = torture("cparam02");
  auto c2 = m2.get<hdr::Contact>();
  EXPECT_TRUE(c2->address.uri.has_param("unknownparam"));
  Message m3 = torture("regescrt");
  auto r = m3.get<hdr::Contact>();
  EXPECT_EQ(r->address.uri.headers, "Route=%3Csip:sip.example.com%3E");
}

TEST(TortureFields, RequireListsUnknownOptions) {
  Message m = torture("bext01");
  auto require = m.get_all<hdr::Require>();
  ASSERT_TRUE(require.ok());
  EXPECT_EQ(require->size(), 2u);
  EXPECT_EQ(m.get<hdr::MaxForwards>().value(), 6u);
  EXPECT_EQ(torture("zeromf").get<hdr::MaxForwards>().value(), 0u);
}

}  // namespace
}  // namespace herald::sip
