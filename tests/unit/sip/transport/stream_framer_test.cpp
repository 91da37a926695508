#include "sip/transport/stream_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::sip::transport {
namespace {

std::string invite_message() {
  return "INVITE sip:bob@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK776asdhds\r\n"
         "Call-ID: a84b4c76e66710\r\n"
         "Content-Length: 5\r\n"
         "\r\n"
         "hello";
}

std::string options_message() {
  return "OPTIONS sip:example.com SIP/2.0\r\n"
         "l: 0\r\n"
         "\r\n";
}

struct Event {
  FrameKind kind;
  std::string message;
};

// Feeds `stream` in pieces of the given sizes the way a connection does: append, then take
// frames until need-more. Returns what came out, or the first error.
struct FeedResult {
  std::vector<Event> events;
  FrameError error = FrameError::kNone;
  std::string header_block;
  std::string left;
};

FeedResult feed(const std::string& stream, const std::vector<std::size_t>& cuts,
                FramerLimits limits = {}) {
  StreamFramer framer(limits);
  FeedResult run;
  std::string buffer;
  std::size_t pos = 0;
  auto pieces = cuts;
  pieces.push_back(stream.size());
  for (std::size_t cut : pieces) {
    buffer.append(stream, pos, cut - pos);
    pos = cut;
    for (int guard = 0; guard < 10000; ++guard) {
      const Frame frame = framer.next(buffer);
      if (frame.status == FrameStatus::kNeedMore) {
        EXPECT_EQ(frame.consumed, 0U);
        break;
      }
      if (frame.status == FrameStatus::kBad) {
        run.error = frame.error;
        run.header_block = std::string(frame.header_block);
        return run;
      }
      run.events.push_back({frame.kind, std::string(frame.message)});
      buffer.erase(0, frame.consumed);
    }
  }
  run.left = buffer;
  return run;
}

FeedResult feed_all(const std::string& stream, FramerLimits limits = {}) {
  return feed(stream, {}, limits);
}

std::vector<std::string> messages(const FeedResult& run) {
  std::vector<std::string> out;
  for (const auto& e : run.events) {
    if (e.kind == FrameKind::kMessage) out.push_back(e.message);
  }
  return out;
}

TEST(StreamFramerTest, OneMessage) {
  const FeedResult run = feed_all(invite_message());
  EXPECT_EQ(run.error, FrameError::kNone);
  EXPECT_EQ(messages(run), std::vector<std::string>{invite_message()});
  EXPECT_TRUE(run.left.empty());
}

TEST(StreamFramerTest, ReportsHeaderBlockAndConsumed) {
  StreamFramer framer;
  const std::string buffer = invite_message() + "OPT";
  const Frame frame = framer.next(buffer);
  ASSERT_EQ(frame.status, FrameStatus::kComplete);
  EXPECT_EQ(frame.kind, FrameKind::kMessage);
  EXPECT_EQ(frame.consumed, invite_message().size());
  EXPECT_EQ(frame.message, invite_message());
  EXPECT_TRUE(frame.header_complete);
  EXPECT_EQ(frame.header_block, invite_message().substr(0, invite_message().size() - 5));
}

TEST(StreamFramerTest, SplitAtEveryByteBoundary) {
  const std::string stream = invite_message() + options_message() + "\r\n\r\n" + invite_message();
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    const FeedResult run = feed(stream, {cut});
    ASSERT_EQ(run.error, FrameError::kNone) << "cut at " << cut;
    EXPECT_EQ(messages(run),
              (std::vector<std::string>{invite_message(), options_message(), invite_message()}))
        << cut;
    EXPECT_TRUE(run.left.empty()) << cut;
  }
}

TEST(StreamFramerTest, OneByteAtATime) {
  const std::string stream = options_message() + invite_message() + "\r\n\r\n";
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  const FeedResult run = feed(stream, cuts);
  ASSERT_EQ(run.error, FrameError::kNone);
  EXPECT_EQ(messages(run), (std::vector<std::string>{options_message(), invite_message()}));
  ASSERT_EQ(run.events.size(), 3U);
  EXPECT_EQ(run.events[2].kind, FrameKind::kPing);
}

