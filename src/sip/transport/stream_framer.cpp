#include "sip/transport/stream_framer.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace herald::sip::transport {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kEndOfHeaders = "\r\n\r\n";

bool is_wsp(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_content_length_name(std::string_view name) noexcept {
  return iequals(name, "content-length") || iequals(name, "l");
}

// Result of reading the Content-Length headers of a complete header block.
struct ContentLength {
  FrameError error = FrameError::kNone;
  std::uint64_t value = 0;  // saturates at UINT64_MAX for absurdly long digit strings
};

// `value` is a header value with folding already reduced (it may still hold interior LWS).
std::optional<std::uint64_t> parse_digits(std::string_view value) noexcept {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    n = (n > (UINT64_MAX - digit) / 10) ? UINT64_MAX : n * 10 + digit;
  }
  return n;
}

// Walks the header lines (after the start-line), joining folded continuation lines, and checks
// every Content-Length (or `l`) header. `headers` excludes the start-line and the final CRLFCRLF.
ContentLength find_content_length(std::string_view headers) {
  ContentLength result;
  bool found = false;
  std::string_view name;
  std::string value;  // the current header's value with continuations joined by one SP
  bool in_header = false;

  auto finish_header = [&]() {
    if (!in_header || !is_content_length_name(name)) return;
    const auto n = parse_digits(value);
    if (!n) {
      result.error = FrameError::kMalformedContentLength;
    } else if (found && *n != result.value) {
      if (result.error == FrameError::kNone) result.error = FrameError::kConflictingContentLength;
    } else {
      result.value = *n;
      found = true;
    }
  };

  while (!headers.empty()) {
    // Lines end with LF, a CR before it dropped: the message parser reads them so, and the
    // two must agree on where a message ends.
    const auto eol = headers.find('\n');
    std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (is_wsp(line.front())) {  // folding: continuation of the previous header's value
      if (in_header && is_content_length_name(name)) {
        value += ' ';
        value += trim(line);
      }
      continue;
    }
    finish_header();
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {  // not a header; the message parser will reject it
      in_header = false;
      continue;
    }
    in_header = true;
    name = trim(line.substr(0, colon));
    value.clear();
    if (is_content_length_name(name)) value = line.substr(colon + 1);
  }
  finish_header();
  if (result.error == FrameError::kNone && !found) result.error = FrameError::kMissingContentLength;
  return result;
}

// The end of the header block: just past the first empty line, where a line ends with LF and
// may have a CR before it (CRLFCRLF, or a bare LF's equivalent), searching from `from`; npos
// when there is none yet. The message parser ends the headers at the same line.
std::size_t header_block_end(std::string_view buffer, std::size_t from) noexcept {
  for (auto lf = buffer.find('\n', from); lf != std::string_view::npos; lf = buffer.find('\n', lf + 1)) {
    if (lf + 1 < buffer.size() && buffer[lf + 1] == '\n') return lf + 2;
    if (lf + 2 < buffer.size() && buffer[lf + 1] == '\r' && buffer[lf + 2] == '\n') return lf + 3;
  }
  return std::string_view::npos;
}

}  // namespace

std::string_view to_string(FrameError error) noexcept {
  switch (error) {
    case FrameError::kNone:
      return "no error";
    case FrameError::kHeaderTooLarge:
      return "header block too large";
    case FrameError::kBodyTooLarge:
      return "message body too large";
    case FrameError::kMissingContentLength:
      return "Content-Length missing";
    case FrameError::kMalformedContentLength:
      return "Content-Length malformed";
    case FrameError::kConflictingContentLength:
      return "conflicting Content-Length values";
  }
  return "unknown framing error";
}

void StreamFramer::reset() noexcept {
  scanned_ = 0;
  header_bytes_ = 0;
  body_bytes_ = 0;
  error_ = FrameError::kNone;
  header_was_complete_ = false;
}

Frame StreamFramer::bad(FrameError error, std::string_view header_block, bool header_complete) {
  error_ = error;
  header_was_complete_ = header_complete;
  Frame frame;
  frame.status = FrameStatus::kBad;
  frame.error = error;
  frame.header_block = header_block;
  frame.header_complete = header_complete;
  return frame;
}

Frame StreamFramer::next(std::string_view buffer) {
  if (error_ != FrameError::kNone) {
    const std::size_t n = header_was_complete_ ? header_bytes_ : limits_.max_header_bytes;
    return bad(error_, buffer.substr(0, std::min(n, buffer.size())), header_was_complete_);
  }

  Frame frame;
  if (header_bytes_ == 0 && scanned_ == 0) {
    // Between messages: CRLFCRLF is a keep-alive ping, a lone CRLF is ignored (RFC 3261 §7.5).
    if (buffer.starts_with(kEndOfHeaders)) {
      frame.status = FrameStatus::kComplete;
      frame.kind = FrameKind::kPing;
      frame.consumed = kEndOfHeaders.size();
      return frame;
    }
    if (buffer.starts_with(kCrlf)) {
      if (buffer.size() < 4 && kEndOfHeaders.starts_with(buffer)) return frame;  // maybe a ping
      frame.status = FrameStatus::kComplete;
      frame.kind = FrameKind::kEmptyLine;
      frame.consumed = kCrlf.size();
      return frame;
    }
    if (buffer.size() == 1 && buffer.front() == '\r') return frame;  // maybe CRLF
  }

  if (header_bytes_ == 0) {
    const std::size_t from = scanned_ >= 2 ? scanned_ - 2 : 0;
    const auto end = header_block_end(buffer, from);
    if (end == std::string_view::npos || end > limits_.max_header_bytes) {
      if (buffer.size() >= limits_.max_header_bytes) {
        return bad(FrameError::kHeaderTooLarge, buffer.substr(0, limits_.max_header_bytes), false);
      }
      scanned_ = buffer.size();
      return frame;
    }
    const std::string_view block = buffer.substr(0, end);
    header_bytes_ = block.size();
    const auto first_eol = block.find('\n');
    const ContentLength length = find_content_length(block.substr(first_eol + 1));
    if (length.error != FrameError::kNone) return bad(length.error, block, true);
    if (length.value > limits_.max_body_bytes) return bad(FrameError::kBodyTooLarge, block, true);
    body_bytes_ = static_cast<std::size_t>(length.value);
  }

  const std::size_t total = header_bytes_ + body_bytes_;
  if (buffer.size() < total) return frame;
  frame.status = FrameStatus::kComplete;
  frame.kind = FrameKind::kMessage;
  frame.consumed = total;
  frame.message = buffer.substr(0, total);
  frame.header_block = buffer.substr(0, header_bytes_);
  frame.header_complete = true;
  reset();
  return frame;
}

}  // namespace herald::sip::transport
