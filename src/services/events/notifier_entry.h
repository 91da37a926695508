#pragma once

// The notifier's private records (notifier.h declares them), shared by its source files.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/events/notifier.h"

namespace herald::services::events {

// The live subscriptions of one package to one resource, oldest first. Ending one blanks its
// slot (O(1)); blanks are squeezed out once they outnumber the live entries and no walk is
// running, so a walk may end subscriptions (its own or others) as it goes.
struct Notifier::Watchers {
  std::vector<Entry*> entries;
  std::size_t live = 0;
  std::size_t pending = 0;  // live ones in state pending
  int walks = 0;  // walks in progress
};

struct Notifier::PackageSlot {
  Package* package = nullptr;
  std::string name;  // lower case
  std::unordered_map<std::string, Watchers, StringHash, std::equal_to<>> resources;
};

struct Notifier::Entry {
  std::uint64_t id = 0;  // 0: a subscription that is not kept (fetch, rejection)
  Subscription s;
  PackageSlot* slot = nullptr;
  Watchers* watchers = nullptr;  // null once out of the index
  std::size_t position = 0;      // in watchers->entries
  sip::txn::TimerId expiry;
  // Where NOTIFYs go: the flow's destination and the resolved next hop, kept until the
  // remote target or the flow changes (the hosts table does not change).
  std::optional<sip::transport::Destination> flow;
  std::optional<sip::transport::Destination> next_hop;
  std::uint32_t cseq_ceiling = 0;  // NOTIFY CSeqs below it are reserved in the store
  bool in_flight = false;          // a NOTIFY is outstanding
  bool dirty = false;              // the state changed meanwhile: send it after the answer
  bool ended = false;              // out of the indices and the store
  bool final_pending = false;      // the final NOTIFY is still to be sent
  bool final_body = false;         // and carries the state
  Reason final_reason = Reason::kTimeout;
  // The source the SUBSCRIBE that made it came from, when it counts against max_per_source.
  std::optional<sip::transport::SourceKey> source;
  bool counted = false;            // counted in per_watcher_ (and per_source_)
  // The destination of its outstanding NOTIFY, when that is limited (admit_notify), and
  // whether it waits there for the destination's first answer.
  std::optional<sip::transport::SourceKey> dest;
  bool held = false;
  // RFC 3261 §18.1.1: its NOTIFY went over TCP for its size; the next goes over UDP after
  // all (the TCP connection was refused).
  bool over_tcp = false;
  bool force_udp = false;
};

}  // namespace herald::services::events