TEST(StreamFramerTest, ManyMessagesInOneFeed) {
  std::string stream;
  for (int i = 0; i < 50; ++i) stream += (i % 2 == 0) ? invite_message() : options_message();
  const FeedResult run = feed_all(stream);
  ASSERT_EQ(run.error, FrameError::kNone);
  EXPECT_EQ(messages(run).size(), 50U);
}

TEST(StreamFramerTest, PingBetweenMessages) {
  const FeedResult run = feed_all("\r\n\r\n" + options_message() + "\r\n\r\n\r\n\r\n");
  ASSERT_EQ(run.events.size(), 4U);
  EXPECT_EQ(run.events[0].kind, FrameKind::kPing);
  EXPECT_EQ(run.events[1].kind, FrameKind::kMessage);
  EXPECT_EQ(run.events[2].kind, FrameKind::kPing);
  EXPECT_EQ(run.events[3].kind, FrameKind::kPing);
}

TEST(StreamFramerTest, PartialPingWaits) {
  StreamFramer framer;
  EXPECT_EQ(framer.next("\r").status, FrameStatus::kNeedMore);
  EXPECT_EQ(framer.next("\r\n").status, FrameStatus::kNeedMore);
  EXPECT_EQ(framer.next("\r\n\r").status, FrameStatus::kNeedMore);
  const Frame ping = framer.next("\r\n\r\n");
  EXPECT_EQ(ping.status, FrameStatus::kComplete);
  EXPECT_EQ(ping.kind, FrameKind::kPing);
  EXPECT_EQ(ping.consumed, 4U);
}

TEST(StreamFramerTest, LoneCrlfBeforeMessageIsSkipped) {
  const FeedResult run = feed_all("\r\n" + options_message());
  ASSERT_EQ(run.events.size(), 2U);
  EXPECT_EQ(run.events[0].kind, FrameKind::kEmptyLine);
  EXPECT_EQ(run.events[1].message, options_message());
}

TEST(StreamFramerTest, ContentLengthForms) {
  const std::vector<std::string> headers = {
      "Content-Length: 3",
      "content-length:3",
      "CONTENT-LENGTH   :   3  ",
      "l: 3",
      "L:3",
      "Content-Length:\r\n 3",
      "Content-Length:\r\n\t  3",
      "Content-Length: 3\r\nContent-Length: 3",
      "Content-Length: 003",
      "X-Length: 7\r\nl: 3",
  };
  for (const auto& h : headers) {
    const std::string msg = "MESSAGE sip:a@b SIP/2.0\r\n" + h + "\r\nTo: <sip:a@b>\r\n\r\nabc";
    const FeedResult run = feed_all(msg + options_message());
    ASSERT_EQ(run.error, FrameError::kNone) << h;
    EXPECT_EQ(messages(run), (std::vector<std::string>{msg, options_message()})) << h;
  }
}

TEST(StreamFramerTest, FoldedOtherHeaderDoesNotConfuse) {
  const std::string msg =
      "MESSAGE sip:a@b SIP/2.0\r\nSubject: hi\r\n Content-Length: 99\r\nContent-Length: "
      "2\r\n\r\nok";
  const FeedResult run = feed_all(msg);
  ASSERT_EQ(run.error, FrameError::kNone);
  EXPECT_EQ(messages(run), std::vector<std::string>{msg});
}

TEST(StreamFramerTest, MissingContentLength) {
  const std::string head = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n\r\n";
  const FeedResult run = feed_all(head);
  EXPECT_EQ(run.error, FrameError::kMissingContentLength);
  EXPECT_EQ(run.header_block, head);
}

TEST(StreamFramerTest, MalformedContentLength) {
  for (const std::string value : {"-1", "", "abc", "1 2", "+5", "0x10", "5;x"}) {
    const FeedResult run =
        feed_all("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: " + value + "\r\n\r\n");
    EXPECT_EQ(run.error, FrameError::kMalformedContentLength) << value;
  }
}

