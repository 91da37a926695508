#include <string>

#include "sip/msg/message.h"

namespace herald::sip {

Message make_response(const Message& request, int status_code, std::string_view reason,
                      std::string_view to_tag) {
  Message r;
  // Share the request's text: the copied header fields stay views into it.
  r.buffer_ = request.buffer_;
  r.owned_ = request.owned_;
  r.version_ = "SIP/2.0";
  r.status_code_ = status_code;
  r.reason_ = reason.empty() ? default_reason(status_code) : r.keep(reason);
  r.headers_.reserve(8);
  for (const HeaderField& f : request.headers()) {
    switch (f.id) {
      case HeaderId::kVia:
      case HeaderId::kFrom:
      case HeaderId::kCallId:
      case HeaderId::kCSeq:
        r.headers_.push_back(f);
        break;
      case HeaderId::kTimestamp:
        if (status_code == 100) r.headers_.push_back(f);
        break;
      case HeaderId::kTo: {
        HeaderField to = f;
        if (status_code > 100 && !to_tag.empty()) {
          auto parsed = parse_name_addr(f.value);
          if (parsed && !parsed->tag()) {
            std::string value(f.value);
            value.append(";tag=").append(to_tag);
            to.value = r.keep(value);
          }
        }
        r.headers_.push_back(to);
        break;
      }
      default:
        break;
    }
  }
  r.headers_.push_back({HeaderId::kContentLength, header_info(HeaderId::kContentLength).name, "0"});
  return r;
}

std::string_view default_reason(int code) {
  switch (code) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Notification";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 305: return "Use Proxy";
    case 380: return "Alternative Service";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 412: return "Conditional Request Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 421: return "Extension Required";
    case 423: return "Interval Too Brief";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 484: return "Address Incomplete";
    case 485: return "Ambiguous";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 489: return "Bad Event";
    case 491: return "Request Pending";
    case 493: return "Undecipherable";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    default: return "Unknown";
  }
}

}  // namespace herald::sip
