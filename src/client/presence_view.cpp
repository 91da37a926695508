#include "client/presence_view.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "services/presence/pidf.h"

namespace herald::client {
namespace {

namespace presence = services::presence;

std::string_view local_name(std::string_view qualified) {
  const auto colon = qualified.find(':');
  return colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
}

// The activities of the RPID <activities> elements inside one extension element (a
// <dm:person>, or an <rpid:activities> placed at the top).
void read_activities(std::string_view extension_xml, std::vector<std::string>& out) {
  pugi::xml_document doc;
  if (!doc.load_buffer(extension_xml.data(), extension_xml.size())) return;
  auto visit = [&](auto&& self, pugi::xml_node element) -> void {
    for (pugi::xml_node child : element.children()) {
      if (child.type() != pugi::node_element) continue;
      if (local_name(child.name()) == "activities") {
        for (pugi::xml_node activity : child.children()) {
          if (activity.type() != pugi::node_element) continue;
          std::string_view name = local_name(activity.name());
          if (name == "note") continue;
          std::string text = name == "other" ? std::string(activity.child_value()) : std::string(name);
          if (!text.empty() && std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
        }
      } else {
        self(self, child);
      }
    }
  };
  visit(visit, doc);
}

}  // namespace

const std::vector<std::string_view>& rpid_activities() {
  static const std::vector<std::string_view> activities = {
      "appointment", "away",        "breakfast",   "busy",          "dinner",        "holiday",
      "in-transit",  "looking-for-work", "meal",   "meeting",       "on-the-phone",  "performance",
      "permanent-absence", "playing", "presentation", "shopping",   "sleeping",      "spectator",
      "steering",    "travel",      "tv",          "unknown",       "vacation",      "working",
      "worship"};
  return activities;
}

PresenceSummary summarize(const Notification& n, std::string_view presentity) {
  PresenceSummary s;
  s.state = n.state;
  s.reason = n.reason;
  if (n.body.empty()) return s;
  // The server's composed document: several publications, each within the server's own limits
  // (presence::PidfLimits), so more elements than one publication may hold.
  presence::PidfLimits limits;
  limits.max_depth = 64;
  limits.max_elements = std::size_t{1} << 16;
  auto doc = presence::parse_pidf(n.body, presentity, limits);
  if (!doc.ok()) {
    s.error = std::string(doc.why());
    return s;
  }
  bool open = false;
  std::string any_note;
  for (const presence::Tuple& t : doc->tuples) {
    if (t.basic == "open") {
      open = true;
      if (!t.contact.empty()) s.contacts.push_back(t.contact);
      if (s.note.empty()) s.note = t.note;
    }
    if (any_note.empty()) any_note = t.note;
  }
  if (s.note.empty()) s.note = any_note;
  if (s.note.empty() && !doc->notes.empty()) s.note = doc->notes.front();
  s.basic = open ? "open" : "closed";
  for (const std::string& extension : doc->extensions) read_activities(extension, s.activities);
  return s;
}

std::string utc_text(std::time_t when) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string format_line(std::string_view time, std::string_view presentity, const PresenceSummary& s) {
  std::string line = fmt::format("{} {}", time, presentity);
  if (s.state == "pending") return line + " pending (waiting for authorization)";
  if (s.state == "terminated") {
    line += fmt::format(" ended ({})", s.reason.empty() ? "no reason given" : s.reason);
    return line;
  }
  if (!s.basic) return line + (s.error.empty() ? " unknown (no document)" : " unreadable (" + s.error + ")");
  line += " " + *s.basic;
  if (!s.note.empty()) line += " \"" + s.note + "\"";
  if (!s.activities.empty()) line += " activity=" + fmt::format("{}", fmt::join(s.activities, ","));
  if (!s.contacts.empty()) line += " contact=" + s.contacts.front();
  return line;
}

std::string format_json(std::string_view time, std::string_view presentity, const PresenceSummary& s) {
  nlohmann::json j;
  j["time"] = time;
  j["presentity"] = presentity;
  j["state"] = s.state;
  j["basic"] = s.basic ? nlohmann::json(*s.basic) : nlohmann::json(nullptr);
  j["note"] = s.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.note);
  j["activities"] = s.activities;
  j["contacts"] = s.contacts;
  j["reason"] = s.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.reason);
  if (!s.error.empty()) j["error"] = s.error;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string publish_document(std::string_view presentity, std::string_view basic, std::string_view note,
                             const std::vector<std::string>& activities, std::string_view contact,
                             std::string_view timestamp) {
  presence::PresenceDocument doc;
  presence::Tuple tuple;
  tuple.id = "herald";
  tuple.basic = std::string(basic);
  tuple.note = std::string(note);
  tuple.contact = std::string(contact);
  tuple.timestamp = std::string(timestamp);
  doc.tuples.push_back(std::move(tuple));
  if (!activities.empty()) {
    std::string person =
        "<dm:person xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
        "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" id=\"p1\"><rpid:activities>";
    for (const std::string& a : activities) person += "<rpid:" + a + "/>";  // names from rpid_activities()
    person += "</rpid:activities><dm:timestamp>" + std::string(timestamp) + "</dm:timestamp></dm:person>";
    doc.extensions.push_back(std::move(person));
  }
  return presence::compose(presentity, {doc}, presence::PidfFlavor::kPidf);
}

}  // namespace herald::client