TEST(StreamFramerTest, ConflictingContentLength) {
  const FeedResult run = feed_all("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab");
  EXPECT_EQ(run.error, FrameError::kConflictingContentLength);
}

TEST(StreamFramerTest, HeaderTooLarge) {
  FramerLimits limits;
  limits.max_header_bytes = 64;
  const std::string big = "OPTIONS sip:a@b SIP/2.0\r\nX: " + std::string(100, 'x') + "\r\n\r\n";
  const FeedResult run = feed(big, {10, 40, 70}, limits);
  EXPECT_EQ(run.error, FrameError::kHeaderTooLarge);
  EXPECT_EQ(run.header_block, big.substr(0, 64));

  // Exactly at the limit is fine.
  const std::string fits = "OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n";
  limits.max_header_bytes = fits.size();
  EXPECT_EQ(feed_all(fits, limits).error, FrameError::kNone);
  limits.max_header_bytes = fits.size() - 1;
  EXPECT_EQ(feed_all(fits, limits).error, FrameError::kHeaderTooLarge);
}

TEST(StreamFramerTest, DefaultHeaderLimitIs16KiB) {
  const std::string big =
      "OPTIONS sip:a@b SIP/2.0\r\nX: " + std::string(std::size_t{17} * 1024, 'x');
  EXPECT_EQ(feed_all(big).error, FrameError::kHeaderTooLarge);
}

TEST(StreamFramerTest, BodyTooLarge) {
  const std::string head = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 65537\r\n\r\n";
  const FeedResult run = feed_all(head);
  EXPECT_EQ(run.error, FrameError::kBodyTooLarge);
  EXPECT_EQ(run.header_block, head);
  EXPECT_EQ(feed_all("MESSAGE sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n").error,
            FrameError::kBodyTooLarge);
  EXPECT_EQ(
      feed_all(std::string("MESSAGE sip:a@b SIP/2.0\r\nl: 65536\r\n\r\n") + std::string(65536, 'b'))
          .error,
      FrameError::kNone);
}

TEST(StreamFramerTest, ErrorIsSticky) {
  StreamFramer framer;
  const std::string bad = "OPTIONS sip:a@b SIP/2.0\r\n\r\n";
  EXPECT_EQ(framer.next(bad).status, FrameStatus::kBad);
  EXPECT_EQ(framer.next(bad + options_message()).error, FrameError::kMissingContentLength);
  framer.reset();
  EXPECT_EQ(framer.next(options_message()).status, FrameStatus::kComplete);
}

// The framer ends a header block where the message parser does: at the first empty line, a
// line ending with LF with or without CR before it. Framing only at CRLFCRLF let a bare LF
// move the next message's boundary (stream_framer_fuzz found it): "…Content-Length: 4\r\n\n
// ABCD" was framed with four bytes of the next request, which then began "ONS sip:".
TEST(StreamFramerTest, ABareLfEndsTheHeadersAsTheParserReadsThem) {
  const std::string odd = "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
                          "Content-Length: 4\r\n\nABCD";
  const std::string lf_only = "MESSAGE sip:bob@example.com SIP/2.0\nl: 2\n\nhi";
  const std::string stream = odd + options_message() + lf_only + options_message();
  for (const std::vector<std::size_t>& cuts :
       {std::vector<std::size_t>{}, std::vector<std::size_t>{odd.size() - 5, odd.size() - 4, odd.size() + 3}}) {
    const FeedResult run = feed(stream, cuts);
    EXPECT_EQ(run.error, FrameError::kNone);
    EXPECT_EQ(messages(run), (std::vector<std::string>{odd, options_message(), lf_only, options_message()}));
    EXPECT_TRUE(run.left.empty());
  }
  // Folded lines are no empty line.
  const std::string folded = "OPTIONS sip:a SIP/2.0\nX: a\n b\nContent-Length: 0\n\n";
  EXPECT_EQ(messages(feed_all(folded)), std::vector<std::string>{folded});
}

TEST(StreamFramerTest, ErrorNames) {
  EXPECT_EQ(to_string(FrameError::kBodyTooLarge), "message body too large");
}

}  // namespace
}  // namespace herald::sip::transport
