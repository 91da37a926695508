// libFuzzer target: PIDF / CPIM-PIDF bodies (PUBLISH and NOTIFY carry them from the network).
// A document that parses is composed in both namespaces, and what Herald writes must parse
// again with the same tuples: composition never produces a document its own parser refuses.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "fuzz_touch.h"
#include "services/presence/pidf.h"

namespace herald::services::presence {
namespace {

void check(std::string_view body) {
  auto doc = parse_pidf(body, {});
  if (!doc.ok()) {
    sip::fuzz::touch(doc.why());
    return;
  }
  std::vector<PresenceDocument> publications = {doc.value(), doc.value()};
  for (PidfFlavor flavor : {PidfFlavor::kPidf, PidfFlavor::kCpimPidf}) {
    std::string out = compose(doc->entity, publications, flavor);
    auto again = parse_pidf(out, {});
    if (!again.ok() || again->tuples.size() != 2 * doc->tuples.size()) std::abort();
  }
}

}  // namespace
}  // namespace herald::services::presence

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  herald::services::presence::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
