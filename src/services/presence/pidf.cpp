#include "services/presence/pidf.h"

#include <array>
#include <charconv>
#include <set>
#include <sstream>
#include <utility>

#include <pugixml.hpp>

#include "sip/msg/grammar.h"
#include "sip/msg/uri.h"

namespace herald::services::presence {
namespace {

constexpr std::string_view kXmlnsPrefix = "xmlns:";

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view xml_trim(std::string_view s) {
  while (!s.empty() && is_xml_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_xml_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string trimmed_text(pugi::xml_node node) { return std::string(xml_trim(node.child_value())); }

// "dm:person" → {"dm", "person"}; "tuple" → {"", "tuple"}.
std::pair<std::string_view, std::string_view> split_qname(std::string_view name) {
  const auto colon = name.find(':');
  if (colon == std::string_view::npos) return {{}, name};
  return {name.substr(0, colon), name.substr(colon + 1)};
}

bool is_namespace_declaration(std::string_view attribute_name) {
  return attribute_name == "xmlns" || attribute_name.starts_with(kXmlnsPrefix);
}

// The namespace URI an element's name is bound to (pugixml does not resolve namespaces):
// the nearest declaration of its prefix on it or an ancestor; "" when unbound.
std::string_view namespace_of_element(pugi::xml_node element) {
  const auto prefix = split_qname(element.name()).first;
  const std::string declaration = prefix.empty() ? std::string("xmlns") : std::string(kXmlnsPrefix) + std::string(prefix);
  for (auto n = element; n.type() == pugi::node_element; n = n.parent()) {
    if (const auto a = n.attribute(declaration.c_str())) return a.value();
  }
  return {};
}

std::optional<PidfFlavor> flavor_of_namespace(std::string_view ns) {
  if (ns == kPidfNamespace) return PidfFlavor::kPidf;
  if (ns == kCpimPidfNamespace) return PidfFlavor::kCpimPidf;
  return std::nullopt;
}

// A PIDF element (in either PIDF namespace) with this local name.
bool is_pidf_element(pugi::xml_node node, std::string_view local_name) {
  return node.type() == pugi::node_element && split_qname(node.name()).second == local_name &&
         flavor_of_namespace(namespace_of_element(node)).has_value();
}

pugi::xml_node first_pidf_child(pugi::xml_node parent, std::string_view local_name) {
  for (auto child : parent.children()) {
    if (is_pidf_element(child, local_name)) return child;
  }
  return {};
}

// `element` serialized alone, carrying every namespace declaration in scope at it (the
// nearest one for each prefix) that it does not make itself.
std::string serialize_standalone(pugi::xml_node element) {
  pugi::xml_document copy;
  auto root = copy.append_copy(element);
  std::set<std::string, std::less<>> declared;
  for (auto a : root.attributes()) {
    if (is_namespace_declaration(a.name())) declared.emplace(a.name());
  }
  const auto first_attribute = root.first_attribute();
  for (auto n = element.parent(); n.type() == pugi::node_element; n = n.parent()) {
    for (auto a : n.attributes()) {
      if (!is_namespace_declaration(a.name()) || declared.contains(a.name())) continue;
      declared.emplace(a.name());
      auto added = first_attribute ? root.insert_attribute_before(a.name(), first_attribute)
                                   : root.append_attribute(a.name());
      added.set_value(a.value());
    }
  }
  std::ostringstream out;
  root.print(out, "", pugi::format_raw);
  return out.str();
}

std::optional<double> parse_priority(std::string_view text) {
  text = xml_trim(text);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > 1) return std::nullopt;
  return value;
}

// "malformed XML: <pugixml's description>" for each parse status, with static storage.
std::string_view malformed_reason(pugi::xml_parse_status status) {
  constexpr std::size_t kCount = pugi::status_no_document_element + 1;
  static const std::array<std::string, kCount> reasons = [] {
    std::array<std::string, kCount> texts;
    for (std::size_t i = 0; i < kCount; ++i) {
      pugi::xml_parse_result result;
      result.status = static_cast<pugi::xml_parse_status>(i);
      texts[i] = std::string("malformed XML: ") + result.description();
    }
    return texts;
  }();
  const auto i = static_cast<std::size_t>(status);
  return i < kCount ? std::string_view(reasons[i]) : std::string_view("malformed XML");
}

// pres:user@host is the same presentity as sip:user@host (RFC 3856 §6.1).
std::string as_sip_uri_text(std::string_view uri) {
  uri = xml_trim(uri);
  if (uri.size() >= 5 && sip::grammar::iequals(uri.substr(0, 5), "pres:")) return "sip:" + std::string(uri.substr(5));
  return std::string(uri);
}

bool same_presentity(std::string_view entity, std::string_view presentity) {
  const auto a_text = as_sip_uri_text(entity);
  const auto b_text = as_sip_uri_text(presentity);
  const auto a = sip::parse_uri(a_text);
  const auto b = sip::parse_uri(b_text);
  if (!a || !b) return false;
  return sip::uri_equal(*a, *b);
}

sip::Parsed<Tuple> parse_tuple(pugi::xml_node element) {
  Tuple tuple;
  tuple.id = std::string(xml_trim(element.attribute("id").value()));
  if (tuple.id.empty()) return sip::Parsed<Tuple>::error("tuple without id");
  if (const auto status = first_pidf_child(element, "status")) {
    if (const auto basic = first_pidf_child(status, "basic")) {
      tuple.basic = trimmed_text(basic);
      if (tuple.basic != "open" && tuple.basic != "closed") {
        return sip::Parsed<Tuple>::error("basic must be open or closed");
      }
    }
  }
  if (const auto contact = first_pidf_child(element, "contact")) {
    tuple.contact = trimmed_text(contact);
    if (const auto priority = contact.attribute("priority")) tuple.contact_priority = parse_priority(priority.value());
  }
  if (const auto note = first_pidf_child(element, "note")) tuple.note = trimmed_text(note);
  if (const auto timestamp = first_pidf_child(element, "timestamp")) tuple.timestamp = trimmed_text(timestamp);
  tuple.xml = serialize_standalone(element);
  return tuple;
}

// ---- composing -----------------------------------------------------------------------

std::string format_priority(double priority) {
  std::array<char, 32> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), priority);
  if (ec != std::errc()) return "1";
  return std::string(buffer.data(), end);
}

void append_text_child(pugi::xml_node parent, const char* name, std::string_view text) {
  parent.append_child(name).text().set(std::string(text).c_str());
}

void append_tuple_from_fields(pugi::xml_node presence, const Tuple& tuple, std::string_view id) {
  auto element = presence.append_child("tuple");
  element.append_attribute("id").set_value(std::string(id).c_str());
  auto status = element.append_child("status");
  if (!tuple.basic.empty()) append_text_child(status, "basic", tuple.basic);
  if (!tuple.contact.empty()) {
    auto contact = element.append_child("contact");
    if (tuple.contact_priority) {
      contact.append_attribute("priority").set_value(format_priority(*tuple.contact_priority).c_str());
    }
    contact.text().set(tuple.contact.c_str());
  }
  if (!tuple.note.empty()) append_text_child(element, "note", tuple.note);
  if (!tuple.timestamp.empty()) append_text_child(element, "timestamp", tuple.timestamp);
}

// Rewrites every declaration of either PIDF namespace in `element`'s subtree to `target`.
void convert_namespace(pugi::xml_node element, std::string_view target) {
  for (auto a : element.attributes()) {
    if (is_namespace_declaration(a.name()) && flavor_of_namespace(a.value())) {
      a.set_value(std::string(target).c_str());
    }
  }
  for (auto child : element.children()) {
    if (child.type() == pugi::node_element) convert_namespace(child, target);
  }
}

// Parses a standalone element written by serialize_standalone() and appends it to
// `presence`, converted to `target`'s namespace; drops its xmlns="target", which the
// composed <presence> already declares. Returns the appended element, or an empty node
// when `xml` does not parse.
pugi::xml_node append_carried(pugi::xml_node presence, std::string_view xml, std::string_view target) {
  pugi::xml_document carried;
  if (!carried.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8)) return {};
  auto element = carried.document_element();
  if (!element) return {};
  convert_namespace(element, target);
  if (const auto default_ns = element.attribute("xmlns"); default_ns && target == default_ns.value()) {
    element.remove_attribute(default_ns);
  }
  return presence.append_copy(element);
}

