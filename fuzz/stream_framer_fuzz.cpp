// libFuzzer target: the TCP stream framer (sip/transport/stream_framer.h), fed the way
// TcpConnection::process_input feeds it: reads are appended to one buffer, next() is called
// on the unconsumed part until it needs more, and what was consumed is erased afterwards.
//
// Input: byte 0 picks the limits (small, so that both are reached), byte 1 says how many of
// the following bytes are read sizes (cycled; 0 is a read of nothing, i.e. next() again on
// the same bytes); the rest is the stream. The stream is framed three times: in one read,
// in the reads the input chose, and one byte a read.
//
// Aborts (so libFuzzer reports the input) when a property of the contract does not hold:
//   - consumed never exceeds the bytes given; kNeedMore consumes nothing, kComplete something;
//   - a message is a prefix of the bytes given, its header block a prefix of it ending at the
//     first empty line (a line ending in LF, with or without CR: CRLFCRLF, LFLF, LFCRLF), the
//     header block within max_header_bytes and the body within max_body_bytes; a ping is
//     CRLFCRLF, an empty line CRLF;
//   - kBad names an error, repeats itself on the same or more bytes until reset(), and its
//     header block is what the contract says (the complete block, or the first
//     max_header_bytes bytes for kHeaderTooLarge);
//   - next() again on the same bytes after kNeedMore says kNeedMore again;
//   - the frames and errors (what, where, how long) and the bytes left over are the same
//     whatever the read sizes were;
//   - parse_message() on a framed message that it accepts without a defect sees the same body
//     as the framer: the framer and the parser agree on where the message ends, bare LF line
//     ends included (they did not, and a bare LF moved the next message's boundary).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sip/msg/message.h"
#include "sip/transport/stream_framer.h"

