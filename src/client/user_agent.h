#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client/digest_client.h"
#include "sip/msg/message.h"
#include "sip/stack/stack.h"

// The user-agent core of Herald's client library: one SIP endpoint on the same stack as the
// server (sip::Stack: transports, transaction layer, timers). It sends every request to one server (an
// outbound proxy, RFC 3261 §8.1.2), answers digest challenges (MD5 and SHA-256, RFC 8760)
// once per request and re-uses the last challenge for the next requests, and hands incoming
// requests to the handlers the registration, subscription and message parts install.
//
//   boost::asio::io_context io;
//   client::UserAgent ua(io, config);
//   if (auto ec = ua.start()) ...;
//   ua.send(ua.new_request("MESSAGE", "sip:bob@example.com", leg), [](const Outcome& o) {...});
//   io.run();
//
// Threading: everything on the io_context's thread. Lifetime: callbacks given to send() are
// dropped, not run, when the UA is destroyed.
namespace herald::client {

struct UserAgentConfig {
  sip::transport::Protocol protocol = sip::transport::Protocol::kUdp;
  boost::asio::ip::address server_address;
  std::uint16_t server_port = 5060;
  std::string aor;       // "sip:alice@example.com"
  std::string username;  // the digest username (alice)
  // Asked for the password the first time a challenge needs one; nullopt: none available.
  std::function<std::optional<std::string>()> password;
  // No final response within this time: the request failed (server unreachable).
  std::chrono::milliseconds timeout{10000};
  std::string user_agent = "herald/0.1.0";
};

// How a request ended.
struct Outcome {
  enum class Kind { kResponse, kTimeout, kTransportError };
  Kind kind = Kind::kTimeout;
  sip::Message response;  // kResponse: the final response
  std::string error;      // kTransportError: what failed
  // The final response is 401/407 although credentials were sent, or no password was
  // available to answer the challenge.
  bool auth_failed = false;
  bool no_password = false;
  std::uint32_t cseq = 0;  // the CSeq number of the last request sent (retries count up)

  bool ok() const { return kind == Kind::kResponse && response.status_code() < 300; }
  int status() const { return kind == Kind::kResponse ? response.status_code() : 0; }
};
using Completion = std::function<void(const Outcome&)>;

// The identifiers one series of requests shares: a registration, a publication, a dialog.
struct Leg {
  std::string call_id;
  std::string local_uri;  // From
  std::string local_tag;
  std::string remote_uri;  // To
  std::string remote_tag;  // empty outside a dialog
  std::string target;      // Request-URI (the remote target in a dialog)
  std::vector<std::string> route_set;
  std::uint32_t cseq = 0;  // the last CSeq sent
};

// Where incoming requests go. A handler returns false when the request is not its own; the
// UA then tries the next one, and answers what nobody took (OPTIONS 200; NOTIFY 481; other
// methods 405).
using RequestHandler =
    std::function<bool(sip::txn::ServerTransactionId id, const sip::Message& request)>;

class UserAgent final : private sip::txn::TransactionUser {
 public:
  UserAgent(boost::asio::io_context& io, UserAgentConfig config);
  UserAgent(const UserAgent&) = delete;
  UserAgent& operator=(const UserAgent&) = delete;
  ~UserAgent() override;

  // Opens a UDP and a TCP socket on a free port of the local address that reaches the server.
  boost::system::error_code start();
  void close();

  const UserAgentConfig& config() const { return config_; }
  // "127.0.0.1:5060" (IPv6 in brackets), for messages.
  std::string server_text() const;
  // This UA's Contact URI for its protocol: "sip:alice@192.0.2.1:40000" (";transport=tcp").
  std::string contact_uri() const;

  // A fresh leg from this UA's AOR to `remote_uri` (Call-ID and From tag new, CSeq 0).
  Leg new_leg(std::string_view remote_uri);
  // A request on `leg` (sip::dialog_request: Request-URI the target, Route the route set, a
  // strict router's rewrite, From, To, Call-ID, the next CSeq: leg.cseq is incremented,
  // Max-Forwards 70), then User-Agent. Via is added by send().
  sip::Message new_request(std::string_view method, Leg& leg);

  // Sends `request` to the server in a client transaction. A 401/407 with a Digest challenge
  // is answered once (CSeq + 1, new branch); the final response, a timeout or a transport
  // error then goes to `done`.
  void send(sip::Message request, Completion done);

  // Handlers for incoming requests, tried in the order added. The returned id removes one.
  std::uint64_t add_handler(RequestHandler handler);
  void remove_handler(std::uint64_t handler_id);
  // Answers server transaction `id` (to_tag added to To when it has none).
  void respond(sip::txn::ServerTransactionId id, const sip::Message& request, int code, std::string_view reason,
               const std::vector<std::pair<sip::HeaderId, std::string>>& extra = {},
               std::string_view to_tag = {});

  sip::txn::TimerService& timers() { return stack_.timers(); }
  // Random lower-case hex: tags, Call-IDs, cnonces.
  std::string random_hex(std::size_t digits);

 private:
  struct Pending {
    sip::Message request;  // without Via; each transmission adds its own
    Completion done;
    bool answered = false;  // credentials for a fresh challenge were sent
    sip::txn::TimerId deadline;
  };

  void transmit(std::uint64_t pending_id);
  void on_final(std::uint64_t pending_id, Outcome outcome);
  void finish(std::uint64_t pending_id, Outcome outcome);
  // Adds the cached credentials for `request` (if a challenge of the kind its method gets
  // was seen and a password is known).
  void add_cached_credentials(sip::Message& request);
  // Replaces `request`'s credentials of `challenge`'s kind by new ones answering it.
  void add_credentials(sip::Message& request, DigestChallenge& challenge);
  bool answer_challenge(sip::Message& request, const sip::Message& challenge_response, bool& no_password);

  // sip::txn::TransactionUser
  void on_request(sip::txn::ServerTransactionId id, const sip::Message& request,
                  const sip::transport::Source& source) override;

  UserAgentConfig config_;
  boost::asio::ip::address local_address_;  // the address that reaches the server
  sip::Stack stack_;
  std::mt19937_64 random_;

  std::unordered_map<std::uint64_t, Pending> pending_;
  std::uint64_t next_pending_ = 1;
  std::vector<std::pair<std::uint64_t, RequestHandler>> handlers_;
  std::uint64_t next_handler_ = 1;
  // The last challenge of each kind (WWW-Authenticate, Proxy-Authenticate) and its nonce count.
  std::optional<DigestChallenge> www_challenge_;
  std::optional<DigestChallenge> proxy_challenge_;
  std::optional<std::string> password_;
  bool password_asked_ = false;
};

}  // namespace herald::client
