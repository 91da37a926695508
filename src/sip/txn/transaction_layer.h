#pragma once

#include <array>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "sip/msg/message.h"
#include "sip/transport/transport_user.h"
#include "sip/txn/client_invite_machine.h"
#include "sip/txn/client_non_invite_machine.h"
#include "sip/txn/server_invite_machine.h"
#include "sip/txn/server_non_invite_machine.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/timer_values.h"

namespace herald::sip::txn {

using ServerTransactionId = std::uint64_t;  // never reused within a process; 0 = none
using ClientTransactionId = std::uint64_t;  // never reused within a process; 0 = none
using SendDone = std::function<void(const boost::system::error_code&)>;

// What the transaction layer needs from the transport (implemented by the transport glue).
// `done` is called once per send, preferably not from inside the call (the layer copes with
// both); an error makes the transaction report a transport error.
class MessageSender {
 public:
  virtual ~MessageSender() = default;
  // Sends a response where RFC 3261 §18.2.2 says, given the request's source (the glue reads
  // the top Via).
  virtual void send_response(const Message& response, const transport::Source& request_source,
                             SendDone done) = 0;
  virtual void send_request(const Message& request, const transport::Destination& to,
                            SendDone done) = 0;
};

// Implemented by the layer above (the server core). All calls on the shard thread. A callback
// may call back into the TransactionLayer (respond, send_request, the queries); calls that
// change a transaction are then queued and run as soon as the current callback returns,
// before the outer TransactionLayer call returns.
class TransactionUser {
 public:
  virtual ~TransactionUser() = default;
  // A new request with its new server transaction (any method but ACK; CANCEL gets its own
  // transaction too). The TU answers later with TransactionLayer::respond(id, ...).
  virtual void on_request(ServerTransactionId id, const Message& request,
                          const transport::Source& source) = 0;
  // A request (not ACK) that matched no server transaction, before one is made for it. A TU
  // that answers it without a transaction (RFC 3261 §8.2.7: a stateless UAS) does so within
  // this call, through TransactionLayer::send_stateless(), and returns true; it must then
  // answer a retransmission as it answered the original. False (the default): a server
  // transaction is created and on_request follows. `key` is the request's server_key(), as
  // the layer matched it.
  virtual bool on_stateless_request(const Message& request, std::string_view key, const transport::Source& source) {
    static_cast<void>(request);
    static_cast<void>(key);
    static_cast<void>(source);
    return false;
  }
  // An ACK that matched no server transaction in Completed/Confirmed: an ACK for a 2xx (end
  // to end), or one passed up by the RFC 6026 Accepted state.
  virtual void on_ack(const Message& ack, const transport::Source& source) {
    static_cast<void>(ack);
    static_cast<void>(source);
  }
  // A response that matched no client transaction (§18.1.2 stray response; a proxy may
  // forward 2xx).
  virtual void on_stray_response(const Message& response, const transport::Source& source) {
    static_cast<void>(response);
    static_cast<void>(source);
  }
  // A server transaction ended without the TU's final response being delivered: Timer H
  // fired (no ACK), or the transport failed (also reported, once per failure, when a 2xx
  // send fails in the RFC 6026 Accepted state, where the transaction lives on until Timer L).
  virtual void on_server_transaction_failed(ServerTransactionId id) { static_cast<void>(id); }
};

// Upcalls of one client transaction; each may be empty. Called on the shard thread; after
// on_timeout or on_transport_error nothing more is called.
struct ClientCallbacks {
  std::function<void(const Message& response)> on_response;  // every response delivered
  std::function<void()> on_timeout;                          // Timer B / F
  std::function<void(const boost::system::error_code&)> on_transport_error;
};

struct TransactionLayerConfig {
  TimerValues timers;
  std::uint32_t shard = 0;  // encoded in new_branch()
  // Buckets each transaction table reserves up front, at 4 transactions a bucket. A hash
  // table that outgrows its buckets rehashes all at once: at 180,000 completed REGISTER
  // transactions (18 s of 10,000/s, each kept 32 s by Timer J) that held the loop 73 ms.
  // A server sets 131,072 (1 MiB a table): no rehash below 524,288 transactions. 0: none.
  std::size_t presized_buckets = 0;
};

// The RFC 3261 §17 transaction layer of one shard: owns the server and client transactions,
// matches incoming messages to them (§17.1.3, §17.2.3), drives their pure machines and
// executes the machines' actions (sends through MessageSender, upcalls to TransactionUser
// and ClientCallbacks, timers on the shard's TimerService).
//
// Reliability of a transaction comes from the protocol it runs on: UDP unreliable, anything
// else reliable. INVITE transactions follow RFC 6026 (Accepted state); the server INVITE
// transaction sends 100 (Trying) at once.
//
// Threading: not thread-safe; one layer per shard, used only on the shard's thread.
// Re-entrancy: upcalls may call any member; calls that feed a machine are queued while an
// upcall is running and processed in order before the outermost call returns.
// Lifetime: `timers`, `sender` and `user` must outlive the layer. Destroying the layer
// cancels its timers; SendDone callbacks that run afterwards do nothing.
class TransactionLayer {
 public:
  TransactionLayer(TimerService& timers, MessageSender& sender, TransactionUser& user,
                   TransactionLayerConfig config);
  TransactionLayer(const TransactionLayer&) = delete;
  TransactionLayer& operator=(const TransactionLayer&) = delete;
  ~TransactionLayer();

