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
#include "sip/stack/stack.h"

namespace herald::app {

// One shard (DESIGN.md): an io_context with its own SIP stack (sip::Stack: transports,
// transaction layer, timers) and services, run by one thread, and the wiring between them: it is
// never on a message's path. Shards share nothing. (One shard for now: its sockets hold their
// addresses alone.)
//
// Threading: constructed on any thread; after start(), used only from the thread in run().
class Shard final : private sip::WriteBatches {
 public:
  // `store` is this shard's own connection to the store (a Store is used by one thread).
  // `nonces` is shared by every shard so that a nonce issued by one verifies on another.
  // `server_key` is the data directory's key (DataDirectory::key()).
  // `shards`: the process's shards; this one attaches itself as `index`. `throttle` is shared
  // by every shard (failures for AORs of different shards count together).
  Shard(const Config& config, std::uint32_t index, sip::Shards& shards, std::unique_ptr<store::Store> store,
        const services::auth::NonceFactory& nonces, services::auth::Throttle& throttle,
        const std::string& server_key);
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
  sip::Stack& stack() { return stack_; }

 private:
  // Commits the store's open batch of writes (a write-behind store: hands it over), then
  // sends what waited for the batches already durable.
  void commit();
  // Lets the users cache forget what `herald user` changed; again every kUsersPoll.
  void poll_users();
  // sip::WriteBatches, from the store
  bool open() const override { return store_->batch_open(); }
  std::uint64_t begun() const override { return store_->batches_begun(); }

  boost::asio::io_context io_;
  std::unique_ptr<store::Store> store_;
  store::UserCache users_;  // what the services ask of users, in front of store_
  services::ServerCore core_;
  sip::Stack stack_;
  sip::txn::TimerId users_timer_;
  services::registrar::LocationService location_;
  services::registrar::Registrar registrar_;
  services::auth::NonceCounts nonce_counts_;
  services::auth::Throttle& throttle_;  // failed authentications and probes for users, per source
  std::unique_ptr<services::auth::Authenticator> authenticator_;  // null when auth = "off"
  services::proxy::Proxy proxy_;
  services::im::MessageService messages_;
  services::events::Notifier notifier_;
  services::presence::PresenceAgent presence_;
};

// The failed-authentication throttle's settings from the configuration.
services::auth::ThrottleConfig throttle_config(const Config& config);

// The capabilities of this build, advertised by OPTIONS.
services::Capabilities server_capabilities();

// Unix seconds from the system clock (binding expiry, nonce timestamps).
std::int64_t unix_now();

}  // namespace herald::app
