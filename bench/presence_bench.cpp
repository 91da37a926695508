// Micro-benchmarks of the presence documents on the PUBLISH and NOTIFY paths: parsing a
// published PIDF body with RPID (once per PUBLISH), composing the document watchers receive
// from several publications (once per change of a presentity; the agent caches it for the
// fan-out), and the registration-based document. items/s is documents per second on one core.
//
//   scripts/bench.sh                                  (Release build, 5 repetitions, medians)
//   build/release/bench/presence_bench --benchmark_filter=Compose

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "services/presence/pidf.h"

namespace herald::services::presence {
namespace {

// A device's publication as softphones send it: one tuple and RPID person data.
std::string publication(int device) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n"
         "    xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\n"
         "    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\n"
         "    entity=\"pres:alice@example.com\">\n"
         "  <tuple id=\"device" + std::to_string(device) + "\">\n"
         "    <status><basic>open</basic></status>\n"
         "    <contact priority=\"0.8\">sip:alice@192.0.2." + std::to_string(10 + device) + ":5060</contact>\n"
         "    <note xml:lang=\"en\">At my desk</note>\n"
         "    <timestamp>2026-11-21T10:00:00Z</timestamp>\n"
         "  </tuple>\n"
         "  <dm:person id=\"p" + std::to_string(device) + "\">\n"
         "    <rpid:activities><rpid:busy/></rpid:activities>\n"
         "    <dm:note>In a meeting until noon</dm:note>\n"
         "  </dm:person>\n"
         "  <note>Busy</note>\n"
         "</presence>\n";
}

PresenceDocument parsed(int device) {
  auto doc = parse_pidf(publication(device), "sip:alice@example.com");
  if (!doc.ok()) {
    std::cerr << "benchmark document does not parse: " << doc.why() << "\n";
    std::abort();
  }
  return doc.value();
}

void BM_ParsePublication(benchmark::State& state) {
  const std::string body = publication(1);
  for (auto _ : state) {
    auto doc = parse_pidf(body, "sip:alice@example.com");
    benchmark::DoNotOptimize(doc);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(BM_ParsePublication);

// Arg: live publications of the presentity (devices).
void BM_Compose(benchmark::State& state) {
  std::vector<PresenceDocument> publications;
  for (int i = 0; i < state.range(0); ++i) publications.push_back(parsed(i));
  for (auto _ : state) {
    std::string body = compose("sip:alice@example.com", publications, PidfFlavor::kPidf);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Compose)->Arg(1)->Arg(3)->Arg(10);

void BM_ComposeCpimFlavor(benchmark::State& state) {
  std::vector<PresenceDocument> publications = {parsed(1)};
  for (auto _ : state) {
    std::string body = compose("sip:alice@example.com", publications, PidfFlavor::kCpimPidf);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ComposeCpimFlavor);

void BM_ComposeFromRegistration(benchmark::State& state) {
  const std::vector<std::string> contacts = {"sip:alice@192.0.2.10:5060", "sip:alice@192.0.2.11:5060;transport=tcp"};
  for (auto _ : state) {
    std::string body = compose_from_registration("sip:alice@example.com", contacts, PidfFlavor::kPidf);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ComposeFromRegistration);

}  // namespace
}  // namespace herald::services::presence