std::string unique_id(const std::string& id, std::set<std::string, std::less<>>& taken) {
  if (taken.insert(id).second) return id;
  for (int n = 2;; ++n) {
    auto candidate = id + "-" + std::to_string(n);
    if (taken.insert(candidate).second) return candidate;
  }
}

// A short stable tuple id for `text`: "t" + 64-bit FNV-1a in hex (an XML NCName).
std::string stable_id(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string id = "t";
  for (int shift = 60; shift >= 0; shift -= 4) id += kHex[(hash >> shift) & 0xF];
  return id;
}

}  // namespace

std::string_view namespace_of(PidfFlavor flavor) {
  return flavor == PidfFlavor::kCpimPidf ? kCpimPidfNamespace : kPidfNamespace;
}

std::string_view content_type_of(PidfFlavor flavor) {
  return flavor == PidfFlavor::kCpimPidf ? "application/cpim-pidf+xml" : "application/pidf+xml";
}

std::optional<PidfFlavor> flavor_of(std::string_view content_type_value) {
  const auto media_type = xml_trim(content_type_value.substr(0, content_type_value.find(';')));
  if (sip::grammar::iequals(media_type, "application/pidf+xml")) return PidfFlavor::kPidf;
  if (sip::grammar::iequals(media_type, "application/cpim-pidf+xml")) return PidfFlavor::kCpimPidf;
  return std::nullopt;
}

