#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sip/msg/grammar.h"
#include "sip/msg/header_table.h"
#include "sip/msg/headers.h"
#include "sip/msg/method.h"
#include "sip/msg/parsed.h"
#include "sip/msg/uri.h"

namespace herald::sip {

// One header line as received (or added): the name as written and the value with
// surrounding white space removed and folding replaced by a space.
struct HeaderField {
  HeaderId id = HeaderId::kOther;
  std::string_view name;
  std::string_view value;
};

// A SIP request or response (RFC 3261 §7). Headers keep their order and spelling; unknown
// headers pass through untouched. Typed values are parsed on demand from the text with
// get<hdr::X>(), which never throws: it says absent, malformed (why) or gives the value.
//
// Storage: the received bytes are held once, shared and immutable; header fields and typed
// values are string_views into them. Text added by edits is held alongside in a few shared
// blocks (one allocation serves many edits).
// Copying a Message is therefore cheap (no text is copied) and copies never invalidate
// each other's views. A view obtained from a Message stays valid while any copy of that
// Message lives; an edit of a header invalidates only views of that header line.
//
// Thread safety: none; a Message and its copies belong to the shard that handles them (copies
// share the blocks their edits append to, so two copies are never edited on two threads).
class Message {
 public:
  Message() = default;

  // A new request: "METHOD uri SIP/2.0" with no headers.
  static Message request(std::string_view method, std::string_view request_uri);
  // A new response: "SIP/2.0 code reason" with no headers.
  static Message response(int status_code, std::string_view reason);

  // ---- start line
  bool is_request() const { return status_code_ == 0; }
  bool is_response() const { return status_code_ != 0; }
  Method method() const { return method_; }            // requests only
  std::string_view method_name() const { return method_name_; }
  std::string_view request_uri_text() const { return request_uri_text_; }
  // The parsed Request-URI; malformed() when the text is not a URI.
  const Parsed<Uri>& request_uri() const { return request_uri_; }
  int status_code() const { return status_code_; }     // responses only
  std::string_view reason_phrase() const { return reason_; }
  std::string_view version() const { return version_; }

  // ---- headers
  const std::vector<HeaderField>& headers() const { return headers_; }
  const HeaderField* find(HeaderId id) const;
  // By name as a peer would write it (case-insensitive; compact forms too).
  const HeaderField* find(std::string_view name) const;
  std::size_t count(HeaderId id) const;
  bool has(HeaderId id) const { return find(id) != nullptr; }

  // The first value of H (the first list element for list headers).
  template <class H>
  Parsed<typename H::Value> get() const {
    using P = Parsed<typename H::Value>;
    const HeaderField* field = find(H::kId);
    if (field == nullptr) return P::none();
    if constexpr (H::kList) {
      P result = P::error("empty header value");
      grammar::for_each_list_element(field->value, [&](std::string_view element) {
        result = element.empty() ? P::error("empty list element") : H::parse(element);
        return false;
      });
      return result;
    } else {
      return H::parse(field->value);
    }
  }

  // Calls f(const H::Value&) for every value of H across all its lines, in order; stops
  // when f returns false. Returns Parsed<bool>: absent when there is no such header,
  // malformed (why) at the first bad value, ok otherwise.
  template <class H, class F>
  Parsed<bool> for_each(F&& f) const {
    bool any = false;
    std::string_view why;
    bool stop = false;
    for (const HeaderField& field : headers_) {
      if (field.id != H::kId) continue;
      any = true;
      auto visit = [&](std::string_view element) {
        if (element.empty()) {
          why = "empty list element";
          return false;
        }
        auto value = H::parse(element);
        if (!value) {
          why = value.why();
          return false;
        }
        if (!f(value.value())) stop = true;
        return !stop;
      };
      if constexpr (H::kList) {
        grammar::for_each_list_element(field.value, visit);
      } else {
        visit(field.value);
      }
      if (!why.empty()) return Parsed<bool>::error(why);
      if (stop) break;
    }
    if (!any) return Parsed<bool>::none();
    return true;
  }

  // All values of H in order.
  template <class H>
  Parsed<std::vector<typename H::Value>> get_all() const {
    std::vector<typename H::Value> values;
    auto r = for_each<H>([&](const typename H::Value& v) {
      values.push_back(v);
      return true;
    });
    if (!r) {
      return r.absent() ? Parsed<std::vector<typename H::Value>>::none()
                        : Parsed<std::vector<typename H::Value>>::error(r.why());
    }
    return values;
  }

  std::string_view body() const { return body_; }

