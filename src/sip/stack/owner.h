#pragma once

// Owner routing (DESIGN.md, Concurrency): every AOR has one owner shard, so per-AOR state
// (bindings, publications, subscriptions, stored messages) lives on one thread and needs no
// lock. An AOR's slot is 16 bits of a hash of its key (sip::address_of_record); its owner is
// slot % shards. A slot does not depend on the number of shards, so the tags Herald hands out
// carry the slot, not the shard, and still find the owner after a restart with another
// `workers` count.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sip/msg/message.h"

namespace herald::sip {

using Slot = std::uint16_t;

// The slot of an AOR key ("sip:alice@example.com", as sip::address_of_record makes it).
Slot slot_of(std::string_view aor_key);
// The shard that owns `slot` among `shards` (at least 1).
inline std::uint32_t owner_of(Slot slot, std::uint32_t shards) { return slot % shards; }

// A tag for a dialog whose state is kept under `slot` (a subscription: its resource's slot):
// "h" + the slot in 4 hex digits + 16 hex digits of `random`, e.g. "h03fa9c2e1b7d44a07e55".
std::string slot_tag(Slot slot, std::uint64_t random);
// The slot a tag made by slot_tag() carries; nullopt for any other tag.
std::optional<Slot> slot_of_tag(std::string_view tag);

// Whether this shard owns an AOR key: what a service loads at startup (its other shards load
// the rest). Empty: every AOR (one shard).
using OwnedAor = std::function<bool(std::string_view aor_key)>;

// The slot whose owner serves `request`: the slot in Herald's To tag for a request in one of
// Herald's dialogs (not for ACK and CANCEL, which follow their INVITE); otherwise the AOR of
// the To URI for REGISTER and of the Request-URI for the rest. A retransmission, its CANCEL and
// the ACK for its non-2xx answer therefore reach the same owner as the request.
Slot request_slot(const Message& request);

}  // namespace herald::sip
