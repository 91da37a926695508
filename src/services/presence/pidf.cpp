#include "services/presence/pidf.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
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

// Calls f(element) for `root` and every element below it, in document order, without
// recursion (a document's depth must not decide the stack's).
template <class F>
void for_each_element(pugi::xml_node root, F&& f) {
  for (pugi::xml_node node = root; node;) {
    if (node.type() == pugi::node_element) f(node);
    if (pugi::xml_node child = node.first_child()) {
      node = child;
      continue;
    }
    while (node != root && !node.next_sibling()) node = node.parent();
    if (node == root) break;
    node = node.next_sibling();
  }
}

// Whether `text` holds a character XML 1.0 forbids (C0 controls but tab, LF and CR): pugixml
// reads them, also from character references, and writes them back as references that no
// strict parser reads.
bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 && u != '\t' && u != '\n' && u != '\r';
  });
}

// What is wrong with `document` beyond what pugixml checks: kTooDeep or kTooManyElements
// against `limits`, kRepeatedAttribute, kControlCharacter; empty when nothing is.
std::string_view exceeded(pugi::xml_document& document, const PidfLimits& limits) {
  class Walker final : public pugi::xml_tree_walker {
   public:
    explicit Walker(const PidfLimits& limits) : limits_(limits) {}
    bool for_each(pugi::xml_node& node) override {
      if (node.type() == pugi::node_pcdata || node.type() == pugi::node_cdata) {
        if (has_control_character(node.value())) why = kControlCharacter;
        return why.empty();
      }
      if (node.type() != pugi::node_element) return true;
      for (auto a = node.first_attribute(); a; a = a.next_attribute()) {
        if (has_control_character(a.value())) {
          why = kControlCharacter;
          return false;
        }
        for (auto b = a.next_attribute(); b; b = b.next_attribute()) {
          if (std::string_view(a.name()) == b.name()) {
            why = kRepeatedAttribute;
            return false;
          }
        }
      }
      if (static_cast<std::size_t>(depth()) + 1 > limits_.max_depth) {
        why = kTooDeep;
        return false;
      }
      if (++elements_ > limits_.max_elements) {
        why = kTooManyElements;
        return false;
      }
      return true;
    }
    std::string_view why;

   private:
    const PidfLimits& limits_;
    std::size_t elements_ = 0;
  };
  Walker walker(limits);
  document.traverse(walker);
  return walker.why;
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

// A top-level child of <presence> serialized as it is. The declarations of <presence> that it
// may use are kept apart (PresenceDocument::namespaces): copied onto every element they would
// make a composed document grow with the square of its input.
std::string serialize_element(pugi::xml_node element) {
  std::ostringstream out;
  element.print(out, "", pugi::format_raw);
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
  tuple.xml = serialize_element(element);
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
  const std::string value(target);
  for_each_element(element, [&](pugi::xml_node node) {
    for (auto a : node.attributes()) {
      if (is_namespace_declaration(a.name()) && flavor_of_namespace(a.value())) a.set_value(value.c_str());
    }
  });
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

// Renames the prefixes in `renames` throughout `element` (a null node: nothing): in element and
// attribute names and in its own declarations of them, so its bindings stay what they were.
void rename_prefixes(pugi::xml_node element, const std::map<std::string, std::string, std::less<>>& renames) {
  if (!element || renames.empty()) return;
  auto renamed = [&](std::string_view qname) -> std::optional<std::string> {
    const auto [prefix, local] = split_qname(qname);
    if (prefix.empty()) return std::nullopt;
    const auto found = renames.find(prefix);
    if (found == renames.end()) return std::nullopt;
    return found->second + ":" + std::string(local);
  };
  for_each_element(element, [&](pugi::xml_node node) {
    if (auto name = renamed(node.name())) node.set_name(name->c_str());
    for (auto a : node.attributes()) {
      const std::string_view name = a.name();
      if (name.starts_with(kXmlnsPrefix)) {
        const auto found = renames.find(name.substr(kXmlnsPrefix.size()));
        if (found != renames.end()) a.set_name((std::string(kXmlnsPrefix) + found->second).c_str());
      } else if (auto qname = renamed(name)) {
        a.set_name(qname->c_str());
      }
    }
  });
}

// Gives every `id` attribute under `root` a value no earlier one has (document order): a
// repeated id gets the first free suffix "-2", "-3", … Ids written by the publications that a
// suffixed one might take are seen first, since the pass runs over the finished document.
void make_ids_unique(pugi::xml_node root) {
  std::set<std::string, std::less<>> ids;
  for_each_element(root, [&](pugi::xml_node node) {
    if (const auto id = node.attribute("id")) ids.emplace(id.value());
  });
  std::set<std::string, std::less<>> taken;
  for_each_element(root, [&](pugi::xml_node node) {
    auto id = node.attribute("id");
    if (!id || taken.emplace(id.value()).second) return;
    for (int n = 2;; ++n) {
      std::string candidate = std::string(id.value()) + "-" + std::to_string(n);
      if (ids.contains(candidate) || taken.contains(candidate)) continue;
      id.set_value(candidate.c_str());
      taken.insert(std::move(candidate));
      return;
    }
  });
}

// A short stable tuple id for `text`: "t" + its 64-bit hash in hex (an XML NCName).
std::string stable_id(std::string_view text) {
  const std::uint64_t hash = sip::grammar::hash64(text);
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

sip::Parsed<PresenceDocument> parse_pidf(std::string_view body, std::string_view presentity,
                                         const PidfLimits& limits) {
  using Result = sip::Parsed<PresenceDocument>;
  pugi::xml_document xml;
  // pugixml parses without recursion; the limits are checked before anything walks the tree.
  const auto loaded = xml.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!loaded) return Result::error(malformed_reason(loaded.status));
  if (const std::string_view why = exceeded(xml, limits); !why.empty()) return Result::error(why);

  const auto presence = xml.document_element();
  const auto flavor = flavor_of_namespace(namespace_of_element(presence));
  if (split_qname(presence.name()).second != "presence" || !flavor) return Result::error("not a PIDF document");

  PresenceDocument doc;
  doc.flavor = *flavor;
  doc.entity = std::string(xml_trim(presence.attribute("entity").value()));
  if (!presentity.empty() && !same_presentity(doc.entity, presentity)) {
    return Result::error("entity does not match the presentity");
  }
  for (auto a : presence.attributes()) {
    const std::string_view name = a.name();
    if (!name.starts_with(kXmlnsPrefix)) continue;
    const std::string_view prefix = name.substr(kXmlnsPrefix.size());
    if (prefix.empty() || prefix == "xml" || prefix == "xmlns") continue;  // reserved
    doc.namespaces.emplace_back(prefix, a.value());
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
      doc.extensions.push_back(serialize_element(child));
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

  // The publications' <presence> declarations, once each; a prefix bound to another namespace
  // by an earlier publication is renamed in the later one.
  std::map<std::string, std::string, std::less<>> declared;
  std::vector<std::map<std::string, std::string, std::less<>>> renames(publications.size());
  for (std::size_t i = 0; i < publications.size(); ++i) {
    for (const auto& [prefix, uri] : publications[i].namespaces) {
      const std::string value = flavor_of_namespace(uri) ? std::string(target) : uri;
      auto bound = declared.find(prefix);
      if (bound != declared.end() && bound->second == value) continue;
      std::string name = prefix;
      for (int n = 2; bound != declared.end(); ++n) {
        name = prefix + "-" + std::to_string(n);
        bound = declared.find(name);
        if (bound != declared.end() && bound->second == value) break;
      }
      if (name != prefix) renames[i][prefix] = name;
      if (bound == declared.end()) {
        declared.emplace(name, value);
        presence.append_attribute((std::string(kXmlnsPrefix) + name).c_str()).set_value(value.c_str());
      }
    }
  }

  for (std::size_t i = 0; i < publications.size(); ++i) {
    for (const auto& tuple : publications[i].tuples) {
      pugi::xml_node element;
      if (!tuple.xml.empty()) element = append_carried(presence, tuple.xml, target);
      rename_prefixes(element, renames[i]);
      if (element) {
        auto id_attribute = element.attribute("id");
        if (!id_attribute) id_attribute = element.append_attribute("id");
        id_attribute.set_value(tuple.id.c_str());
      } else {
        append_tuple_from_fields(presence, tuple, tuple.id);
      }
    }
  }
  for (auto it = publications.rbegin(); it != publications.rend(); ++it) {
    if (it->notes.empty()) continue;
    for (const auto& note : it->notes) append_text_child(presence, "note", note);
    break;
  }
  for (std::size_t i = 0; i < publications.size(); ++i) {
    for (const auto& extension : publications[i].extensions) {
      rename_prefixes(append_carried(presence, extension, target), renames[i]);
    }
  }
  make_ids_unique(presence);

  // One element a line, not indented: indentation would grow with the square of the depth.
  std::ostringstream out;
  xml.save(out, "", pugi::format_indent, pugi::encoding_utf8);
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
