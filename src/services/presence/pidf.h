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
  // The whole <tuple> element as parsed, extension children kept, with every namespace
  // declaration in scope copied onto it, so it stands alone. Empty for a tuple built by
  // hand: compose() then writes the tuple from the fields above.
  std::string xml;
};

// A parsed publication, or the pieces of one to compose.
struct PresenceDocument {
  std::string entity;  // the entity attribute as written ("pres:…" or "sip:…")
  std::vector<Tuple> tuples;
  std::vector<std::string> notes;  // presence-level <note>s, trimmed, in document order
  // Other top-level elements (RPID <dm:person>, <dm:device>, …), each serialized with every
  // namespace declaration in scope so it can be re-embedded in another document.
  std::vector<std::string> extensions;
  PidfFlavor flavor = PidfFlavor::kPidf;  // the namespace the document was written in
};

// Parses a PUBLISH or NOTIFY body. Either namespace is accepted whatever the Content-Type
// said (user agents mislabel); `flavor` of the result records which one the document used.
// When `presentity` is non-empty the entity attribute must name it; the two are compared
// as SIP URIs (RFC 3261 §19.1.4) with pres: read as sip:, so pres:alice@example.com
// matches sip:alice@example.com.
//
// Never throws on input. A malformed result's why() is a short phrase for a 400 reason
// (static storage): "malformed XML: <pugixml description>", "not a PIDF document",
// "entity does not match the presentity", "tuple without id",
// "basic must be open or closed".
sip::Parsed<PresenceDocument> parse_pidf(std::string_view body, std::string_view presentity);

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
//  - every tuple of every publication, in order; a later tuple whose id is already taken
//    gets a suffix ("-2", "-3", …) so ids stay unique;
//  - the presence-level notes of the newest publication that has any;
//  - the extensions of every publication, oldest first.
// Written in `flavor`'s namespace: declarations of either PIDF namespace in the carried
// tuples and extensions are rewritten to it; foreign namespaces are left as they are.
// The output starts with an XML declaration, is well-formed (text and attributes
// escaped) and deterministic: the same input gives the same bytes.
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
