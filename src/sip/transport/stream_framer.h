#pragma once

#include <cstddef>
#include <string_view>

// Framing of SIP messages carried over a byte stream (RFC 3261 §18.3), with the RFC 5626 §3.5.1
// CRLF keep-alive. Pure: no I/O, no clock, no allocation. It does not parse SIP; it only finds
// where each message ends (header block + Content-Length body bytes).
namespace herald::sip::transport {

struct FramerLimits {
  std::size_t max_header_bytes = std::size_t{16} * 1024;  // start-line + headers + the empty line
  std::size_t max_body_bytes = std::size_t{64} * 1024;
};

enum class FrameStatus {
  kComplete,  // a frame of `kind` occupies the first `consumed` bytes
  kNeedMore,  // no frame yet; call again with the same bytes plus more; consumed == 0
  kBad,       // the stream cannot be framed; `error` says why; the connection should be closed
};

enum class FrameKind {
  kMessage,    // `message` is one complete SIP message (headers + body)
  kPing,       // CRLFCRLF between messages: answer with a single CRLF (the "pong")
  kEmptyLine,  // a lone CRLF between messages (or a pong): ignore it
};

enum class FrameError {
  kNone,
  kHeaderTooLarge,            // no end of header block within max_header_bytes  (→ 413 / 513)
  kBodyTooLarge,              // Content-Length above max_body_bytes               (→ 413)
  kMissingContentLength,      // mandatory on streams                               (→ 400)
  kMalformedContentLength,    // not 1*DIGIT (negative, empty, junk)                (→ 400)
  kConflictingContentLength,  // several Content-Length headers with different values (→ 400)
};

std::string_view to_string(FrameError error) noexcept;

// The outcome of one StreamFramer::next() call. The views point into the buffer given to next()
// and are valid as long as that buffer is unchanged.
struct Frame {
  FrameStatus status = FrameStatus::kNeedMore;
  FrameKind kind = FrameKind::kMessage;  // meaningful when status == kComplete
  std::size_t consumed = 0;              // bytes at the front of the buffer this frame used
  std::string_view message;              // kMessage: the whole message
  FrameError error = FrameError::kNone;  // kBad: why
  // kMessage and kBad: the header block (start-line, headers, empty line) when it is complete,
  // otherwise — only for kHeaderTooLarge — the first max_header_bytes bytes received.
  std::string_view header_block;
  bool header_complete = false;
};

// Finds message boundaries in a stream, in the manner of Asio's http/server2 request_parser.
//
// Contract: the caller keeps the unconsumed bytes of the stream in one buffer and calls next()
// with all of them. After kComplete it drops exactly `consumed` bytes from the front before the
// next call; after kNeedMore it calls again once more bytes are appended (the framer remembers
// how far it already scanned, so a byte-at-a-time stream costs linear time). After kBad the
// framer keeps answering the same error until reset(). One framer per connection; not
// thread-safe (it is used on its connection's io_context thread).
class StreamFramer {
 public:
  explicit StreamFramer(FramerLimits limits = {}) : limits_(limits) {}

  Frame next(std::string_view buffer);

  // Forget any partial progress (e.g. when the buffer is discarded).
  void reset() noexcept;

  const FramerLimits& limits() const noexcept { return limits_; }

 private:
  Frame bad(FrameError error, std::string_view header_block, bool header_complete);

  FramerLimits limits_;
  std::size_t scanned_ = 0;       // bytes already searched for the end of the header block
  std::size_t header_bytes_ = 0;  // length of the header block once found, else 0
  std::size_t body_bytes_ = 0;    // Content-Length once the header block is found
  FrameError error_ = FrameError::kNone;
  bool header_was_complete_ = false;
};

}  // namespace herald::sip::transport
