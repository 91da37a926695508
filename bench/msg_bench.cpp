// Micro-benchmarks of sip/msg on typical presence and registration traffic: parse, parse plus
// the typed reads a registrar makes, serialize, make_response. items/s is messages per second
// on one core; bytes/s counts the message's wire size.
//
// Copying the bytes is part of every parse: parse_message() takes ownership of a std::string,
// so each iteration copies the received bytes into a fresh std::string (one allocation and a
// memcpy), as the transport does when it hands a datagram over. A preallocated string cannot
// be reused here: parse_message() keeps its buffer for the Message's lifetime.
//
//   scripts/bench.sh                       (Release build, 5 repetitions, medians)
//   build/release/bench/msg_bench --benchmark_filter=Parse/REGISTER

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "sip/msg/message.h"
#include "sip/msg/validate.h"

namespace herald::sip {
namespace {

const std::string kRegister =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
    "To: \"Alice\" <sip:alice@example.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 REGISTER\r\n"
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600;"
    "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n"
    "Expires: 3600\r\n"
    "User-Agent: Herald-Bench/0.1 (Linux x86_64)\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH\r\n"
    "Supported: path, outbound, gruu\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

const std::string kSubscribe =
    "SUBSCRIBE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKsub4f2a91\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=ab12cd34\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: sub-3f2a9b7c11@192.0.2.10\r\n"
    "CSeq: 1 SUBSCRIBE\r\n"
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
    "Event: presence\r\n"
    "Accept: application/pidf+xml, application/rlmi+xml, multipart/related\r\n"
    "Expires: 3600\r\n"
    "User-Agent: Herald-Bench/0.1 (Linux x86_64)\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH\r\n"
    "Supported: eventlist\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

const std::string kPidf =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n"
    "    xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n"
    "    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n"
    "    entity=\"sip:bob@example.com\">\r\n"
    "  <tuple id=\"t8a7f3b1c\">\r\n"
    "    <status><basic>open</basic></status>\r\n"
    "    <contact priority=\"0.8\">sip:bob@198.51.100.20:5060</contact>\r\n"
    "    <timestamp>2024-05-14T09:21:07Z</timestamp>\r\n"
    "  </tuple>\r\n"
    "  <dm:person id=\"p1\">\r\n"
    "    <rpid:activities><rpid:busy/></rpid:activities>\r\n"
    "    <dm:timestamp>2024-05-14T09:21:07Z</dm:timestamp>\r\n"
    "  </dm:person>\r\n"
    "  <note xml:lang=\"en\">In a meeting until 11:00</note>\r\n"
    "</presence>\r\n";

std::string notify_message() {
  return "NOTIFY sip:alice@192.0.2.10:5060;transport=udp SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.51.100.1:5060;rport;branch=z9hG4bKnot77e1a\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:bob@example.com>;tag=ff99ee88\r\n"
         "To: <sip:alice@example.com>;tag=ab12cd34\r\n"
         "Call-ID: sub-3f2a9b7c11@192.0.2.10\r\n"
         "CSeq: 2 NOTIFY\r\n"
         "Contact: <sip:presence@198.51.100.1:5060>\r\n"
         "Event: presence\r\n"
         "Subscription-State: active;expires=3599\r\n"
         "User-Agent: Herald/0.1\r\n"
         "Content-Type: application/pidf+xml\r\n"
         "Content-Length: " +
         std::to_string(kPidf.size()) + "\r\n\r\n" + kPidf;
}
const std::string kNotify = notify_message();

const std::string kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKmsg19a8b\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=49583a\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: asd88asd77a@192.0.2.10\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "User-Agent: Herald-Bench/0.1 (Linux x86_64)\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 39\r\n"
    "\r\n"
    "Are we still on for lunch at noon? -- A";

Message parsed(const std::string& wire) {
  auto p = parse_message(wire);
  if (!p || !p->defect().empty() || !check_request(*p).ok()) {
    std::cerr << "msg_bench: benchmark message does not parse cleanly: " << p.why() << "\n";
    std::abort();
  }
  return std::move(p).value();
}

void count(benchmark::State& state, const std::string& wire) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}

// parse_message only (including the copy of the bytes into the string it takes over).
void BM_Parse(benchmark::State& state, const std::string* wire) {
  parsed(*wire);
  for (auto _ : state) {
    std::string bytes(*wire);
    auto m = parse_message(std::move(bytes));
    benchmark::DoNotOptimize(m);
  }
  count(state, *wire);
}

// parse_message plus the typed reads a registrar makes: top Via, From, To, Call-ID, CSeq,
// every Contact and Expires.
void BM_ParseRegistrarReads(benchmark::State& state, const std::string* wire) {
  parsed(*wire);
  for (auto _ : state) {
    std::string bytes(*wire);
    auto p = parse_message(std::move(bytes));
    const Message& m = *p;
    auto via = m.get<hdr::Via>();
    benchmark::DoNotOptimize(via->branch());
    auto from = m.get<hdr::From>();
    benchmark::DoNotOptimize(from->tag());
    auto to = m.get<hdr::To>();
    benchmark::DoNotOptimize(to->uri.host);
    auto call_id = m.get<hdr::CallId>();
    benchmark::DoNotOptimize(call_id);
    auto cseq = m.get<hdr::CSeq>();
    benchmark::DoNotOptimize(cseq->number);
    std::uint32_t expires = 0;
    m.for_each<hdr::Contact>([&](const ContactValue& c) {
      expires += c.expires().value_or(0);
      return true;
    });
    benchmark::DoNotOptimize(expires);
    auto header_expires = m.get<hdr::Expires>();
    benchmark::DoNotOptimize(header_expires);
  }
  count(state, *wire);
}

// parse_message + check_request(): what every request goes through before it is handled.
void BM_ParseCheck(benchmark::State& state, const std::string* wire) {
  parsed(*wire);
  for (auto _ : state) {
    auto p = parse_message(std::string(*wire));
    auto check = check_request(*p);
    benchmark::DoNotOptimize(check);
  }
  count(state, *wire);
}

// serialize_to() into a reused output string (its capacity stays after the first pass).
void BM_Serialize(benchmark::State& state, const std::string* wire) {
  Message m = parsed(*wire);
  std::string out;
  for (auto _ : state) {
    out.clear();
    serialize_to(m, out);
    benchmark::DoNotOptimize(out.data());
  }
  count(state, *wire);
}

// make_response(200, with a To tag) alone, then followed by serialize() into a new string.
void BM_MakeResponse(benchmark::State& state, const std::string* wire) {
  Message m = parsed(*wire);
  for (auto _ : state) {
    Message r = make_response(m, 200, "", "37GkEhwl6");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_MakeResponseSerialize(benchmark::State& state, const std::string* wire) {
  Message m = parsed(*wire);
  for (auto _ : state) {
    std::string out = serialize(make_response(m, 200, "", "37GkEhwl6"));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

#define HERALD_MSG_BENCH(fn)                       \
  BENCHMARK_CAPTURE(fn, REGISTER, &kRegister);     \
  BENCHMARK_CAPTURE(fn, SUBSCRIBE, &kSubscribe);   \
  BENCHMARK_CAPTURE(fn, NOTIFY_PIDF, &kNotify);    \
  BENCHMARK_CAPTURE(fn, MESSAGE, &kMessage)

HERALD_MSG_BENCH(BM_Parse);
HERALD_MSG_BENCH(BM_ParseRegistrarReads);
HERALD_MSG_BENCH(BM_ParseCheck);
HERALD_MSG_BENCH(BM_Serialize);
HERALD_MSG_BENCH(BM_MakeResponse);
HERALD_MSG_BENCH(BM_MakeResponseSerialize);

}  // namespace
}  // namespace herald::sip
