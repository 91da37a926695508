#include <charconv>

#include "sip/msg/message.h"

namespace herald::sip {
namespace {

// Finds the end of the line starting at `pos`: returns the index of '\n' (npos if none).
std::size_t line_end(std::string_view text, std::size_t pos) { return text.find('\n', pos); }

// The line [pos, nl) without its trailing CR.
std::string_view line_at(std::string_view text, std::size_t pos, std::size_t nl) {
  std::string_view line = text.substr(pos, nl - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_version(std::string_view v) {
  // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT
  if (v.size() < 7 || !grammar::iequals(v.substr(0, 4), "SIP/")) return false;
  std::size_t dot = v.find('.', 4);
  if (dot == std::string_view::npos || dot == 4 || dot + 1 == v.size()) return false;
  for (std::size_t i = 4; i < v.size(); ++i) {
    if (i != dot && !grammar::is_digit(v[i])) return false;
  }
  return true;
}

// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
struct StatusLine {
  std::string_view version;
  int code = 0;
  std::string_view reason;
};

Parsed<StatusLine> parse_status_line(std::string_view start) {
  std::size_t sp1 = start.find(' ');
  if (sp1 == std::string_view::npos || start.size() < sp1 + 4) return Parsed<StatusLine>::error("bad Status-Line");
  StatusLine line;
  line.version = start.substr(0, sp1);
  auto value = grammar::parse_uint(start.substr(sp1 + 1, 3), 699);
  if (!is_version(line.version) || !value || *value < 100) return Parsed<StatusLine>::error("bad Status-Line");
  if (start.size() > sp1 + 4 && start[sp1 + 4] != ' ') return Parsed<StatusLine>::error("bad status code");
  line.code = static_cast<int>(*value);
  line.reason = start.size() > sp1 + 5 ? start.substr(sp1 + 5) : std::string_view{};
  return line;
}

// Request-Line = Method SP Request-URI SP SIP-Version: single spaces, nothing else.
struct RequestLine {
  std::string_view method;
  std::string_view uri;
  std::string_view version;  // "SIP/2.0" when the line has none that is well formed
  // Something is there (a method) but the line is not well formed: answerable with 400
  // once the headers are read, unless they are unusable too.
  bool malformed = false;
};

Parsed<RequestLine> parse_request_line(std::string_view start) {
  std::size_t sp1 = start.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return Parsed<RequestLine>::error("bad Request-Line");
  RequestLine line;
  line.method = start.substr(0, sp1);
  if (!grammar::is_token(line.method)) return Parsed<RequestLine>::error("bad method");
  std::size_t sp2 = start.find(' ', sp1 + 1);
  std::string_view rest = sp2 == std::string_view::npos ? std::string_view{} : start.substr(sp2 + 1);
  line.uri = start.substr(sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1);
  line.version = rest;
  if (sp2 == std::string_view::npos || line.uri.empty() || rest.find(' ') != std::string_view::npos ||
      !is_version(rest)) {
    line.malformed = true;
    if (!is_version(rest)) line.version = "SIP/2.0";
  }
  return line;
}

// The text of the header field whose first line is [begin, first_end), with the continuation
// lines (starting with SP / HTAB) from `pos` on, without its trailing CR. Moves `pos` past
// them; `folded` tells whether there were any.
std::string_view take_field_text(std::string_view text, std::size_t begin, std::size_t first_end,
                                 std::size_t& pos, bool& folded) {
  std::size_t value_end = first_end;
  folded = false;
  while (pos < text.size() && grammar::is_wsp(text[pos])) {
    std::size_t next = line_end(text, pos);
    if (next == std::string_view::npos) next = text.size();
    value_end = next;
    pos = next + 1;
    folded = true;
  }
  std::string_view raw = text.substr(begin, value_end - begin);
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  return raw;
}

struct FieldParts {
  std::string_view name;
  std::string_view value;  // trimmed, still folded
};

// Splits a header field's text at its colon.
Parsed<FieldParts> split_field(std::string_view raw) {
  std::size_t colon = raw.find(':');
  if (colon == std::string_view::npos) return Parsed<FieldParts>::error("Header line without colon");
  std::string_view name = raw.substr(0, colon);
  while (!name.empty() && grammar::is_wsp(name.back())) name.remove_suffix(1);
  if (!grammar::is_token(name)) return Parsed<FieldParts>::error("Malformed header name");
  return FieldParts{name, grammar::trim(raw.substr(colon + 1))};
}

// Replaces each CRLF + white space run by one SP (RFC 3261 §7.3.1).
std::string unfold(std::string_view value) {
  std::string unfolded;
  unfolded.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' || value[i] == '\n') {
      while (i + 1 < value.size() && (value[i + 1] == '\r' || value[i + 1] == '\n' || grammar::is_wsp(value[i + 1]))) ++i;
      unfolded.push_back(' ');
    } else {
      unfolded.push_back(value[i]);
    }
  }
  return unfolded;
}

// Takes a Content-Length value into `length`; returns the defect when it is malformed or
// differs from an earlier one (`length` then unchanged), empty otherwise.
std::string_view take_content_length(std::string_view value, std::optional<std::size_t>& length) {
  auto cl = parse_content_length(value);
  if (!cl) return "Malformed Content-Length header";
  if (length && *length != *cl) return "Conflicting Content-Length headers";
  length = *cl;
  return {};
}

}  // namespace

Parsed<Message> parse_message(std::string bytes) {
  Message m;
  m.buffer_ = std::make_shared<const std::string>(std::move(bytes));
  std::string_view text = *m.buffer_;
  auto set_defect = [&m](std::string_view why) {
    if (m.defect_.empty()) m.defect_ = why;
  };

  // Leading CRLFs before the start line are tolerated (RFC 3261 §7.5).
  std::size_t pos = 0;
  while (pos < text.size() && (text[pos] == '\r' || text[pos] == '\n')) ++pos;
  std::size_t nl = line_end(text, pos);
  if (nl == std::string_view::npos) return Parsed<Message>::error("no start line");
  std::string_view start = line_at(text, pos, nl);
  pos = nl + 1;

  if (start.size() >= 4 && grammar::iequals(start.substr(0, 4), "SIP/")) {
    auto line = parse_status_line(start);
    if (!line) return Parsed<Message>::error(line.why());
    m.version_ = line->version;
    m.status_code_ = line->code;
    m.reason_ = line->reason;
  } else {
    auto line = parse_request_line(start);
    if (!line) return Parsed<Message>::error(line.why());
    m.method_name_ = line->method;
    m.method_ = method_from_name(m.method_name_);
    m.request_uri_text_ = line->uri;
    m.version_ = line->version;
    if (line->malformed) set_defect("Malformed Request-Line");
    m.request_uri_ = parse_uri(m.request_uri_text_);
  }

  // Header lines, with folding: a line starting with SP / HTAB continues the previous one.
  m.headers_.reserve(16);
  bool ended = false;
  std::optional<std::size_t> content_length;
  while (pos < text.size()) {
    nl = line_end(text, pos);
    if (nl == std::string_view::npos) {
      set_defect("Headers not terminated by an empty line");
      nl = text.size();
    }
    std::string_view line = line_at(text, pos, nl);
    std::size_t line_start = pos;
    pos = nl + 1;
    if (line.empty()) {
      ended = true;
      break;
    }
    if (grammar::is_wsp(line.front())) {
      set_defect("Continuation line without a header");
      continue;
    }
    bool folded = false;
    auto field = split_field(take_field_text(text, line_start, nl, pos, folded));
    if (!field) {
      set_defect(field.why());
      continue;
    }
    std::string_view value = folded ? m.keep(unfold(field->value)) : field->value;
    HeaderId id = header_id(field->name);
    m.headers_.push_back({id, field->name, value});
    if (id == HeaderId::kContentLength) set_defect(take_content_length(value, content_length));
  }
  if (!ended) set_defect("Headers not terminated by an empty line");

  std::string_view body = pos <= text.size() ? text.substr(pos) : std::string_view{};
  if (content_length) {
    if (*content_length > body.size()) {
      set_defect("Content-Length larger than body");
    } else {
      body = body.substr(0, *content_length);
    }
  }
  m.body_ = body;
  return m;
}

}  // namespace herald::sip
