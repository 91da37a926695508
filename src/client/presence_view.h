#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/subscription.h"

// Presence as a person reads it: what a NOTIFY says about a presentity, summed up, and
// written as one line or one JSON object; and the PIDF document `herald publish` sends.
// Pure (no I/O).
namespace herald::client {

// The RPID activities (RFC 4480 §3.2) `herald publish --activity` accepts.
const std::vector<std::string_view>& rpid_activities();

struct PresenceSummary {
  std::string state;                 // "active", "pending", "terminated"
  std::string reason;                // with terminated
  std::optional<std::string> basic;  // "open" if any tuple is open, else "closed"; none without a document
  std::string note;                  // the first note of an open tuple, else of any tuple, else the document's
  std::vector<std::string> activities;
  std::vector<std::string> contacts;  // of the open tuples, in document order
  std::string error;                  // why the body could not be read (then no basic)

  bool operator==(const PresenceSummary&) const = default;
};

// Sums up `n` (its body parsed as PIDF or CPIM-PIDF, RPID activities read from the
// document's person elements) for `presentity`.
PresenceSummary summarize(const Notification& n, std::string_view presentity);

// "2026-11-22T09:00:05Z" for `when`.
std::string utc_text(std::time_t when);

// One line: "TIME PRESENTITY open "note" activity=a,b contact=URI", "TIME PRESENTITY pending
// (waiting for authorization)", "TIME PRESENTITY ended (REASON)".
std::string format_line(std::string_view time, std::string_view presentity, const PresenceSummary& s);
// One JSON object: time, presentity, state, basic, note, activities, contacts, reason.
std::string format_json(std::string_view time, std::string_view presentity, const PresenceSummary& s);

// The application/pidf+xml document of `herald publish`: one tuple with `basic`, `note`
// and `contact` (each optional), and when `activities` is not empty an RPID person element
// listing them, all stamped with `timestamp` (RFC 3339).
std::string publish_document(std::string_view presentity, std::string_view basic, std::string_view note,
                             const std::vector<std::string>& activities, std::string_view contact,
                             std::string_view timestamp);

}  // namespace herald::client
