#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "app/config.h"
#include "services/core/server_core.h"
#include "sip/transport/message_transport.h"
#include "sip/txn/asio_timer_driver.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"

namespace herald::app {

// One shard (DESIGN.md): an io_context with its own transports, timer service, transaction
// layer and services, run by one thread. Shards share nothing; with several, the kernel
// spreads UDP datagrams and TCP connections over them (SO_REUSEPORT).
//
// Threading: constructed on any thread; after start(), used only from the thread in run().
class Shard final : private sip::transport::MessageHandler, private sip::txn::MessageSender {
 public:
  Shard(const Config& config, std::uint32_t index);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard() override;

  // Opens the listening sockets; an error names what failed.
  boost::system::error_code start();
  // Runs the event loop until stop().
  void run();
  // Thread-safe: asks the loop to finish.
  void stop();

  boost::asio::io_context& io() { return io_; }
  sip::transport::MessageTransport& transport() { return transport_; }

 private:
  void on_request(const sip::Message& request, const sip::transport::Source& source) override;
  void on_response(const sip::Message& response, const sip::transport::Source& source) override;
  void send_response(const sip::Message& response, const sip::transport::Source& request_source,
                     sip::txn::SendDone done) override;
  void send_request(const sip::Message& request, const sip::transport::Destination& to,
                    sip::txn::SendDone done) override;

  boost::asio::io_context io_;
  sip::txn::SteadyClock clock_;
  sip::txn::TimerService timers_;
  sip::txn::AsioTimerDriver timer_driver_;
  services::ServerCore core_;
  sip::txn::TransactionLayer layer_;
  sip::transport::MessageTransport transport_;
};

// The capabilities of this build, advertised by OPTIONS.
services::Capabilities server_capabilities();

}  // namespace herald::app
