#pragma once

#include <sys/socket.h>

#include <boost/asio/detail/socket_option.hpp>

namespace herald::sip::transport {

// SO_REUSEPORT, so that one socket per shard can bind the same address and port and the kernel
// spreads datagrams / connections across them. Asio has no public option for it.
using ReusePort = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

}  // namespace herald::sip::transport