sip::Parsed<PresenceDocument> parse_pidf(std::string_view body, std::string_view presentity) {
  using Result = sip::Parsed<PresenceDocument>;
  pugi::xml_document xml;
  const auto loaded = xml.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!loaded) return Result::error(malformed_reason(loaded.status));

  const auto presence = xml.document_element();
  const auto flavor = flavor_of_namespace(namespace_of_element(presence));
  if (split_qname(presence.name()).second != "presence" || !flavor) return Result::error("not a PIDF document");

  PresenceDocument doc;
  doc.flavor = *flavor;
  doc.entity = std::string(xml_trim(presence.attribute("entity").value()));
  if (!presentity.empty() && !same_presentity(doc.entity, presentity)) {
    return Result::error("entity does not match the presentity");
  }
  for (auto child : presence.children()) {
    if (child.type() != pugi::node_element) continue;
    if (is_pidf_element(child, "tuple")) {
      auto tuple = parse_tuple(child);
      if (!tuple) return Result::error(tuple.why());
      doc.tuples.push_back(std::move(tuple).value());
    } else if (is_pidf_element(child, "note")) {
      doc.notes.push_back(trimmed_text(child));
    } else if (!flavor_of_namespace(namespace_of_element(child))) {
      doc.extensions.push_back(serialize_standalone(child));
    }
    // Any other element of the PIDF namespace is not in RFC 3863's schema: dropped.
  }
  return doc;
}

std::string compose(std::string_view presentity, const std::vector<PresenceDocument>& publications,
                    PidfFlavor flavor) {
  const auto target = namespace_of(flavor);
  pugi::xml_document xml;
  auto declaration = xml.append_child(pugi::node_declaration);
  declaration.append_attribute("version").set_value("1.0");
  declaration.append_attribute("encoding").set_value("UTF-8");
  auto presence = xml.append_child("presence");
  presence.append_attribute("xmlns").set_value(std::string(target).c_str());
  presence.append_attribute("entity").set_value(std::string(presentity).c_str());

  std::set<std::string, std::less<>> taken;
  for (const auto& publication : publications) {
    for (const auto& tuple : publication.tuples) {
      const auto id = unique_id(tuple.id, taken);
      pugi::xml_node element;
      if (!tuple.xml.empty()) element = append_carried(presence, tuple.xml, target);
      if (element) {
        auto id_attribute = element.attribute("id");
        if (!id_attribute) id_attribute = element.append_attribute("id");
        id_attribute.set_value(id.c_str());
      } else {
        append_tuple_from_fields(presence, tuple, id);
      }
    }
  }
  for (auto it = publications.rbegin(); it != publications.rend(); ++it) {
    if (it->notes.empty()) continue;
    for (const auto& note : it->notes) append_text_child(presence, "note", note);
    break;
  }
  for (const auto& publication : publications) {
    for (const auto& extension : publication.extensions) append_carried(presence, extension, target);
  }

  std::ostringstream out;
  xml.save(out, "  ", pugi::format_indent, pugi::encoding_utf8);
  return out.str();
}

std::string compose_from_registration(std::string_view presentity, const std::vector<std::string>& contacts,
                                      PidfFlavor flavor) {
  PresenceDocument doc;
  if (contacts.empty()) {
    Tuple closed;
    closed.id = stable_id(presentity);
    closed.basic = "closed";
    doc.tuples.push_back(std::move(closed));
  }
  for (const auto& contact : contacts) {
    Tuple open;
    open.id = stable_id(contact);
    open.basic = "open";
    open.contact = contact;
    doc.tuples.push_back(std::move(open));
  }
  return compose(presentity, {doc}, flavor);
}

std::string compose_closed(std::string_view presentity, PidfFlavor flavor) {
  return compose_from_registration(presentity, {}, flavor);
}

}  // namespace herald::services::presence
