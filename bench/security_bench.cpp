// The checks every message or request now passes through, and what they cost: the per-source
// request budget (every message), the throttle's source check (every request), the dialog
// token (every dialog-creating request Herald record-routes, and every request on its route),
// and the composition of an RPID document (ids made unique over the whole tree).

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "services/auth/throttle.h"
#include "services/presence/pidf.h"
#include "services/proxy/dialog_token.h"
#include "sip/transport/source_limits.h"

namespace {

using boost::asio::ip::make_address;
using herald::sip::transport::RequestBudget;
using herald::sip::transport::RequestBudgetConfig;

// A trusted source (loopback, the default): one subnet test.
void BM_RequestBudgetTrusted(benchmark::State& state) {
  RequestBudgetConfig config;
  config.trusted = {*herald::sip::transport::parse_subnet("127.0.0.0/8"), *herald::sip::transport::parse_subnet("::1")};
  RequestBudget budget(config);
  const auto source = make_address("127.0.0.1");
  const auto now = RequestBudget::Clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(budget.admit(source, now));
}
BENCHMARK(BM_RequestBudgetTrusted);

boost::asio::ip::address nth_source(std::int64_t i) {
  return make_address("10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) + "." +
                      std::to_string(i % 256));
}

// A source with a budget, among `range(0)` others: one table lookup and a refill.
void BM_RequestBudgetCounted(benchmark::State& state) {
  RequestBudgetConfig config;
  config.rate = 1e9;  // always admitted: the cost of the bookkeeping, not of refusing
  config.burst = 1e9;
  config.max_sources = static_cast<std::size_t>(state.range(0)) + 1;
  RequestBudget budget(config);
  auto now = RequestBudget::Clock::now();
  for (int i = 0; i < state.range(0); ++i) budget.admit(nth_source(i), now);
  const auto source = make_address("192.0.2.1");
  for (auto _ : state) {
    now += std::chrono::microseconds(1);
    benchmark::DoNotOptimize(budget.admit(source, now));
  }
}
BENCHMARK(BM_RequestBudgetCounted)->Arg(1)->Arg(100000);

// Sources enough to fill the table (100,000, none idle), then a new one each request: what an
// attacker with that many addresses makes each request cost (one sweep a second at most).
void BM_RequestBudgetFullTable(benchmark::State& state) {
  RequestBudgetConfig config;
  RequestBudget budget(config);
  auto now = RequestBudget::Clock::now();
  for (std::size_t i = 0; i < config.max_sources; ++i) budget.admit(nth_source(static_cast<std::int64_t>(i)), now);
  const auto newcomer = make_address("192.0.2.1");
  for (auto _ : state) {
    now += std::chrono::microseconds(1);
    benchmark::DoNotOptimize(budget.admit(newcomer, now));
  }
  state.counters["sweeps"] = static_cast<double>(budget.counters().sweeps);
}
BENCHMARK(BM_RequestBudgetFullTable);

// The flood's path: a source over its budget, dropped.
void BM_RequestBudgetDrop(benchmark::State& state) {
  RequestBudgetConfig config;
  config.rate = 1;
  config.burst = 1;
  RequestBudget budget(config);
  const auto source = make_address("192.0.2.1");
  const auto now = RequestBudget::Clock::now();
  budget.admit(source, now);
  budget.admit(source, now);
  for (auto _ : state) benchmark::DoNotOptimize(budget.admit(source, now));
}
BENCHMARK(BM_RequestBudgetDrop);

// Every request asks whether its source is in back-off: `range(0)` sources have failed.
void BM_ThrottleSourceCheck(benchmark::State& state) {
  herald::services::auth::Throttle throttle({});
  for (int i = 0; i < state.range(0); ++i) {
    throttle.failed(make_address("10.0." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256)), "",
                    herald::services::auth::Failure::kUnknownUser);
  }
  const auto source = make_address("192.0.2.1");
  for (auto _ : state) benchmark::DoNotOptimize(throttle.source_blocked(source));
}
BENCHMARK(BM_ThrottleSourceCheck)->Arg(0)->Arg(10000);

// Every successful authentication tells the throttle (the account's known sources).
void BM_ThrottleSucceeded(benchmark::State& state) {
  herald::services::auth::Throttle throttle({});
  const auto source = make_address("192.0.2.1");
  for (auto _ : state) throttle.succeeded(source, "alice@example.com");
}
BENCHMARK(BM_ThrottleSucceeded);

void BM_DialogTokenMake(benchmark::State& state) {
  const herald::services::proxy::DialogTokens tokens(std::string(32, 'k'));
  for (auto _ : state) benchmark::DoNotOptimize(tokens.make("a84b4c76e66710@pc33.example.com", "1928301774"));
}
BENCHMARK(BM_DialogTokenMake);

void BM_DialogTokenCheck(benchmark::State& state) {
  const herald::services::proxy::DialogTokens tokens(std::string(32, 'k'));
  const std::string token = tokens.make("a84b4c76e66710@pc33.example.com", "1928301774");
  for (auto _ : state) {
    benchmark::DoNotOptimize(tokens.check(token, "a84b4c76e66710@pc33.example.com", "1928301774", "314159"));
  }
}
BENCHMARK(BM_DialogTokenCheck);

// `range(0)` devices of one presentity, each with a tuple and an RPID person and device that
// all share their ids: the composed document renames them (ids unique over the whole tree).
void BM_ComposeRpidDevices(benchmark::State& state) {
  const std::string body =
      R"(<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" )"
      R"(xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" )"
      R"(entity="sip:bob@example.com"><tuple id="t1"><status><basic>open</basic></status>)"
      R"(<contact>sip:bob@192.0.2.10</contact></tuple><dm:person id="p1"><rpid:activities><rpid:meeting/>)"
      R"(</rpid:activities><dm:note>In a meeting</dm:note></dm:person><dm:device id="d1">)"
      R"(<dm:deviceID>urn:uuid:1</dm:deviceID></dm:device></presence>)";
  auto doc = herald::services::presence::parse_pidf(body, "sip:bob@example.com");
  std::vector<herald::services::presence::PresenceDocument> publications(static_cast<std::size_t>(state.range(0)),
                                                                           doc.value());
  for (auto _ : state) {
    benchmark::DoNotOptimize(herald::services::presence::compose("sip:bob@example.com", publications,
                                                                 herald::services::presence::PidfFlavor::kPidf));
  }
}
BENCHMARK(BM_ComposeRpidDevices)->Arg(1)->Arg(8);

}  // namespace
