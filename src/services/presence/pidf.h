#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/msg/parsed.h"

// Presence documents: RFC 3863 PIDF and its predecessor, the CPIM PIDF draft namespace
// (application/cpim-pidf+xml) that older user agents still send. RFC 4480 RPID and any
// other foreign-namespace elements are not interpreted, only carried through.
//
// Everything here is pure (no I/O, no shared state): any thread may call any function.
namespace herald::services::presence {

enum class PidfFlavor : std::uint8_t {
  kPidf,      // urn:ietf:params:xml:ns:pidf, application/pidf+xml (RFC 3863)
  kCpimPidf,  // urn:ietf:params:xml:ns:cpim-pidf, application/cpim-pidf+xml
};

inline constexpr std::string_view kPidfNamespace = "urn:ietf:params:xml:ns:pidf";
inline constexpr std::string_view kCpimPidfNamespace = "urn:ietf:params:xml:ns:cpim-pidf";

// One <tuple> (RFC 3863 §4.1.2). The text fields are trimmed of surrounding white space
// and empty when the element is absent.
struct Tuple {
  std::string id;
  std::string basic;  // "open", "closed", or "" when <status> has no <basic>
  std::string contact;
  std::optional<double> contact_priority;  // <contact priority="0.8">; absent or malformed: nullopt
  std::string note;                        // the first <note> of the tuple
  std::string timestamp;                   // as written (RFC 3339 date-time)
  // The whole <tuple> element as parsed, extension children kept. The prefixes it uses may
  // be declared on its document's <presence> (PresenceDocument::namespaces). Empty for a tuple
  // built by hand: compose() then writes the tuple from the fields above.
  std::string xml;
};

// A parsed publication, or the pieces of one to compose.
struct PresenceDocument {
  std::string entity;  // the entity attribute as written ("pres:…" or "sip:…")
  std::vector<Tuple> tuples;
  std::vector<std::string> notes;  // presence-level <note>s, trimmed, in document order
  // Other top-level elements (RPID <dm:person>, <dm:device>, …), each serialized as parsed;
  // the prefixes they use may be declared on the document's <presence> (`namespaces`).
  std::vector<std::string> extensions;
  // The prefixed namespace declarations of the document's <presence> (prefix, URI), which its
  // tuples and extensions use: a composed document declares each once, on its <presence>.
  std::vector<std::pair<std::string, std::string>> namespaces;
  PidfFlavor flavor = PidfFlavor::kPidf;  // the namespace the document was written in
};

// What a document from a peer may hold (a PUBLISH body; stored publications are held to it again
// when loaded). The caller bounds the size in bytes before parsing. Exceeding either limit makes
// parse_pidf() fail with kTooDeep or kTooManyElements, before anything else is done with the
// document.
struct PidfLimits {
  std::size_t max_depth = 32;       // elements nested, <presence> being 1
  std::size_t max_elements = 1024;  // elements in all
};

inline constexpr std::string_view kTooDeep = "document nested too deep";
inline constexpr std::string_view kTooManyElements = "document has too many elements";
// XML that pugixml reads but XML 1.0 forbids, refused because a composed copy would not parse.
inline constexpr std::string_view kRepeatedAttribute = "malformed XML: repeated attribute";
inline constexpr std::string_view kControlCharacter = "malformed XML: control character";

// Parses a PUBLISH or NOTIFY body. Either namespace is accepted whatever the Content-Type
// said (user agents mislabel); `flavor` of the result records which one the document used.
// When `presentity` is non-empty the entity attribute must name it; the two are compared
// as SIP URIs (RFC 3261 §19.1.4) with pres: read as sip:, so pres:alice@example.com
// matches sip:alice@example.com.
//
// Never throws on input. A malformed result's why() is a short phrase for a 400 reason
// (static storage): "malformed XML: <pugixml description>", "not a PIDF document",
// "entity does not match the presentity", "tuple without id",
// "basic must be open or closed", kTooDeep, kTooManyElements, kRepeatedAttribute,
// kControlCharacter.
sip::Parsed<PresenceDocument> parse_pidf(std::string_view body, std::string_view presentity,
                                         const PidfLimits& limits = {});

// The flavor a Content-Type value announces: media type compared case-insensitively,
// parameters ignored. nullopt for any other media type.
std::optional<PidfFlavor> flavor_of(std::string_view content_type_value);

// "application/pidf+xml" or "application/cpim-pidf+xml".
std::string_view content_type_of(PidfFlavor flavor);

// The namespace URI of `flavor`.
std::string_view namespace_of(PidfFlavor flavor);

// Composes the one document that `presentity` shows its watchers from the documents of
// all its live publications, oldest first (RFC 3903 §4 leaves the composition policy to
// the compositor; this is it):
//  - every tuple of every publication, in order;
//  - the presence-level notes of the newest publication that has any;
//  - the extensions of every publication (RPID persons, devices …), oldest first.
// Every `id` attribute in the result is unique (XML requires it): a later element whose id is
// already taken, at any depth, gets a suffix ("-2", "-3", …).
// Written in `flavor`'s namespace: declarations of either PIDF namespace in the carried
// tuples and extensions are rewritten to it; foreign namespaces are left as they are. The
// publications' <presence> declarations are made once, on the composed <presence>; a prefix
// two publications bind to different namespaces is renamed ("dm-2") in the later one.
// The output starts with an XML declaration, has one element a line and no indentation (its
// size grows linearly with its input, whatever the nesting), is well-formed (text and
// attributes escaped) and deterministic: the same input gives the same bytes.
std::string compose(std::string_view presentity, const std::vector<PresenceDocument>& publications,
                    PidfFlavor flavor);

// The document of a presentity that has no publication, from its registered contacts:
// one tuple per contact, basic open, with the contact; with no contact, one tuple basic
// closed. Tuple ids are derived from the contact (or the presentity) text, so the same
// registrations give the same document.
std::string compose_from_registration(std::string_view presentity,
                                      const std::vector<std::string>& contacts, PidfFlavor flavor);

// The unchanging document a politely blocked watcher receives (RFC 5025 §3.2.1): the
// same as for a presentity with no registration, one tuple basic closed.
std::string compose_closed(std::string_view presentity, PidfFlavor flavor);

}  // namespace herald::services::presence
