// The client library's per-message work: what `herald watch` (or an application embedding
// src/client) does for each NOTIFY, and the digest answer each request carries.
#include <benchmark/benchmark.h>

#include "client/digest_client.h"
#include "client/presence_view.h"

namespace {

using herald::client::Notification;

constexpr const char* kBob = "sip:bob@example.com";

Notification notify_with(int tuples) {
  std::string doc =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
      "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" "
      "entity=\"sip:bob@example.com\">";
  for (int i = 0; i < tuples; ++i) {
    doc += "<tuple id=\"t" + std::to_string(i) + "\"><status><basic>open</basic></status><contact>sip:bob@192.0.2." +
           std::to_string(i) + ":5060</contact><note>In a meeting</note><timestamp>2026-11-22T09:00:00Z</timestamp></tuple>";
  }
  doc += "<dm:person id=\"p1\"><rpid:activities><rpid:meeting/></rpid:activities></dm:person></presence>";
  Notification n;
  n.state = "active";
  n.expires = 3600;
  n.content_type = "application/pidf+xml";
  n.body = doc;
  return n;
}

void BM_SummarizeNotify(benchmark::State& state) {
  const Notification n = notify_with(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(herald::client::summarize(n, kBob));
}
BENCHMARK(BM_SummarizeNotify)->Arg(1)->Arg(3);

void BM_FormatLine(benchmark::State& state) {
  const auto summary = herald::client::summarize(notify_with(1), kBob);
  for (auto _ : state) benchmark::DoNotOptimize(herald::client::format_line("2026-11-22T09:00:00Z", kBob, summary));
}
BENCHMARK(BM_FormatLine);

void BM_FormatJson(benchmark::State& state) {
  const auto summary = herald::client::summarize(notify_with(1), kBob);
  for (auto _ : state) benchmark::DoNotOptimize(herald::client::format_json("2026-11-22T09:00:00Z", kBob, summary));
}
BENCHMARK(BM_FormatJson);

void BM_DigestCredentials(benchmark::State& state) {
  herald::client::DigestChallenge c;
  c.algorithm = state.range(0) == 0 ? herald::services::auth::Algorithm::kMd5
                                    : herald::services::auth::Algorithm::kSha256;
  state.SetLabel(std::string(herald::services::auth::algorithm_name(c.algorithm)));
  c.realm = "example.com";
  c.nonce = "6a8f1b2c3d4e5f60718293a4b5c6d7e8f9";
  c.qop_auth = true;
  std::uint32_t nc = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        herald::client::credentials(c, "alice", "secret", "MESSAGE", "sip:bob@example.com", ++nc, "0a4f113b"));
  }
}
BENCHMARK(BM_DigestCredentials)->Arg(0)->Arg(1);  // 0: MD5, 1: SHA-256

}  // namespace
