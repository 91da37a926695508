#include "sip/txn/transaction_layer.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <utility>

#include "sip/msg/ack.h"
#include "sip/txn/machine_inputs.h"
#include "sip/txn/transaction_key.h"

namespace herald::sip::txn {
namespace {

constexpr std::string_view kBranchPrefix = "z9hG4bK-";

// Process-wide, so ids are never reused across the layers of several shards either.
std::atomic<std::uint64_t> g_next_server_id{1};
std::atomic<std::uint64_t> g_next_client_id{1};

Reliability reliability_of(transport::Protocol protocol) {
  return transport::kind_of(protocol).reliable ? Reliability::kReliable : Reliability::kUnreliable;
}

std::variant<ServerInviteMachine, ServerNonInviteMachine> server_machine(Method method,
                                                                         const TimerValues& timers,
                                                                         Reliability reliability) {
  if (method == Method::kInvite) return ServerInviteMachine(timers, reliability);
  return ServerNonInviteMachine(timers, reliability);
}

std::variant<ClientInviteMachine, ClientNonInviteMachine> client_machine(Method method,
                                                                         const TimerValues& timers,
                                                                         Reliability reliability) {
  if (method == Method::kInvite) return ClientInviteMachine(timers, reliability);
  return ClientNonInviteMachine(timers, reliability);
}

}  // namespace

TransactionLayer::TransactionLayer(TimerService& timers, MessageSender& sender,
                                   TransactionUser& user, TransactionLayerConfig config)
    : timer_service_(timers),
      sender_(sender),
      user_(user),
      config_(config),
      random_(std::random_device{}()),
      alive_(std::make_shared<TransactionLayer*>(this)) {
  if (config_.presized_buckets > 0) {
    auto presize = [&](auto& table) {
      table.max_load_factor(4.0F);
      table.rehash(config_.presized_buckets);
    };
    presize(servers_);
    presize(server_index_);
    presize(clients_);
    presize(client_index_);
  }
}

TransactionLayer::~TransactionLayer() {
  for (auto& [id, txn] : servers_) cancel_all(txn->timers);
  for (auto& [id, txn] : clients_) cancel_all(txn->timers);
}

template <class F>
void TransactionLayer::run_now(F&& step) {
  running_ = true;
  step();
  while (!queued_.empty()) {
    std::function<void()> next = std::move(queued_.front());
    queued_.pop_front();
    next();
  }
  running_ = false;
}

void TransactionLayer::run_or_queue(std::function<void()> step) {
  if (running_) {
    queued_.push_back(std::move(step));
  } else {
    run_now(step);
  }
}

// ---- public entry points

void TransactionLayer::receive(const Message& message, const transport::Source& source) {
  if (running_) {
    queued_.emplace_back([this, message, source] { receive_now(message, source); });
    return;
  }
  run_now([&] { receive_now(message, source); });
}

bool TransactionLayer::respond(ServerTransactionId id, const Message& response) {
  if (servers_.find(id) == servers_.end()) return false;
  if (!response.is_response() || !classify_status(response.status_code())) return false;
  if (running_) {
    queued_.emplace_back([this, id, response] { respond_now(id, response); });
  } else {
    run_now([&] { respond_now(id, response); });
  }
  return true;
}

bool TransactionLayer::abandon(ServerTransactionId id) {
  auto it = servers_.find(id);
  if (it == servers_.end()) return false;
  auto* machine = std::get_if<ServerNonInviteMachine>(&it->second->machine);
  if (machine == nullptr || (machine->state() != ServerNonInviteMachine::State::kTrying &&
                             machine->state() != ServerNonInviteMachine::State::kProceeding)) {
    return false;
  }
  run_or_queue([this, id] {
    auto found = servers_.find(id);
    if (found == servers_.end()) return;
    auto* m = std::get_if<ServerNonInviteMachine>(&found->second->machine);
    if (m != nullptr) execute(*found->second, m->on_tu_abandon());
  });
  return true;
}

void TransactionLayer::send_stateless(const Message& response, const transport::Source& request_source) {
  sender_.send_response(response, request_source, {});
}

ClientTransactionId TransactionLayer::send_request(const Message& request,
                                                   const transport::Destination& to,
                                                   ClientCallbacks callbacks) {
  if (!request.is_request() || request.method() == Method::kAck) return 0;
  auto key = client_key(request);
  if (!key || client_index_.count(*key) != 0) return 0;
  const ClientTransactionId id = g_next_client_id.fetch_add(1, std::memory_order_relaxed);
  auto txn = std::make_unique<ClientTransaction>(
      id, request, to, std::move(callbacks),
      client_machine(request.method(), config_.timers, reliability_of(to.protocol)), std::move(*key));
  client_index_.emplace(txn->key, id);  // a view of the key the transaction owns
  clients_.emplace(id, std::move(txn));
  run_or_queue([this, id] { start_client(id); });
  return id;
}

std::optional<ServerTransactionId> TransactionLayer::find_invite_for_cancel(
    const Message& cancel) const {
  auto key = invite_key_for(cancel);
  if (!key) return std::nullopt;
  auto found = server_index_.find(*key);
  if (found == server_index_.end()) return std::nullopt;
  auto txn = servers_.find(found->second);
  if (txn == servers_.end() || !std::holds_alternative<ServerInviteMachine>(txn->second->machine)) {
    return std::nullopt;
  }
  return found->second;
}

const Message* TransactionLayer::request_of(ServerTransactionId id) const {
  auto found = servers_.find(id);
  if (found == servers_.end() || found->second->exchange == nullptr) return nullptr;
  return &found->second->exchange->request;
}

std::string TransactionLayer::new_branch() {
  // Every NOTIFY and proxied request takes one: digits by hand, not through printf.
  static constexpr char kHex[] = "0123456789abcdef";
  char text[kBranchPrefix.size() + 10 + 1 + 16];
  char* out = std::copy(kBranchPrefix.begin(), kBranchPrefix.end(), text);
  out = std::to_chars(out, out + 10, config_.shard).ptr;
  *out++ = '-';
  std::uint64_t bits = random_();
  for (int i = 15; i >= 0; --i, bits >>= 4) out[i] = kHex[bits & 0xF];
  return std::string(text, out + 16);
}

std::optional<std::uint32_t> TransactionLayer::shard_of_branch(std::string_view branch) {
  if (branch.substr(0, kBranchPrefix.size()) != kBranchPrefix) return std::nullopt;
  branch.remove_prefix(kBranchPrefix.size());
  const std::size_t dash = branch.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 10) return std::nullopt;
  std::uint64_t shard = 0;
  for (char c : branch.substr(0, dash)) {
    if (c < '0' || c > '9') return std::nullopt;
    shard = shard * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (shard > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(shard);
}

// ---- matching

void TransactionLayer::receive_now(const Message& message, const transport::Source& source) {
  if (message.is_request()) {
    receive_request(message, source);
  } else {
    receive_response(message, source);
  }
}

void TransactionLayer::receive_request(const Message& request, const transport::Source& source) {
  auto key = server_key(request);
  if (!key) return;  // cannot be matched: dropped
  auto found = server_index_.find(*key);
  ServerTransaction* txn = nullptr;
  if (found != server_index_.end()) {
    auto it = servers_.find(found->second);
    if (it != servers_.end()) txn = it->second.get();
  }
  if (request.method() == Method::kAck) {
    auto* machine = txn != nullptr ? std::get_if<ServerInviteMachine>(&txn->machine) : nullptr;
    if (machine == nullptr) {
      user_.on_ack(request, source);
      return;
    }
    input_message_ = &request;
    input_source_ = &source;
    execute(*txn, machine->on_ack());
    input_message_ = nullptr;
    input_source_ = nullptr;
    return;
  }
  if (txn != nullptr) {
    execute(*txn, std::visit([](auto& m) { return m.on_request(); }, txn->machine));
    return;
  }
  if (user_.on_stateless_request(request, *key, source)) return;
  start_server(request, source, std::move(*key));
}

void TransactionLayer::start_server(const Message& request, const transport::Source& source,
                                    std::string key) {
  const ServerTransactionId id = g_next_server_id.fetch_add(1, std::memory_order_relaxed);
  auto txn = std::make_unique<ServerTransaction>(
      id, request, source,
      server_machine(request.method(), config_.timers, reliability_of(source.protocol)));
  std::vector<std::string> candidates;
  candidates.push_back(std::move(key));
  if (request.method() == Method::kInvite) {
    if (auto ack_key = ack_key_2543(request)) candidates.push_back(std::move(*ack_key));
  }
  // A key already taken (an RFC 2543 ACK key shared by two INVITEs) stays with its owner. The
  // keys are settled before the index takes views of them: the vector does not change after.
  txn->keys.reserve(candidates.size());
  for (std::string& candidate : candidates) {
    if (server_index_.count(candidate) != 0) continue;
    if (std::find(txn->keys.begin(), txn->keys.end(), candidate) != txn->keys.end()) continue;
    txn->keys.push_back(std::move(candidate));
  }
  for (const std::string& k : txn->keys) server_index_.emplace(k, id);
  ServerTransaction& ref = *txn;
  servers_.emplace(id, std::move(txn));
  execute(ref, std::visit([](auto& m) { return m.start(); }, ref.machine));
}

void TransactionLayer::receive_response(const Message& response, const transport::Source& source) {
  auto key = client_key(response);
  if (!key) return;
  auto cls = classify_status(response.status_code());
  if (!cls) return;
  auto found = client_index_.find(*key);
  if (found == client_index_.end()) {
    user_.on_stray_response(response, source);
    return;
  }
  auto it = clients_.find(found->second);
  if (it == clients_.end()) return;
  ClientTransaction& txn = *it->second;
  input_message_ = &response;
  input_source_ = &source;
  execute(txn, std::visit([&](auto& m) { return m.on_response(*cls); }, txn.machine));
  input_message_ = nullptr;
  input_source_ = nullptr;
}

void TransactionLayer::respond_now(ServerTransactionId id, const Message& response) {
  auto it = servers_.find(id);
  if (it == servers_.end()) return;
  auto cls = classify_status(response.status_code());
  if (!cls) return;
  ServerTransaction& txn = *it->second;
  input_message_ = &response;
  execute(txn, std::visit([&](auto& m) { return m.on_tu_response(*cls); }, txn.machine));
  input_message_ = nullptr;
}

void TransactionLayer::start_client(ClientTransactionId id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  ClientTransaction& txn = *it->second;
  execute(txn, std::visit([](auto& m) { return m.start(); }, txn.machine));
}

// ---- executing actions
//
// execute() runs inside run_now(): upcalls that call back into the layer only queue work, so
// no transaction is created or erased while a list runs, except by the list's own
// kTerminated, which is always last; after it `txn` is gone and nothing touches it.

void TransactionLayer::execute(ServerTransaction& txn, const Actions& actions) {
  const ServerTransactionId id = txn.id;
  for (const Action& action : actions) {
    switch (action.kind) {
      case ActionKind::kSendTrying:
        if (txn.exchange != nullptr) {
          txn.exchange->last_response = make_response(txn.exchange->request, 100, "");
          send_response(txn, *txn.exchange->last_response);
        }
        break;
      case ActionKind::kSendResponse:
        if (input_message_ != nullptr && txn.exchange != nullptr) {
          txn.exchange->last_response = *input_message_;
          send_response(txn, *txn.exchange->last_response);
        }
        break;
      case ActionKind::kResendResponse:
        if (txn.exchange != nullptr) {
          if (txn.exchange->last_response) send_response(txn, *txn.exchange->last_response);
        } else if (auto final_response = parse_message(txn.final_response)) {
          send_response(txn, final_response.value());  // a retransmission: rare, parsed again
        }
        break;
      case ActionKind::kDeliverRequest:
        if (txn.exchange == nullptr) break;
        if (txn.exchange->request.method() == Method::kInvite && input_message_ != nullptr &&
            input_source_ != nullptr) {
          user_.on_ack(*input_message_, *input_source_);  // RFC 6026 Accepted: ACK for a 2xx
        } else {
          user_.on_request(id, txn.exchange->request, txn.source);
        }
        break;
      case ActionKind::kReportTimeout:
      case ActionKind::kReportTransportError:
        user_.on_server_transaction_failed(id);
        break;
      case ActionKind::kArmTimer: {
        const TimerName timer = action.timer;
        txn.timers[static_cast<std::size_t>(timer)] = timer_service_.schedule_after(
            action.duration, [this, id, timer] { on_server_timer(id, timer); });
        break;
      }
      case ActionKind::kCancelTimer: {
        TimerId& timer = txn.timers[static_cast<std::size_t>(action.timer)];
        timer_service_.cancel(timer);
        timer = {};
        break;
      }
      case ActionKind::kTerminated:
        erase_server(id);
        return;
      case ActionKind::kSendRequest:
      case ActionKind::kSendAck:
      case ActionKind::kDeliverResponse:
        break;  // client actions; never emitted by a server machine
    }
  }
  // A non-INVITE transaction with its final response only resends it to retransmissions of
  // the request until Timer J ends it: the messages go, the response's bytes stay.
  // An abandoned one keeps nothing: it absorbs retransmissions without answering.
  const auto* non_invite = std::get_if<ServerNonInviteMachine>(&txn.machine);
  if (non_invite != nullptr && non_invite->state() == ServerNonInviteMachine::State::kCompleted &&
      txn.exchange != nullptr) {
    if (!non_invite->abandoned() && txn.exchange->last_response) {
      txn.final_response = serialize(*txn.exchange->last_response);
      txn.exchange.reset();
    } else if (non_invite->abandoned()) {
      txn.exchange.reset();
    }
  }
}

void TransactionLayer::execute(ClientTransaction& txn, const Actions& actions) {
  const ClientTransactionId id = txn.id;
  for (const Action& action : actions) {
    switch (action.kind) {
      case ActionKind::kSendRequest:
        if (txn.exchange != nullptr) send_request(txn, txn.exchange->request);
        break;
      case ActionKind::kSendAck:
        if (input_message_ != nullptr && txn.exchange != nullptr) {
          send_request(txn, make_ack(txn.exchange->request, *input_message_));
        }
        break;
      case ActionKind::kDeliverResponse:
        if (input_message_ != nullptr && txn.exchange != nullptr && txn.exchange->callbacks.on_response) {
          txn.exchange->callbacks.on_response(*input_message_);
        }
        break;
      case ActionKind::kReportTimeout:
        if (txn.exchange != nullptr && txn.exchange->callbacks.on_timeout) txn.exchange->callbacks.on_timeout();
        break;
      case ActionKind::kReportTransportError:
        if (txn.exchange != nullptr && txn.exchange->callbacks.on_transport_error) {
          txn.exchange->callbacks.on_transport_error(txn.error);
        }
        break;
      case ActionKind::kArmTimer: {
        const TimerName timer = action.timer;
        txn.timers[static_cast<std::size_t>(timer)] = timer_service_.schedule_after(
            action.duration, [this, id, timer] { on_client_timer(id, timer); });
        break;
      }
      case ActionKind::kCancelTimer: {
        TimerId& timer = txn.timers[static_cast<std::size_t>(action.timer)];
        timer_service_.cancel(timer);
        timer = {};
        break;
      }
      case ActionKind::kTerminated:
        erase_client(id);
        return;
      case ActionKind::kSendTrying:
      case ActionKind::kSendResponse:
      case ActionKind::kResendResponse:
      case ActionKind::kDeliverRequest:
        break;  // server actions; never emitted by a client machine
    }
  }
  // A non-INVITE transaction with its final response only absorbs retransmissions of it until
  // Timer K (T4, 5 s over UDP) ends it: it sends nothing and reports nothing any more, so its
  // copy of the request and its callbacks go now. A fan-out keeps a NOTIFY's transaction for
  // those 5 s, 175,000 of them at 35,000 NOTIFYs a second.
  const auto* non_invite = std::get_if<ClientNonInviteMachine>(&txn.machine);
  if (non_invite != nullptr && non_invite->state() == ClientNonInviteMachine::State::kCompleted) {
    txn.exchange.reset();
  }
}

void TransactionLayer::send_response(ServerTransaction& txn, const Message& response) {
  sender_.send_response(response, txn.source, server_done(txn.id));
}

void TransactionLayer::send_request(ClientTransaction& txn, const Message& request) {
  sender_.send_request(request, txn.destination, client_done(txn.id));
}

SendDone TransactionLayer::server_done(ServerTransactionId id) {
  std::weak_ptr<TransactionLayer*> alive = alive_;
  return [alive, id](const boost::system::error_code& error) {
    if (!error) return;
    auto layer_token = alive.lock();
    if (!layer_token) return;
    TransactionLayer* layer = *layer_token;
    auto step = [layer, id] {
      auto it = layer->servers_.find(id);
      if (it == layer->servers_.end()) return;
      ServerTransaction& txn = *it->second;
      layer->execute(txn, std::visit([](auto& m) { return m.on_transport_error(); }, txn.machine));
    };
    layer->run_or_queue(std::move(step));
  };
}

SendDone TransactionLayer::client_done(ClientTransactionId id) {
  std::weak_ptr<TransactionLayer*> alive = alive_;
  return [alive, id](const boost::system::error_code& error) {
    if (!error) return;
    auto layer_token = alive.lock();
    if (!layer_token) return;
    TransactionLayer* layer = *layer_token;
    auto step = [layer, id, error] {
      auto it = layer->clients_.find(id);
      if (it == layer->clients_.end()) return;
      ClientTransaction& txn = *it->second;
      txn.error = error;
      layer->execute(txn, std::visit([](auto& m) { return m.on_transport_error(); }, txn.machine));
    };
    layer->run_or_queue(std::move(step));
  };
}

void TransactionLayer::on_server_timer(ServerTransactionId id, TimerName timer) {
  auto step = [this, id, timer] {
    auto it = servers_.find(id);
    if (it == servers_.end()) return;
    ServerTransaction& txn = *it->second;
    txn.timers[static_cast<std::size_t>(timer)] = {};
    execute(txn, std::visit([timer](auto& m) { return m.on_timer(timer); }, txn.machine));
  };
  run_or_queue(std::move(step));
}

void TransactionLayer::on_client_timer(ClientTransactionId id, TimerName timer) {
  auto step = [this, id, timer] {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    ClientTransaction& txn = *it->second;
    txn.timers[static_cast<std::size_t>(timer)] = {};
    execute(txn, std::visit([timer](auto& m) { return m.on_timer(timer); }, txn.machine));
  };
  run_or_queue(std::move(step));
}

// ---- ending transactions

void TransactionLayer::erase_server(ServerTransactionId id) {
  auto it = servers_.find(id);
  if (it == servers_.end()) return;
  cancel_all(it->second->timers);
  for (const std::string& key : it->second->keys) {
    auto found = server_index_.find(key);
    if (found != server_index_.end() && found->second == id) server_index_.erase(found);
  }
  servers_.erase(it);
}

bool TransactionLayer::terminate(ClientTransactionId id) {
  if (clients_.find(id) == clients_.end()) return false;
  run_or_queue([this, id] { erase_client(id); });
  return true;
}

void TransactionLayer::erase_client(ClientTransactionId id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  cancel_all(it->second->timers);
  auto found = client_index_.find(it->second->key);
  if (found != client_index_.end() && found->second == id) client_index_.erase(found);
  clients_.erase(it);
}

void TransactionLayer::cancel_all(TimerIds& timers) {
  for (TimerId& timer : timers) {
    if (timer.valid()) timer_service_.cancel(timer);
    timer = {};
  }
}

}  // namespace herald::sip::txn
