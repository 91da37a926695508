// libFuzzer target: PIDF parse → compose → parse (services/presence/pidf.h). The input is up
// to three documents separated by NUL bytes (no XML document holds one), as the publications
// of one presentity, oldest first. Those that parse are composed, in both namespaces, and:
//   - the composed document is well-formed XML and, when it is within parse_pidf()'s
//     default limits for a peer's document, parses as PIDF again in the namespace asked for,
//     with as many tuples as the publications had in all;
//   - every `id` attribute in it, at any depth, is unique (pidf.h: XML requires it);
//   - its size is at most kExpansion * (bytes of the documents that parsed) + kFixed.
// The tree is walked without recursion: the input decides the depth.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pugixml.hpp>

#include "services/presence/pidf.h"

namespace herald::services::presence {
namespace {

// Bound on the composed size. compose() writes what it parsed: the bytes it adds are
//  - escapes: a character may come back as a longer reference, at worst '"' read from a
//    single-quoted attribute ('"') and written as "&quot;": 6 bytes for 1. Every other
//    expansion is smaller ('>' → "&gt;", a control character pugixml let through → "&#02;",
//    a tab or CR read as "&#9;" comes back as it was);
//  - per element, a line break and the ids' suffixes ("-2", …, a few bytes), less than the
//    at least 4 bytes ("<a/>") the element took in the input; no indentation that grows with
//    depth, which would make the size grow with the square of the input;
//  - a fixed part: the XML declaration, <presence> with its namespace (some 120 bytes).
// So 6 bytes for each input byte, plus 1 KiB, holds for any composer that does not copy
// anything more than once. Notes are taken from one publication, tuples and extensions once.
constexpr std::size_t kExpansion = 6;
constexpr std::size_t kFixed = 1024;
constexpr std::size_t kMaxDocuments = 3;
// parse_pidf()'s default limits for a document from a peer (elements in all, depth).
constexpr std::size_t kPeerMaxElements = 1024;
constexpr std::size_t kPeerMaxDepth = 32;

void check(bool condition) {
  if (!condition) std::abort();
}

// What a walk over every element of a document found.
struct Walk {
  bool ids_unique = true;  // no two `id` attributes with the same value
  std::size_t elements = 0;
  std::size_t depth = 0;  // the document element is at depth 1
};

// Walks the document's elements in document order with an explicit stack.
Walk walk(const pugi::xml_document& xml) {
  Walk w;
  std::set<std::string, std::less<>> ids;
  std::vector<std::pair<pugi::xml_node, std::size_t>> stack = {{xml.document_element(), 1}};
  while (!stack.empty()) {
    const auto [node, depth] = stack.back();
    stack.pop_back();
    ++w.elements;
    w.depth = std::max(w.depth, depth);
    for (const pugi::xml_attribute a : node.attributes()) {
      if (std::string_view(a.name()) == "id" && !ids.emplace(a.value()).second) w.ids_unique = false;
    }
    // Children pushed last first, so they come off the stack in document order.
    for (pugi::xml_node child = node.last_child(); child; child = child.previous_sibling()) {
      if (child.type() == pugi::node_element) stack.emplace_back(child, depth + 1);
    }
  }
  return w;
}

void run(std::string_view input) {
  std::vector<PresenceDocument> publications;
  std::size_t tuples = 0;
  std::size_t parsed_bytes = 0;  // the documents that parsed
  for (std::size_t n = 0; n < kMaxDocuments && !input.empty(); ++n) {
    const std::size_t nul = input.find('\0');
    const std::string_view body = input.substr(0, nul);
    input = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
    auto doc = parse_pidf(body, {});
    if (!doc) continue;
    tuples += doc->tuples.size();
    parsed_bytes += body.size();
    publications.push_back(std::move(doc).value());
  }
  if (publications.empty()) return;

  for (const PidfFlavor flavor : {PidfFlavor::kPidf, PidfFlavor::kCpimPidf}) {
    const std::string composed = compose(publications.front().entity, publications, flavor);
    check(composed.size() <= kExpansion * parsed_bytes + kFixed);

    pugi::xml_document xml;
    check(xml.load_buffer(composed.data(), composed.size(), pugi::parse_default, pugi::encoding_utf8));
    const Walk w = walk(xml);
    check(w.ids_unique);

    // Several publications, each within what parse_pidf() takes from a peer by default, can
    // compose into a document that is not: that one is not parsed again here.
    if (w.elements > kPeerMaxElements || w.depth > kPeerMaxDepth) continue;
    auto again = parse_pidf(composed, {});
    check(again.ok() && again->flavor == flavor && again->tuples.size() == tuples);
  }
}

}  // namespace
}  // namespace herald::services::presence

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  herald::services::presence::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