namespace herald::sip::transport {
namespace {

constexpr std::array<std::size_t, 8> kHeaderLimits = {1, 4, 16, 40, 64, 128, 512, 16 * 1024};
constexpr std::array<std::size_t, 8> kBodyLimits = {0, 1, 4, 16, 64, 256, 1024, 64 * 1024};
constexpr std::string_view kEndOfHeaders = "\r\n\r\n";

void check(bool condition) {
  if (!condition) std::abort();
}

// A view lies inside (and at the front of) `outer`.
bool is_prefix_of(std::string_view part, std::string_view outer) {
  return part.empty() || (part.data() == outer.data() && part.size() <= outer.size());
}

// What happened at one place in the stream; kNeedMore is not recorded (it depends on the reads).
struct Event {
  FrameStatus status;
  FrameKind kind;
  std::size_t at;  // stream offset of the first byte given to next()
  std::size_t consumed;
  std::size_t header_bytes;
  FrameError error;
  bool header_complete;
  bool operator==(const Event&) const = default;
};

struct Outcome {
  std::vector<Event> events;
  std::size_t left_over = 0;  // unconsumed bytes at the end of the stream (0 after kBad)
  bool operator==(const Outcome&) const = default;
};

// Where the first empty line ends (just past it), npos if none: LF, then LF or CRLF.
std::size_t first_header_end(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\n') continue;
    if (i + 1 < s.size() && s[i + 1] == '\n') return i + 2;
    if (i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

// The framer and the message parser agree on the body of a framed message (see the top).
void check_against_parser(std::string_view header_block, std::string_view message) {
  auto parsed = parse_message(std::string(message));
  if (!parsed || !parsed->defect().empty()) return;
  check(parsed->body() == message.substr(header_block.size()));
}

// Checks one frame against the bytes it was given.
void check_frame(const Frame& f, std::string_view given, const FramerLimits& limits) {
  check(f.consumed <= given.size());
  check(is_prefix_of(f.header_block, given));
  switch (f.status) {
    case FrameStatus::kNeedMore:
      check(f.consumed == 0 && f.message.empty() && f.error == FrameError::kNone);
      break;
    case FrameStatus::kComplete:
      check(f.consumed > 0 && f.error == FrameError::kNone);
      if (f.kind == FrameKind::kPing) {
        check(f.consumed == 4 && given.starts_with(kEndOfHeaders) && f.message.empty());
      } else if (f.kind == FrameKind::kEmptyLine) {
        check(f.consumed == 2 && given.starts_with("\r\n") && f.message.empty());
      } else {
        check(f.message.size() == f.consumed && is_prefix_of(f.message, given));
        check(f.header_complete && is_prefix_of(f.header_block, f.message));
        check(f.header_block.size() >= 2 && f.header_block.size() <= limits.max_header_bytes);
        check(first_header_end(f.header_block) == f.header_block.size());
        check(f.message.size() - f.header_block.size() <= limits.max_body_bytes);
        check(!f.message.starts_with("\r\n"));  // that would have been a ping or an empty line
        check_against_parser(f.header_block, f.message);
      }
      break;
    case FrameStatus::kBad:
      check(f.consumed == 0 && f.message.empty() && f.error != FrameError::kNone);
      if (f.error == FrameError::kHeaderTooLarge) {
        // No empty line ends a header block within the limit.
        check(!f.header_complete && f.header_block.size() == limits.max_header_bytes);
        check(given.size() >= limits.max_header_bytes);
        const std::size_t end = first_header_end(given);
        check(end == std::string_view::npos || end > limits.max_header_bytes);
      } else {
        check(f.header_complete && f.header_block.size() <= limits.max_header_bytes);
        check(first_header_end(f.header_block) == f.header_block.size());
      }
      break;
  }
}

// Frames `stream` read in pieces of `reads` bytes (cycled), as TcpConnection does.
Outcome frame_stream(std::string_view stream, const std::vector<std::size_t>& reads,
                     const FramerLimits& limits) {
  StreamFramer framer(limits);
  Outcome outcome;
  std::string inbox;
  std::size_t inbox_at = 0;  // stream offset of inbox[0]
  std::size_t read = 0;      // bytes of the stream read so far
  for (std::size_t r = 0; read < stream.size(); ++r) {
    const std::size_t n = std::min(reads[r % reads.size()], stream.size() - read);
    inbox.append(stream.substr(read, n));
    read += n;
    std::size_t offset = 0;
    for (;;) {
      const std::string_view unframed = std::string_view(inbox).substr(offset);
      const Frame frame = framer.next(unframed);
      check_frame(frame, unframed, limits);
      if (frame.status == FrameStatus::kNeedMore) {
        const Frame again = framer.next(unframed);
        check(again.status == FrameStatus::kNeedMore);
        break;
      }
      const Event event{frame.status,        frame.kind,  inbox_at + offset,     frame.consumed,
                        frame.header_block.size(), frame.error, frame.header_complete};
      outcome.events.push_back(event);
      if (frame.status == FrameStatus::kBad) {
        // Sticky until reset(): the same answer on the same bytes and on the whole rest.
        const Frame same = framer.next(unframed);
        check(same.status == FrameStatus::kBad && same.error == frame.error &&
              same.header_complete == frame.header_complete &&
              same.header_block.size() == frame.header_block.size());
        std::string more(unframed);
        more.append(stream.substr(read));
        const Frame later = framer.next(more);
        check_frame(later, more, limits);
        check(later.status == FrameStatus::kBad && later.error == frame.error);
        framer.reset();
        return outcome;
      }
      offset += frame.consumed;
    }
    inbox.erase(0, offset);
    inbox_at += offset;
  }
  outcome.left_over = inbox.size();
  return outcome;
}

}  // namespace
}  // namespace herald::sip::transport

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace herald::sip::transport;
  if (size < 2) return 0;
  FramerLimits limits;
  limits.max_header_bytes = kHeaderLimits[data[0] & 7];
  limits.max_body_bytes = kBodyLimits[(data[0] >> 3) & 7];
  const std::size_t n_reads = std::min<std::size_t>(data[1] % 8, size - 2);
  std::vector<std::size_t> reads(data + 2, data + 2 + n_reads);
  bool any = false;
  for (std::size_t r : reads) any = any || r != 0;
  if (!any) reads.push_back(1);  // no read sizes, or only empty reads: one byte a read
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2 + n_reads, size - 2 - n_reads);

  const Outcome whole = frame_stream(stream, {stream.size() + 1}, limits);
  const Outcome chosen = frame_stream(stream, reads, limits);
  const Outcome bytewise = frame_stream(stream, {1}, limits);
  check(whole == chosen);
  check(whole == bytewise);
  return 0;
}