  // A parsed, checked message from the transport. Requests: a retransmission goes to its
  // transaction (which resends the last response or absorbs it), an ACK to its INVITE
  // transaction (non-2xx) or to TransactionUser::on_ack, anything else creates a server
  // transaction and goes to on_request. Responses: matched to a client transaction (§17.1.3)
  // or passed to on_stray_response. Messages that cannot be keyed are dropped.
  void receive(const Message& message, const transport::Source& source);

  // The TU's response for server transaction `id`. Ignored (returns false) if the
  // transaction is gone or `response` is not a response with a status 100-699. A response
  // the machine does not accept (e.g. one after a final) is dropped.
  bool respond(ServerTransactionId id, const Message& response);
  // RFC 4320 §4.2: the TU will not answer non-INVITE server transaction `id` (it could not in
  // time, and a 408 would only mislead): no response is sent; the transaction absorbs
  // retransmissions of the request until Timer J, then ends. False (and nothing done) for an
  // INVITE transaction, a gone one, or one already answered with a final response.
  bool abandon(ServerTransactionId id);
  // A response sent without a transaction (from TransactionUser::on_stateless_request), to
  // where RFC 3261 §18.2.2 says for a request from `request_source`; nothing is kept.
  void send_stateless(const Message& response, const transport::Source& request_source);

  // Starts a client transaction for `request`, whose top Via must already carry a branch
  // (see new_branch()). Returns 0 (and starts nothing) for an ACK (sent without a
  // transaction), a request that cannot be keyed (no Via branch or CSeq) or one whose key a
  // live client transaction already has. Called from an upcall, the id is returned at once
  // and the first transmission follows when the upcall returns.
  ClientTransactionId send_request(const Message& request, const transport::Destination& to,
                                   ClientCallbacks callbacks);

  // Ends client transaction `id` at once, reporting nothing: its TU gave up on it (a proxy
  // branch whose INVITE stays in Proceeding after Timer C and the CANCEL it sent, RFC 3261
  // §16.8; nothing else would end it). Later responses to it are stray. False if it is gone.
  bool terminate(ClientTransactionId id);

  // The INVITE server transaction a CANCEL refers to (§9.2: same branch/top Via, method
  // INVITE), if live.
  std::optional<ServerTransactionId> find_invite_for_cancel(const Message& cancel) const;

  // The request that created server transaction `id` (nullptr if gone, or a non-INVITE
  // transaction that has sent its final response). Valid until the transaction ends.
  const Message* request_of(ServerTransactionId id) const;

  // A fresh RFC 3261 branch: "z9hG4bK-" + shard + "-" + 16 hex digits (64 random bits).
  std::string new_branch();
  // The shard encoded in a branch made by new_branch(), if it is one.
  static std::optional<std::uint32_t> shard_of_branch(std::string_view branch);

  std::size_t server_transactions() const { return servers_.size(); }
  std::size_t client_transactions() const { return clients_.size(); }

 private:
  using TimerIds = std::array<TimerId, kTimerNameCount>;

