#include "sip/msg/message.h"

namespace herald::sip {

void serialize_to(const Message& m, std::string& out) {
  std::size_t size = 64 + m.body().size();
  for (const HeaderField& f : m.headers()) size += f.name.size() + f.value.size() + 4;
  out.reserve(out.size() + size);
  if (m.is_request()) {
    out.append(m.method_name()).append(" ").append(m.request_uri_text()).append(" ").append(m.version());
  } else {
    char code[4] = {static_cast<char>('0' + m.status_code() / 100), static_cast<char>('0' + m.status_code() / 10 % 10),
                    static_cast<char>('0' + m.status_code() % 10), 0};
    out.append(m.version()).append(" ").append(code, 3).append(" ").append(m.reason_phrase());
  }
  out.append("\r\n");
  for (const HeaderField& f : m.headers()) {
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  out.append("\r\n");
  out.append(m.body());
}

std::size_t serialized_size(const Message& m) {
  std::size_t size = 2 + 2 + m.body().size();  // start line's CRLF, the blank line
  if (m.is_request()) {
    size += m.method_name().size() + 1 + m.request_uri_text().size() + 1 + m.version().size();
  } else {
    size += m.version().size() + 5 + m.reason_phrase().size();
  }
  for (const HeaderField& f : m.headers()) size += f.name.size() + 2 + f.value.size() + 2;
  return size;
}

std::string serialize(const Message& m) {
  std::string out;
  serialize_to(m, out);
  return out;
}

}  // namespace herald::sip
