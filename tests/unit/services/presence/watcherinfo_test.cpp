#include "services/presence/watcherinfo.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>

namespace herald::services::presence {
namespace {

pugi::xml_document parse(const std::string& text) {
  pugi::xml_document doc;
  const auto result = doc.load_string(text.c_str());
  EXPECT_TRUE(result) << result.description() << "\n" << text;
  return doc;
}

TEST(WatcherinfoTest, FullStateDocumentWithEveryAttribute) {
  const std::string text = compose_watcherinfo(
      3, "sip:bob@example.com", "presence",
      {{"w1", "sip:alice@example.com", "Alice", "active", "approved", 120},
       {"w2", "sip:carol@other.org", "", "pending", "subscribe", -1}});
  EXPECT_EQ(text.rfind("<?xml", 0), 0u);
  const auto doc = parse(text);
  const auto root = doc.child("watcherinfo");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("xmlns").value(), "urn:ietf:params:xml:ns:watcherinfo");
  EXPECT_STREQ(root.attribute("version").value(), "3");
  EXPECT_STREQ(root.attribute("state").value(), "full");
  const auto list = root.child("watcher-list");
  ASSERT_TRUE(list);
  EXPECT_STREQ(list.attribute("resource").value(), "sip:bob@example.com");
  EXPECT_STREQ(list.attribute("package").value(), "presence");

  auto w = list.child("watcher");
  ASSERT_TRUE(w);
  EXPECT_STREQ(w.attribute("id").value(), "w1");
  EXPECT_STREQ(w.attribute("status").value(), "active");
  EXPECT_STREQ(w.attribute("event").value(), "approved");
  EXPECT_STREQ(w.attribute("display-name").value(), "Alice");
  EXPECT_STREQ(w.attribute("duration-subscribed").value(), "120");
  EXPECT_STREQ(w.child_value(), "sip:alice@example.com");

  w = w.next_sibling("watcher");
  ASSERT_TRUE(w);
  EXPECT_STREQ(w.attribute("id").value(), "w2");
  EXPECT_STREQ(w.attribute("status").value(), "pending");
  EXPECT_STREQ(w.attribute("event").value(), "subscribe");
  EXPECT_FALSE(w.attribute("display-name"));
  EXPECT_FALSE(w.attribute("duration-subscribed"));
  EXPECT_STREQ(w.child_value(), "sip:carol@other.org");
  EXPECT_FALSE(w.next_sibling("watcher"));
}

TEST(WatcherinfoTest, NoWatchersGivesAnEmptyList) {
  const auto doc = parse(compose_watcherinfo(0, "sip:bob@example.com", "presence", {}));
  const auto list = doc.child("watcherinfo").child("watcher-list");
  ASSERT_TRUE(list);
  EXPECT_STREQ(doc.child("watcherinfo").attribute("version").value(), "0");
  EXPECT_FALSE(list.child("watcher"));
}

TEST(WatcherinfoTest, MarkupInValuesIsEscaped) {
  const std::string name = "A \"quoted\" <b>&amp; name</b>";
  const std::string uri = "sip:x@example.com;p=<a>&\"";
  const std::string text =
      compose_watcherinfo(1, "sip:b&b@example.com", "pres\"ence", {{"i<d>", uri, name, "active", "approved", 0}});
  const auto doc = parse(text);
  const auto list = doc.child("watcherinfo").child("watcher-list");
  EXPECT_STREQ(list.attribute("resource").value(), "sip:b&b@example.com");
  EXPECT_STREQ(list.attribute("package").value(), "pres\"ence");
  const auto w = list.child("watcher");
  EXPECT_EQ(std::string(w.attribute("id").value()), "i<d>");
  EXPECT_EQ(std::string(w.attribute("display-name").value()), name);
  EXPECT_STREQ(w.attribute("duration-subscribed").value(), "0");
  EXPECT_EQ(std::string(w.child_value()), uri);
  EXPECT_EQ(text.find("<b>"), std::string::npos);
}

TEST(WatcherinfoTest, Deterministic) {
  const std::vector<WatcherEntry> watchers = {{"w1", "sip:alice@example.com", "", "terminated", "timeout", 5}};
  EXPECT_EQ(compose_watcherinfo(7, "sip:bob@example.com", "presence", watchers),
            compose_watcherinfo(7, "sip:bob@example.com", "presence", watchers));
}

}  // namespace
}  // namespace herald::services::presence