  struct ServerTransaction {
    using Machine = std::variant<ServerInviteMachine, ServerNonInviteMachine>;
    // What the transaction holds until its final response: the request, and the last
    // response sent (which shares the request's text).
    struct Exchange {
      Message request;
      std::optional<Message> last_response;
    };
    ServerTransaction(ServerTransactionId id_in, Message request_in, transport::Source source_in,
                      Machine machine_in)
        : id(id_in),
          source(std::move(source_in)),
          machine(machine_in),
          exchange(std::make_unique<Exchange>(Exchange{std::move(request_in), std::nullopt})) {}

    ServerTransactionId id = 0;
    transport::Source source;
    Machine machine;
    std::vector<std::string> keys;  // server_index_ holds views of them
    TimerIds timers{};
    // Null once a non-INVITE transaction is Completed: for Timer J (32 s over UDP) it only
    // answers retransmissions of the request, with `final_response`, the bytes of its final
    // response. An OPTIONS transaction kept 3,250 bytes for those 32 s with the messages.
    std::unique_ptr<Exchange> exchange;
    std::string final_response;
  };

  struct ClientTransaction {
    using Machine = std::variant<ClientInviteMachine, ClientNonInviteMachine>;
    // What the transaction holds until it has nothing more to send or report.
    struct Exchange {
      Message request;
      ClientCallbacks callbacks;
    };
    ClientTransaction(ClientTransactionId id_in, Message request_in,
                      transport::Destination destination_in, ClientCallbacks callbacks_in,
                      Machine machine_in, std::string key_in)
        : id(id_in),
          destination(std::move(destination_in)),
          machine(machine_in),
          key(std::move(key_in)),
          exchange(std::make_unique<Exchange>(Exchange{std::move(request_in), std::move(callbacks_in)})) {}

    ClientTransactionId id = 0;
    transport::Destination destination;
    Machine machine;
    std::string key;                  // client_index_ holds a view of it
    boost::system::error_code error;  // the last transport error
    TimerIds timers{};
    // Null once a non-INVITE transaction is Completed: until Timer K (5 s over UDP) it only
    // absorbs retransmissions of its final response.
    std::unique_ptr<Exchange> exchange;
  };

  // Runs `step` now and then every step queued meanwhile; the caller queues instead (with
  // copies of its arguments) when running_ is set, i.e. when called from an upcall.
  template <class F>
  void run_now(F&& step);
  void run_or_queue(std::function<void()> step);

  void receive_now(const Message& message, const transport::Source& source);
  void respond_now(ServerTransactionId id, const Message& response);
  void start_client(ClientTransactionId id);

  void receive_request(const Message& request, const transport::Source& source);
  void receive_response(const Message& response, const transport::Source& source);
  void start_server(const Message& request, const transport::Source& source, std::string key);

  void execute(ServerTransaction& txn, const Actions& actions);
  void execute(ClientTransaction& txn, const Actions& actions);
  void send_response(ServerTransaction& txn, const Message& response);
  void send_request(ClientTransaction& txn, const Message& request);
  SendDone server_done(ServerTransactionId id);
  SendDone client_done(ClientTransactionId id);
  void on_server_timer(ServerTransactionId id, TimerName timer);
  void on_client_timer(ClientTransactionId id, TimerName timer);
  void erase_server(ServerTransactionId id);
  void erase_client(ClientTransactionId id);
  void cancel_all(TimerIds& timers);

  TimerService& timer_service_;
  MessageSender& sender_;
  TransactionUser& user_;
  TransactionLayerConfig config_;

  // The indexes view the keys their transactions own: a key is stored once.
  std::unordered_map<ServerTransactionId, std::unique_ptr<ServerTransaction>> servers_;
  std::unordered_map<std::string_view, ServerTransactionId> server_index_;
  std::unordered_map<ClientTransactionId, std::unique_ptr<ClientTransaction>> clients_;
  std::unordered_map<std::string_view, ClientTransactionId> client_index_;

  // The message (TU response, ACK, received response) and source of the input being fed to
  // a machine; set around one execute() call, read by the actions it runs.
  const Message* input_message_ = nullptr;
  const transport::Source* input_source_ = nullptr;

  bool running_ = false;
  std::deque<std::function<void()>> queued_;
  std::mt19937_64 random_;
  // SendDone callbacks hold a weak_ptr to this token and do nothing once it is gone.
  std::shared_ptr<TransactionLayer*> alive_;
};

}  // namespace herald::sip::txn
