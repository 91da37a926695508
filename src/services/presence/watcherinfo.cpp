#include "services/presence/watcherinfo.h"

#include <sstream>

#include <pugixml.hpp>

namespace herald::services::presence {

std::string compose_watcherinfo(std::uint32_t version, std::string_view resource, std::string_view package,
                                const std::vector<WatcherEntry>& watchers) {
  pugi::xml_document xml;
  auto declaration = xml.append_child(pugi::node_declaration);
  declaration.append_attribute("version").set_value("1.0");
  declaration.append_attribute("encoding").set_value("UTF-8");
  auto root = xml.append_child("watcherinfo");
  root.append_attribute("xmlns").set_value(std::string(kWatcherinfoNamespace).c_str());
  root.append_attribute("version").set_value(std::to_string(version).c_str());
  root.append_attribute("state").set_value("full");
  auto list = root.append_child("watcher-list");
  list.append_attribute("resource").set_value(std::string(resource).c_str());
  list.append_attribute("package").set_value(std::string(package).c_str());
  for (const WatcherEntry& w : watchers) {
    auto watcher = list.append_child("watcher");
    watcher.append_attribute("id").set_value(w.id.c_str());
    watcher.append_attribute("status").set_value(w.status.c_str());
    watcher.append_attribute("event").set_value(w.event.c_str());
    if (!w.display_name.empty()) watcher.append_attribute("display-name").set_value(w.display_name.c_str());
    if (w.duration_subscribed >= 0) {
      watcher.append_attribute("duration-subscribed").set_value(std::to_string(w.duration_subscribed).c_str());
    }
    watcher.text().set(w.uri.c_str());
  }
  std::ostringstream out;
  xml.save(out, "  ", pugi::format_indent, pugi::encoding_utf8);
  return out.str();
}

}  // namespace herald::services::presence
