#include "sip/stack/shards.h"

#include <boost/asio/post.hpp>

namespace herald::sip {

void Shards::post(std::uint32_t index, std::function<void()> work) const {
  boost::asio::post(*loops_.at(index), std::move(work));
}

}  // namespace herald::sip
