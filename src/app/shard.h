#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/config.h"
#include "services/auth/authenticator.h"
#include "services/auth/nonce.h"
#include "services/auth/nonce_counts.h"
#include "services/auth/throttle.h"
#include "services/core/server_core.h"
#include "services/events/notifier.h"
#include "services/im/message_service.h"
#include "services/presence/presence_agent.h"
#include "services/proxy/proxy.h"
#include "services/registrar/location_service.h"
#include "services/registrar/registrar.h"
#include "store/store.h"
#include "store/user_cache.h"
#include "sip/transport/message_transport.h"
#include "sip/txn/asio_timer_driver.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"

namespace herald::app {

// One shard (DESIGN.md): an io_context with its own transports, timer service, transaction
// layer and services, run by one thread. Shards share nothing. (One shard for now: its sockets
// hold their addresses alone.)
//
// Threading: constructed on any thread; after start(), used only from the thread in run().
class Shard final : private sip::transport::MessageHandler,
                    private sip::txn::MessageSender,
                    private services::proxy::Network {
 public:
  // `store` is this shard's own connection to the store (a Store is used by one thread).
  // `nonces` is shared by every shard so that a nonce issued by one verifies on another.
  // `server_key` is the data directory's key (DataDirectory::key()).
  Shard(const Config& config, std::uint32_t index, std::unique_ptr<store::Store> store,
        const services::auth::NonceFactory& nonces, const std::string& server_key);
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
  services::registrar::LocationService& location() { return location_; }
  services::proxy::Proxy& proxy() { return proxy_; }
  services::events::Notifier& notifier() { return notifier_; }
  services::presence::PresenceAgent& presence() { return presence_; }
  sip::transport::MessageTransport& transport() { return transport_; }

 private:
  // Commits the store's open batch of writes (a write-behind store: hands it over), then
  // sends what waited for the batches already durable.
  void commit();
  // Reads the listening points actually bound, and the sent-by of each protocol.
  void note_listening();
  // Lets the users cache forget what `herald user` changed; again every kUsersPoll.
  void poll_users();
  // Whether a send now must wait: for a write it may depend on, or behind one that does.
  bool must_hold() const;
  // Keeps `send` until the batch the store has open (or in flight) is durable.
  void hold(std::function<void()> send);
  // Sends what was held for batches up to `durable`, in the order it was held.
  void release(std::uint64_t durable);

  void on_request(const sip::Message& request, const sip::transport::Source& source) override;
  void on_response(const sip::Message& response, const sip::transport::Source& source) override;
  void send_response(const sip::Message& response, const sip::transport::Source& request_source,
                     sip::txn::SendDone done) override;
  void send_request(const sip::Message& request, const sip::transport::Destination& to,
                    sip::txn::SendDone done) override;
  // services::proxy::Network
  std::string sent_by(sip::transport::Protocol protocol) const override;
  bool listens_on(const boost::asio::ip::address& address, std::uint16_t port) const override;
  bool listens_on_port(std::uint16_t port) const override;
  bool connection_open(const boost::asio::ip::address& address, std::uint16_t port) const override;
  void send_stateless(const sip::Message& request, const sip::transport::Destination& to) override;
  void send_response_by_via(const sip::Message& response) override;

  boost::asio::io_context io_;
  sip::txn::SteadyClock clock_;
  sip::txn::TimerService timers_;
  sip::txn::AsioTimerDriver timer_driver_;
  std::unique_ptr<store::Store> store_;
  store::UserCache users_;  // what the services ask of users, in front of store_
  sip::txn::TimerId users_timer_;
  services::registrar::LocationService location_;
  services::registrar::Registrar registrar_;
  services::auth::NonceCounts nonce_counts_;
  services::auth::Throttle throttle_;  // failed authentications and probes for users, per source
  std::unique_ptr<services::auth::Authenticator> authenticator_;  // null when auth = "off"
  services::ServerCore core_;
  sip::txn::TransactionLayer layer_;
  sip::transport::MessageTransport transport_;
  services::proxy::Proxy proxy_;
  services::im::MessageService messages_;
  services::events::Notifier notifier_;
  services::presence::PresenceAgent presence_;
  struct Held {
    std::uint64_t batch;  // the store's batch it waits for
    std::function<void()> send;
  };
  std::vector<Held> held_;                              // sends waiting for their batch
  std::string first_domain_;                            // Via host when listening on 0.0.0.0
  std::vector<sip::transport::ListenPoint> listening_;  // with the ports actually bound
  std::vector<std::pair<sip::transport::Protocol, std::string>> sent_by_;  // "host:port" per protocol
};

// The capabilities of this build, advertised by OPTIONS.
services::Capabilities server_capabilities();

// Unix seconds from the system clock (binding expiry, nonce timestamps).
std::int64_t unix_now();

}  // namespace herald::app