  // First structural fault found while parsing ("header line without colon", "Content-Length
  // larger than body" …); empty when there is none. A message with a defect is answered
  // with 400 and this text as reason phrase when it is a request (see check_request()).
  std::string_view defect() const { return defect_; }

  // ---- edits (each copies `value` into storage the message owns)
  void set_request_uri(std::string_view uri);
  void set_status(int status_code, std::string_view reason);
  void append(HeaderId id, std::string_view value);
  void append(std::string_view name, std::string_view value);
  // Appends a header whose value `write(char* out)` writes in place and returns the end of:
  // at most `max_size` chars. A long value built in pieces (a 200's Contact list) is then
  // written once, into the message's own storage, not into a string append() copies.
  template <typename Write>
  void append_written(HeaderId id, std::size_t max_size, Write&& write) {
    char* begin = room(max_size);
    char* end = write(begin);
    headers_.push_back({id, header_info(id).name, take(begin, end)});
  }
  // Inserts before the first line of this header, or at the top when there is none (Via,
  // Record-Route, Route are written this way).
  void prepend(HeaderId id, std::string_view value);
  // Replaces every line of this header with one line holding `value`, where the first was
  // (appended when there was none).
  void set(HeaderId id, std::string_view value);
  // Removes every line of this header; returns how many were removed.
  std::size_t remove(HeaderId id);
  // Removes the first value of a list header (the top Via, the first Route): the rest of a
  // comma-joined line stays. Returns false when there is no such header.
  bool pop_first_value(HeaderId id);
  // Sets the body and rewrites Content-Length (and Content-Type unless `content_type` is
  // empty; an empty body with an empty type removes Content-Type).
  void set_body(std::string_view content_type, std::string_view body);

 private:
  friend Parsed<Message> parse_message(std::string bytes);
  friend Message make_response(const Message& request, int status_code, std::string_view reason,
                               std::string_view to_tag);

  // Text added by edits, in blocks that only ever grow at their end: a block never moves or
  // overwrites what it holds, so it can be shared by copies of a message (and by a response
  // and its request) and each may append to it; every view into it stays valid.
  struct TextBlock {
    // Not zeroed: only what edits have written is ever read (a 200 listing a hundred
    // contacts asks for a block of some 7 KiB).
    explicit TextBlock(std::size_t capacity_in)
        : data(std::make_unique_for_overwrite<char[]>(capacity_in)), capacity(capacity_in) {}
    std::unique_ptr<char[]> data;
    std::size_t used = 0;
    std::size_t capacity;
  };

  // Copies `text` into storage shared by this message and its copies; returns a view of it.
  std::string_view keep(std::string_view text);
  // Room for `size` chars at the end of that storage, which take() then keeps: [begin, end)
  // of it were written. Nothing else may be kept in between.
  char* room(std::size_t size);
  std::string_view take(char* begin, char* end);

  std::shared_ptr<const std::string> buffer_;       // the bytes as received
  std::vector<std::shared_ptr<TextBlock>> owned_;   // text added by edits; the last one is filled
  std::vector<HeaderField> headers_;

  std::string_view method_name_;
  Method method_ = Method::kOther;
  std::string_view request_uri_text_;
  Parsed<Uri> request_uri_;
  int status_code_ = 0;
  std::string_view reason_;
  std::string_view version_;
  std::string_view body_;
  std::string_view defect_;
};

// Parses one complete message (a datagram, or a unit the stream framer delimited). Takes
// ownership of the bytes. Malformed only when the start line is unusable (no response can
// be addressed); faults further on are reported by Message::defect(). A body longer than
// Content-Length is cut to it (RFC 3261 §18.3).
Parsed<Message> parse_message(std::string bytes);

// Writes the message exactly as held: start line, headers in order as named, blank line,
// body. parse_message(serialize(m)) yields m's start line, headers and body again.
std::string serialize(const Message& message);
void serialize_to(const Message& message, std::string& out);
// serialize(message).size(), without writing anything.
std::size_t serialized_size(const Message& message);

// A response to `request` per RFC 3261 §8.2.6: Via lines, From, To (with `to_tag` added
// when To has no tag and the tag is not empty), Call-ID, CSeq, Timestamp for 100, and
// Content-Length: 0. Shares the request's text; no copy of it is made.
Message make_response(const Message& request, int status_code, std::string_view reason,
                      std::string_view to_tag = {});

// The reason phrase RFC 3261 §21 gives a status code ("Not Found"); "Unknown" otherwise.
std::string_view default_reason(int status_code);

}  // namespace herald::sip
