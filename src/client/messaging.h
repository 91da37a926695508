#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "client/user_agent.h"

// Instant messages (RFC 3428) from the UA's side: sending a MESSAGE and taking the ones that
// arrive.
namespace herald::client {

// Sends `text` of `content_type` to `to` in a MESSAGE of its own (new Call-ID); `done` gets
// the final response (202: the server stored it for later delivery) or the failure.
void send_message(UserAgent& ua, std::string_view to, std::string_view content_type, std::string_view text,
                  Completion done);

// One MESSAGE that arrived.
struct IncomingMessage {
  std::string from;  // From's URI
  std::string to;    // To's URI
  std::string content_type;
  std::string text;
  std::string date;  // the Date header as sent (a stored message keeps its original); may be empty
  std::string call_id;
};

// Answers every MESSAGE that reaches the UA with 200 OK and hands it to `on_message`.
// Removes its handler when destroyed.
class Inbox {
 public:
  Inbox(UserAgent& ua, std::function<void(const IncomingMessage&)> on_message);
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;
  ~Inbox();

 private:
  UserAgent& ua_;
  std::uint64_t handler_ = 0;
};

// "TIME FROM: TEXT"; a body that is not text/* is shown as "[TYPE, N bytes]".
std::string format_message_line(std::string_view time, const IncomingMessage& m);
// One JSON object: time, from, to, content_type, text, date (null when absent).
std::string format_message_json(std::string_view time, const IncomingMessage& m);

}  // namespace herald::client
