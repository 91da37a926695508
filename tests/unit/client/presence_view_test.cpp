#include "client/presence_view.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "services/presence/pidf.h"

namespace herald::client {
namespace {

constexpr const char* kBob = "sip:bob@example.com";

Notification active(std::string body, std::string type = "application/pidf+xml") {
  Notification n;
  n.state = "active";
  n.expires = 3600;
  n.content_type = std::move(type);
  n.body = std::move(body);
  return n;
}

TEST(PresenceViewTest, WhatHeraldPublishesIsWhatAWatcherReads) {
  const std::string doc = publish_document(kBob, "open", "In a <meeting> & busy", {"busy", "meeting"},
                                           "sip:bob@192.0.2.4:5060", "2026-11-22T09:00:00Z");
  auto parsed = services::presence::parse_pidf(doc, kBob);
  ASSERT_TRUE(parsed.ok()) << parsed.why();
  ASSERT_EQ(parsed->tuples.size(), 1U);
  EXPECT_EQ(parsed->tuples[0].basic, "open");
  EXPECT_EQ(parsed->tuples[0].timestamp, "2026-11-22T09:00:00Z");

  PresenceSummary s = summarize(active(doc), kBob);
  ASSERT_TRUE(s.basic.has_value());
  EXPECT_EQ(*s.basic, "open");
  EXPECT_EQ(s.note, "In a <meeting> & busy");
  EXPECT_EQ(s.activities, (std::vector<std::string>{"busy", "meeting"}));
  EXPECT_EQ(s.contacts, (std::vector<std::string>{"sip:bob@192.0.2.4:5060"}));
  EXPECT_EQ(format_line("T", kBob, s),
            "T sip:bob@example.com open \"In a <meeting> & busy\" activity=busy,meeting contact=sip:bob@192.0.2.4:5060");
}

TEST(PresenceViewTest, ClosedWithoutNoteOrActivity) {
  PresenceSummary s = summarize(active(publish_document(kBob, "closed", "", {}, "", "2026-11-22T09:00:00Z")), kBob);
  EXPECT_EQ(s.basic, "closed");
  EXPECT_TRUE(s.note.empty());
  EXPECT_TRUE(s.activities.empty());
  EXPECT_TRUE(s.contacts.empty());
  EXPECT_EQ(format_line("T", kBob, s), "T sip:bob@example.com closed");
}

TEST(PresenceViewTest, OpenIfAnyTupleIsOpenAndTheContactsAreTheOpenOnes) {
  const std::string doc =
      "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:bob@example.com\">"
      "<tuple id=\"a\"><status><basic>closed</basic></status><contact>sip:desk@example.com</contact>"
      "<note>at home</note></tuple>"
      "<tuple id=\"b\"><status><basic>open</basic></status><contact>sip:mobile@example.com</contact></tuple>"
      "<note>doc note</note></presence>";
  PresenceSummary s = summarize(active(doc), kBob);
  EXPECT_EQ(s.basic, "open");
  EXPECT_EQ(s.contacts, (std::vector<std::string>{"sip:mobile@example.com"}));
  EXPECT_EQ(s.note, "at home");  // the open tuple has none: the first tuple's
}

TEST(PresenceViewTest, TheSeedsCpimPidfIsRead) {
  const std::string doc =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:cpim-pidf\" "
      "entity=\"pres:bob@example.com\"><tuple id=\"1\"><status><basic>open</basic></status>"
      "<contact priority=\"0.8\">sip:bob@pc.example.com;transport=tcp</contact></tuple></presence>";
  PresenceSummary s = summarize(active(doc, "application/cpim-pidf+xml"), kBob);
  EXPECT_EQ(s.basic, "open");
  EXPECT_EQ(s.contacts.front(), "sip:bob@pc.example.com;transport=tcp");
}

TEST(PresenceViewTest, PendingTerminatedAndUnreadable) {
  Notification pending;
  pending.state = "pending";
  EXPECT_EQ(format_line("T", kBob, summarize(pending, kBob)), "T sip:bob@example.com pending (waiting for authorization)");
  Notification ended;
  ended.state = "terminated";
  ended.reason = "rejected";
  EXPECT_EQ(format_line("T", kBob, summarize(ended, kBob)), "T sip:bob@example.com ended (rejected)");
  ended.reason.clear();
  EXPECT_EQ(format_line("T", kBob, summarize(ended, kBob)), "T sip:bob@example.com ended (no reason given)");
  PresenceSummary bad = summarize(active("<presence"), kBob);
  EXPECT_FALSE(bad.basic.has_value());
  EXPECT_NE(bad.error.find("malformed XML"), std::string::npos);
  EXPECT_NE(format_line("T", kBob, bad).find("unreadable (malformed XML"), std::string::npos);
  // A document about someone else is not shown as bob's.
  PresenceSummary other =
      summarize(active(publish_document("sip:eve@example.com", "open", "", {}, "", "2026-11-22T09:00:00Z")), kBob);
  EXPECT_FALSE(other.basic.has_value());
}

TEST(PresenceViewTest, SummariesCompareEqualWhenNothingAPersonSeesChanged) {
  const std::string a = publish_document(kBob, "open", "x", {}, "", "2026-11-22T09:00:00Z");
  const std::string b = publish_document(kBob, "open", "x", {}, "", "2026-11-22T09:05:00Z");
  EXPECT_EQ(summarize(active(a), kBob), summarize(active(b), kBob));
  const std::string c = publish_document(kBob, "open", "y", {}, "", "2026-11-22T09:05:00Z");
  EXPECT_NE(summarize(active(a), kBob), summarize(active(c), kBob));
}

TEST(PresenceViewTest, JsonHasEveryKeyWithNullsForWhatIsAbsent) {
  auto j = nlohmann::json::parse(format_json(
      "2026-11-22T09:00:00Z", kBob,
      summarize(active(publish_document(kBob, "open", "hi \"there\"", {"away"}, "", "2026-11-22T09:00:00Z")), kBob)));
  EXPECT_EQ(j["time"], "2026-11-22T09:00:00Z");
  EXPECT_EQ(j["presentity"], kBob);
  EXPECT_EQ(j["state"], "active");
  EXPECT_EQ(j["basic"], "open");
  EXPECT_EQ(j["note"], "hi \"there\"");
  EXPECT_EQ(j["activities"], nlohmann::json::array({"away"}));
  EXPECT_EQ(j["contacts"], nlohmann::json::array());
  EXPECT_TRUE(j["reason"].is_null());
  Notification pending;
  pending.state = "pending";
  auto p = nlohmann::json::parse(format_json("T", kBob, summarize(pending, kBob)));
  EXPECT_TRUE(p["basic"].is_null());
  EXPECT_TRUE(p["note"].is_null());
}

TEST(PresenceViewTest, UtcText) {
  EXPECT_EQ(utc_text(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc_text(1'795'338'005), "2026-11-22T09:00:05Z");
}

TEST(PresenceViewTest, TheActivitiesAreRfc4480s) {
  const auto& a = rpid_activities();
  EXPECT_EQ(a.size(), 25U);
  EXPECT_NE(std::find(a.begin(), a.end(), "on-the-phone"), a.end());
  EXPECT_EQ(std::find(a.begin(), a.end(), "other"), a.end());
}

}  // namespace
}  // namespace herald::client
