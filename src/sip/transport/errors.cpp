#include "sip/transport/errors.h"

#include <string>

namespace herald::sip::transport {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories are
// static singletons never deleted through a base pointer), which -Wnon-virtual-dtor flags.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class TransportCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "herald.sip.transport"; }

  std::string message(int value) const override {
    switch (static_cast<TransportError>(value)) {
      case TransportError::kConnectionLimit:
        return "connection limit reached";
      case TransportError::kConnectionClosed:
        return "connection closed before the data was written";
      case TransportError::kNoSocketForFamily:
        return "no socket open for the destination's address family";
      case TransportError::kClosed:
        return "transport closed";
      case TransportError::kStreamFraming:
        return "stream framing error";
      case TransportError::kSlowMessage:
        return "a message did not arrive whole in time";
      case TransportError::kNoValidMessage:
        return "no valid message in time";
      case TransportError::kSourceLimit:
        return "too many connections from this source";
    }
    return "unknown transport error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& transport_category() noexcept {
  static const TransportCategory category;
  return category;
}

}  // namespace herald::sip::transport
