#include "sip/msg/ack.h"

#include <string>

#include "sip/msg/grammar.h"

namespace herald::sip {

Message make_ack(const Message& invite, const Message& response) {
  Message ack = Message::request("ACK", invite.request_uri_text());
  if (const HeaderField* via = invite.find(HeaderId::kVia)) {
    std::string_view top;
    grammar::for_each_list_element(via->value, [&](std::string_view element) {
      top = element;
      return false;
    });
    ack.append(HeaderId::kVia, top);
  }
  ack.append(HeaderId::kMaxForwards, "70");
  for (const HeaderField& field : invite.headers()) {
    if (field.id == HeaderId::kRoute) ack.append(HeaderId::kRoute, field.value);
  }
  if (const HeaderField* from = invite.find(HeaderId::kFrom)) {
    ack.append(HeaderId::kFrom, from->value);
  }
  if (const HeaderField* to = response.find(HeaderId::kTo)) ack.append(HeaderId::kTo, to->value);
  if (const HeaderField* call_id = invite.find(HeaderId::kCallId)) {
    ack.append(HeaderId::kCallId, call_id->value);
  }
  auto cseq = invite.get<hdr::CSeq>();
  ack.append(HeaderId::kCSeq, std::to_string(cseq ? cseq->number : 0) + " ACK");
  ack.append(HeaderId::kContentLength, "0");
  return ack;
}

}  // namespace herald::sip
