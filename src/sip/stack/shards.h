#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <vector>

namespace herald::sip {

class Stack;

// The shards of one process, as each one's Stack sees the others: where a request, a response
// or a send is handed when another shard owns it (DESIGN.md, Concurrency). A hand-off is a
// post to the owner's event loop; nothing else is shared on the hot path. Stream connections
// (TCP) all live on shard 0 for now, so a shard that sends over one hands the send to shard 0.
//
// Threading: attach() every shard before any loop runs; after that, any thread may call post()
// and stack() (a Stack itself is used only on its own thread, so what is posted calls it).
class Shards {
 public:
  explicit Shards(std::uint32_t count) : stacks_(count, nullptr), loops_(count, nullptr) {}

  std::uint32_t count() const { return static_cast<std::uint32_t>(stacks_.size()); }
  void attach(std::uint32_t index, Stack& stack, boost::asio::io_context& loop) {
    stacks_.at(index) = &stack;
    loops_.at(index) = &loop;
  }
  Stack& stack(std::uint32_t index) const { return *stacks_.at(index); }
  // Runs `work` on shard `index`'s loop, after what it has queued already.
  void post(std::uint32_t index, std::function<void()> work) const;
  // The shard whose transport holds the stream connections.
  static constexpr std::uint32_t kStreamShard = 0;

 private:
  std::vector<Stack*> stacks_;
  std::vector<boost::asio::io_context*> loops_;
};

}  // namespace herald::sip
