// Micro-benchmarks of the server's per-request hot paths above sip/msg: the transaction
// layer (a new server transaction from receipt to its final response, ended at once over TCP
// or kept Completed over UDP; a retransmission matched among many live transactions), the
// location service (a lookup, a contact match), the registrar (a REGISTER refresh and its
// 200 listing every binding of the AOR) and the NOTIFY a fan-out builds per watcher, the
// user lookup of every REGISTER (store or cache), the store's write of a new binding and the
// digest nonce every challenge makes and every credential's check verifies. items/s is
// operations per second on one core.
//
//   scripts/bench.sh                                   (Release build, 5 repetitions, medians)
//   build/release/bench/core_bench --benchmark_filter=Registrar

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "services/auth/nonce.h"
#include "services/events/notify_request.h"
#include "services/registrar/location_service.h"
#include "services/registrar/registrar.h"
#include "sip/msg/message.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"
#include "store/ha1.h"
#include "store/sqlite_store.h"
#include "store/user_cache.h"

namespace herald {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

sip::Message must_parse(std::string text) {
  auto parsed = sip::parse_message(std::move(text));
  if (!parsed.ok()) {
    std::cerr << "benchmark message does not parse: " << parsed.why() << "\n";
    std::abort();
  }
  return std::move(parsed).value();
}

// A REGISTER of contact `contact` for user `user`; `call` picks its Call-ID (a refresh from
// another Call-ID than the binding's last is never out of order, RFC 3261 §10.3 step 7).
std::string register_text(int user, int contact, std::string_view branch, int call = 0) {
  return "REGISTER sip:example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK" +
         std::string(branch) +
         "\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:u" + std::to_string(user) + "@example.com>;tag=1928301774\r\n"
         "To: <sip:u" + std::to_string(user) + "@example.com>\r\n"
         "Call-ID: a84b4c76e66710-" + std::to_string(user) + "-" + std::to_string(call) + "@pc33.example.com\r\n"
         "CSeq: " + std::to_string(100 + contact) + " REGISTER\r\n"
         "Contact: <sip:u" + std::to_string(user) + "-" + std::to_string(contact) +
         "@192.0.2.10:5060>\r\n"
         "Expires: 3600\r\n"
         "Content-Length: 0\r\n"
         "\r\n";
}

sip::transport::Source udp_source() {
  sip::transport::Source s;
  s.protocol = sip::transport::Protocol::kUdp;
  s.remote_address = boost::asio::ip::make_address("192.0.2.10");
  s.remote_port = 5060;
  s.local_address = boost::asio::ip::make_address("127.0.0.1");
  s.local_port = 5060;
  return s;
}

// ---- the transaction layer

// Counts what the layer sends; never fails a send.
class CountingSender final : public sip::txn::MessageSender {
 public:
  void send_response(const sip::Message& response, const sip::transport::Source&, sip::txn::SendDone) override {
    benchmark::DoNotOptimize(response.status_code());
    ++sent;
  }
  void send_request(const sip::Message&, const sip::transport::Destination&, sip::txn::SendDone) override { ++sent; }
  std::size_t sent = 0;
};

// Answers every request at once with 200 through the layer, as the server core does.
class AnsweringUser final : public sip::txn::TransactionUser {
 public:
  void on_request(sip::txn::ServerTransactionId id, const sip::Message& request,
                  const sip::transport::Source&) override {
    layer->respond(id, sip::make_response(request, 200, "OK", "a6c85cf"));
  }
  sip::txn::TransactionLayer* layer = nullptr;
};

struct LayerFixture {
  sip::txn::ManualClock clock;
  sip::txn::TimerService timers{clock};
  CountingSender sender;
  AnsweringUser user;
  sip::txn::TransactionLayer layer{timers, sender, user, {}};
  LayerFixture() { user.layer = &layer; }
};

// A new REGISTER (a branch never seen) from receipt to its 200; over TCP, so the transaction
// ends with the response and the table stays small.
void BM_NewServerTransaction(benchmark::State& state) {
  LayerFixture f;
  sip::transport::Source source = udp_source();
  source.protocol = sip::transport::Protocol::kTcp;
  std::vector<sip::Message> requests;
  constexpr int kDistinct = 4096;
  for (int i = 0; i < kDistinct; ++i) requests.push_back(must_parse(register_text(i, 0, "new" + std::to_string(i))));
  std::size_t i = 0;
  for (auto _ : state) {
    f.layer.receive(requests[i++ % kDistinct], source);
  }
  if (f.sender.sent != static_cast<std::size_t>(state.iterations())) state.SkipWithError("not every request answered");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewServerTransaction);

// A new request over UDP from receipt to its 200, whose transaction then stays Completed for
// Timer J (32 s) as a loaded server's do: the tables (presized as the server's) grow by one
// transaction an iteration, up to the benchmark's iteration count.
void BM_NewServerTransactionKept(benchmark::State& state) {
  sip::txn::ManualClock clock;
  sip::txn::TimerService timers{clock};
  CountingSender sender;
  AnsweringUser user;
  sip::txn::TransactionLayerConfig config;
  config.presized_buckets = std::size_t{1} << 17;
  sip::txn::TransactionLayer layer{timers, sender, user, config};
  user.layer = &layer;
  const sip::transport::Source source = udp_source();
  std::vector<std::string> texts;
  constexpr int kDistinct = 4096;
  for (int i = 0; i < kDistinct; ++i) texts.push_back(register_text(i, 0, "kept" + std::to_string(i)));
  std::size_t i = 0;
  for (auto _ : state) {
    // A fresh branch per iteration: every request opens a transaction of its own.
    state.PauseTiming();
    std::string text = texts[i % kDistinct];
    text.replace(text.find("branch=z9hG4bK") + 14, 0, std::to_string(i / kDistinct) + "x");
    sip::Message request = must_parse(std::move(text));
    ++i;
    state.ResumeTiming();
    layer.receive(request, source);
  }
  if (layer.server_transactions() != static_cast<std::size_t>(state.iterations())) {
    state.SkipWithError("not every transaction was kept");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewServerTransactionKept);

// A retransmitted REGISTER matched to its completed transaction (UDP, Timer J pending) among
// range(0) live ones, and its 200 sent again.
void BM_RetransmissionMatched(benchmark::State& state) {
  LayerFixture f;
  const sip::transport::Source source = udp_source();
  const int live = static_cast<int>(state.range(0));
  for (int i = 0; i < live; ++i) f.layer.receive(must_parse(register_text(i, 0, "live" + std::to_string(i))), source);
  const sip::Message again = must_parse(register_text(live / 2, 0, "live" + std::to_string(live / 2)));
  const std::size_t before = f.sender.sent;
  for (auto _ : state) {
    f.layer.receive(again, source);
  }
  if (f.layer.server_transactions() != static_cast<std::size_t>(live) ||
      f.sender.sent - before != static_cast<std::size_t>(state.iterations())) {
    state.SkipWithError("the retransmission did not find its transaction");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RetransmissionMatched)->Arg(1000)->Arg(100000);

// ---- the location service and the registrar

struct LocationFixture {
  sip::txn::ManualClock clock;
  sip::txn::TimerService timers{clock};
  services::registrar::LocationService location{timers, nullptr, [] { return kNow; }};

  // `aors` users with `contacts` bindings each (memory only: no store).
  LocationFixture(int aors, int contacts) {
    spdlog::set_level(spdlog::level::warn);  // the registrar logs each REGISTER at info
    for (int a = 0; a < aors; ++a) {
      for (int c = 0; c < contacts; ++c) {
        store::Binding b;
        b.aor = "sip:u" + std::to_string(a) + "@example.com";
        b.contact = "sip:u" + std::to_string(a) + "-" + std::to_string(c) + "@192.0.2.10:5060";
        b.call_id = "a84b4c76e66710-" + std::to_string(a) + "@pc33.example.com";
        b.cseq = static_cast<std::uint32_t>(100 + c);
        b.expires_at = kNow + 3600;
        b.received = "udp:192.0.2.10:5060";
        b.updated_at = kNow;
        static_cast<void>(location.put(std::move(b)));
      }
    }
  }
};

// The ordered bindings of one AOR among 10,000 (what the proxy forks to), range(0) each.
void BM_BindingLookup(benchmark::State& state) {
  const int contacts = static_cast<int>(state.range(0));
  LocationFixture f(10000, contacts);
  for (auto _ : state) {
    auto bindings = f.location.lookup("sip:u5000@example.com");
    benchmark::DoNotOptimize(bindings.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BindingLookup)->Arg(1)->Arg(10);

// The binding equal to a Contact URI (RFC 3261 §19.1.4), among range(0) of the AOR's.
void BM_BindingMatch(benchmark::State& state) {
  const int contacts = static_cast<int>(state.range(0));
  LocationFixture f(10000, contacts);
  const sip::Uri uri = sip::parse_uri("sip:u5000-" + std::to_string(contacts - 1) + "@192.0.2.10:5060").value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.location.match("sip:u5000@example.com", uri));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BindingMatch)->Arg(1)->Arg(50);

// A REGISTER refreshing one of range(0) bindings of its AOR, and the 200 listing them all.
void BM_RegistrarRefresh(benchmark::State& state) {
  const int contacts = static_cast<int>(state.range(0));
  LocationFixture f(1000, contacts);
  services::registrar::RegistrarConfig config;
  config.domains = {"example.com"};
  services::registrar::Registrar registrar(config, f.location, [](std::string_view) { return true; });
  const sip::transport::Source source = udp_source();
  std::vector<sip::Message> requests;
  for (int call = 1; call <= 2; ++call) {
    for (int c = 0; c < contacts; ++c) requests.push_back(must_parse(register_text(500, c, "refresh", call)));
  }
  std::size_t i = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    sip::Message reply = registrar.handle(requests[i++ % requests.size()], source, std::nullopt);
    if (reply.status_code() != 200) state.SkipWithError("the refresh was refused");
    bytes += sip::serialized_size(reply);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_RegistrarRefresh)->Arg(1)->Arg(10)->Arg(50);

// ---- users

// Whether the AOR of a REGISTER is a user, among 1,000 in SQLite, while another connection
// commits a binding between lookups (as the store's writer thread does, which empties the
// reader's page cache; the commit is not timed). range(0): 0 asks the store, 1 the cache in
// front of it (UserCache, as the shard does).
void BM_UserLookup(benchmark::State& state) {
  const bool cached = state.range(0) != 0;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("herald-bench-users-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    auto reader = store::SqliteStore::open(dir);
    auto writer = store::SqliteStore::open(dir);
    if (!reader.ok() || !writer.ok()) {
      state.SkipWithError("cannot open the store");
      return;
    }
    for (int u = 0; u < 1000; ++u) {
      static_cast<void>((*writer)->add_user(
          *store::make_user("sip:u" + std::to_string(u) + "@example.com", "example.com", "pw")));
    }
    store::UserCache users(**reader);
    store::Binding b;
    b.aor = "sip:u1@example.com";
    b.contact = "sip:u1@192.0.2.10:5060";
    b.id = 1;
    b.call_id = "bench";
    b.expires_at = kNow + 3600;
    std::vector<std::string> aors;
    for (int u = 0; u < 1000; u += 7) aors.push_back("sip:u" + std::to_string(u) + "@example.com");
    std::size_t i = 0;
    for (auto _ : state) {
      state.PauseTiming();
      ++b.cseq;
      static_cast<void>((*writer)->put_binding(b));
      state.ResumeTiming();
      const std::string& aor = aors[i++ % aors.size()];
      const bool known = cached ? users.find(aor) != nullptr : (*reader)->find_user(aor).ok();
      if (!known) state.SkipWithError("a user was not found");
    }
    state.SetItemsProcessed(state.iterations());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_UserLookup)->Arg(0)->Arg(1);

// ---- the store's writes

// New bindings written to SQLite as the store's writer thread writes them (one new contact
// for one of 1,000 AORs each, committed 100 at a time; the commits are timed). range(0): 1
// gives them increasing ids, as the location service does, so each is appended to the
// table; 0 spreads the ids over the table, which is where the (aor, contact) key of schemas
// 4 and 5 put a new binding: the gap is what schema 6 saved per REGISTER.
void BM_BindingWrite(benchmark::State& state) {
  const bool appended = state.range(0) != 0;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("herald-bench-bindings-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    auto store = store::SqliteStore::open(dir);
    if (!store.ok() || !(*store)->batch_writes([] {})) {
      state.SkipWithError("cannot open the store");
      return;
    }
    std::vector<std::string> aors;
    for (int u = 0; u < 1000; ++u) aors.push_back("sip:u" + std::to_string(u) + "@example.com");
    store::Binding b;
    b.call_id = "a84b4c76e66710@pc33.example.com";
    b.expires_at = kNow + 3600;
    b.received = "udp:192.0.2.10:5060";
    b.updated_at = kNow;
    std::uint64_t n = 0;
    for (auto _ : state) {
      ++n;
      b.aor = aors[(n * 7919) % aors.size()];
      b.contact = "sip:c" + std::to_string(n) + "@192.0.2.10:5060";
      // An odd multiplier permutes the integers modulo 2^40: unique ids, in no order.
      b.id = static_cast<std::int64_t>(appended ? n : ((n * 0x9E3779B97F4A7C15ULL) & ((1ULL << 40) - 1)) + 1);
      if (!(*store)->put_binding(b).ok()) state.SkipWithError("a write failed");
      if (n % 100 == 0 && !(*store)->commit_batch().ok()) state.SkipWithError("a commit failed");
    }
    state.SetItemsProcessed(state.iterations());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_BindingWrite)->Arg(0)->Arg(1);

// ---- the NOTIFY of a fan-out

// One watcher's NOTIFY with a one-tuple PIDF body, built and serialized as the notifier sends it.
void BM_NotifyBuild(benchmark::State& state) {
  services::events::Subscription s;
  s.key = "sub-3f2a9b7c11@192.0.2.10;4f2a;ab12cd34;presence;";
  s.package = "presence";
  s.resource = "sip:bob@example.com";
  s.watcher = "sip:alice@example.com";
  s.call_id = "sub-3f2a9b7c11@192.0.2.10";
  s.local_tag = "4f2a91c37e0b5d68";
  s.remote_tag = "ab12cd34";
  s.local_uri = "sip:bob@example.com";
  s.remote_uri = "sip:alice@example.com";
  s.remote_target = "sip:alice@192.0.2.10:5060;transport=udp";
  s.content_type = "application/pidf+xml";
  s.remote_cseq = 1;
  s.expires_at = kNow + 3600;
  s.state = services::events::State::kActive;
  services::events::Body body{"application/pidf+xml",
                              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:bob@example.com\">"
                              "<tuple id=\"t1\"><status><basic>open</basic></status>"
                              "<contact>sip:bob@192.0.2.20:5060</contact><note>Available</note></tuple>"
                              "</presence>\n"};
  services::events::NotifyParts parts;
  parts.state = services::events::State::kActive;
  parts.expires_in = 3600;
  parts.via = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-0-4f2a91c37e0b5d68;rport";
  parts.contact = "<sip:192.0.2.1:5060>";
  parts.body = &body;
  std::uint32_t cseq = 1;
  for (auto _ : state) {
    parts.cseq = ++cseq;
    // Built and serialized, as the notifier sends it.
    benchmark::DoNotOptimize(sip::serialize(services::events::notify_request(s, parts)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NotifyBuild);

// ---- digest nonces: one made per 401, one checked per REGISTER with credentials

void BM_NonceMake(benchmark::State& state) {
  const services::auth::NonceFactory nonces([] { return kNow; });
  for (auto _ : state) benchmark::DoNotOptimize(nonces.make("example.com"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NonceMake);

void BM_NonceCheck(benchmark::State& state) {
  const services::auth::NonceFactory nonces([] { return kNow; });
  const std::string nonce = nonces.make("example.com");
  for (auto _ : state) {
    if (nonces.check(nonce, "example.com") != services::auth::NonceStatus::kValid) {
      state.SkipWithError("the nonce does not check");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NonceCheck);

}  // namespace
}  // namespace herald
