#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "sip/stack/network.h"
#include "sip/stack/shards.h"
#include "sip/transport/message_transport.h"
#include "sip/txn/asio_timer_driver.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"

namespace herald::sip {

struct StackConfig {
  transport::TransportsConfig transports;
  txn::TransactionLayerConfig transactions;
  // The host Via, Contact and Record-Route name for a wildcard listening address (0.0.0.0, ::).
  std::string wildcard_host;
  // The header that names this program in its responses: Server for a server, User-Agent for
  // a client (RFC 3261 §20.35, §20.41); no header when `identity` is empty.
  HeaderId identity_header = HeaderId::kServer;
  std::string identity;
  // The process's shards (null: this stack is alone); this one is transactions.shard. Requests
  // and responses that another shard owns are handed to it; sends over a stream go through
  // Shards::kStreamShard, which alone listens on and holds stream connections.
  Shards* shards = nullptr;
};

// Responses sent through the stack, by class: [1] 1xx … [6] 6xx. Shard-local.
struct ResponseCounters {
  std::uint64_t by_class[7] = {};
};

// The durable-send gate's view of the store (implemented by the program's glue): what is sent
// while a batch of writes is open waits until that batch is durable, so that nobody hears of a
// registration, publication or stored message that a crash could still lose.
class WriteBatches {
 public:
  virtual ~WriteBatches() = default;
  // Whether a batch is open (or handed over and not yet durable).
  virtual bool open() const = 0;
  // The number of the latest batch begun; batches are numbered 1, 2, … in order.
  virtual std::uint64_t begun() const = 0;
};

// The SIP stack one event loop runs, for the server and for the client library alike: its
// transports (sip/transport), its transaction layer (sip/txn) with the timer service that
// drives it, the durable-send gate, and the Network services see. A message goes up one way,
// transport → owner routing → transaction layer → TransactionUser, and down one way,
// transaction layer → gate → transport (its own, or the stream shard's).
//
// Threading: everything on the io_context's thread. Lifetime: `io` and `user` must outlive it.
class Stack final : public Network, private transport::MessageHandler, private txn::MessageSender {
 public:
  Stack(boost::asio::io_context& io, StackConfig config, txn::TransactionUser& user);
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  ~Stack() override;

  // Opens the listening sockets; an error names what failed (transport().transports()
  // .failed_listen_point() says which). With shards, start shard 0 first: the others name
  // themselves by its listening points.
  boost::system::error_code start();
  // Closes every socket; what is still held is dropped.
  void close();

  txn::TimerService& timers() { return timers_; }
  txn::TransactionLayer& transactions() { return layer_; }
  transport::MessageTransport& transport() { return transport_; }
  const transport::MessageTransport& transport() const { return transport_; }
  // The listening points with the ports actually bound (after start()).
  const std::vector<transport::ListenPoint>& listening() const { return listening_; }
  const ResponseCounters& response_counters() const { return responses_; }

  // Puts sends behind `batches` (null: none): see WriteBatches.
  void gate_sends(const WriteBatches* batches) { batches_ = batches; }
  // Sends what was held for batches up to `durable`, in the order it was held.
  void release(std::uint64_t durable);

  // A fresh To tag (16 hex digits).
  std::string new_tag();

  // Network
  void respond(const Reply& to, const Message& request, int code, std::string_view reason,
               const ExtraHeaders& extra = {}, std::string_view to_tag = {}) override;
  void respond_with(const Reply& to, const Message& request, Message response, bool routine = false) override;
  std::string sent_by(transport::Protocol protocol) const override;
  bool listens_on(const boost::asio::ip::address& address, std::uint16_t port) const override;
  bool listens_on_port(std::uint16_t port) const override;
  bool connection_open(const boost::asio::ip::address& address, std::uint16_t port) const override;
  void send_stateless(const Message& request, const transport::Destination& to) override;
  void send_response_by_via(const Message& response) override;

 private:
  // Whether a send now must wait: for a write it may depend on, or behind one that does.
  bool must_hold() const;
  std::uint32_t index() const { return config_.transactions.shard; }
  bool sharded() const { return config_.shards != nullptr && config_.shards->count() > 1; }
  // The shard a request or a response belongs to (this one when alone).
  std::uint32_t owner_of_request(const Message& request) const;
  std::uint32_t owner_of_response(const Message& response) const;
  // Gives `message` to shard `owner`'s transaction layer, on its loop.
  void hand_over(std::uint32_t owner, const Message& message, const transport::Source& source);
  // Sends `bytes` from the stream shard, `done` running back on this shard's loop.
  void send_from_stream_shard(const transport::Destination& to, std::string bytes, txn::SendDone done);
  // What leaves after the gate: over this shard's transport, or handed to the stream shard.
  void dispatch_response(const Message& response, const transport::Source& request_source, txn::SendDone done);
  void dispatch_request(const Message& request, const transport::Destination& to, txn::SendDone done);
  // Reads the listening points actually bound, and the sent-by of each protocol.
  void note_listening();

  // transport::MessageHandler
  void on_request(const Message& request, const transport::Source& source) override;
  void on_response(const Message& response, const transport::Source& source) override;
  // txn::MessageSender
  void send_response(const Message& response, const transport::Source& request_source,
                     txn::SendDone done) override;
  void send_request(const Message& request, const transport::Destination& to, txn::SendDone done) override;

  StackConfig config_;
  boost::asio::io_context& io_;
  txn::SteadyClock clock_;
  txn::TimerService timers_;
  txn::AsioTimerDriver timer_driver_;
  txn::TransactionLayer layer_;
  transport::MessageTransport transport_;
  std::mt19937_64 random_;
  ResponseCounters responses_;

  const WriteBatches* batches_ = nullptr;
  struct Held {
    std::uint64_t batch;  // the batch it waits for
    std::function<void()> send;
  };
  std::vector<Held> held_;  // sends waiting for their batch, in order

  std::vector<transport::ListenPoint> listening_;                     // with the ports actually bound
  std::vector<std::pair<transport::Protocol, std::string>> sent_by_;  // "host:port" per protocol
};

}  // namespace herald::sip
