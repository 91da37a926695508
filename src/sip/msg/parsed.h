#pragma once

#include <string_view>
#include <utility>

namespace herald::sip {

// The outcome of reading one header value (or any other element a peer sent):
// absent, malformed with a reason, or a value. Never throws.
//
// `why()` always points at a string with static storage duration (a literal), so a
// Parsed<T> can be copied freely and a reason can be put into a response's reason phrase.
template <class T>
class Parsed {
 public:
  enum class State { kAbsent, kMalformed, kOk };

  Parsed() = default;
  Parsed(T value) : state_(State::kOk), value_(std::move(value)) {}  // NOLINT: implicit on purpose

  static Parsed none() { return Parsed(); }
  static Parsed error(std::string_view why) {
    Parsed p;
    p.state_ = State::kMalformed;
    p.why_ = why;
    return p;
  }

  State state() const { return state_; }
  bool ok() const { return state_ == State::kOk; }
  bool absent() const { return state_ == State::kAbsent; }
  bool malformed() const { return state_ == State::kMalformed; }
  explicit operator bool() const { return ok(); }

  // Precondition: ok().
  const T& value() const& { return value_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  const T& operator*() const { return value_; }
  const T* operator->() const { return &value_; }

  // The value when ok(), `fallback` otherwise.
  T value_or(T fallback) const { return ok() ? value_ : std::move(fallback); }

  // Why the value is malformed; "missing" when absent; empty when ok().
  std::string_view why() const { return state_ == State::kAbsent ? "missing" : why_; }

 private:
  State state_ = State::kAbsent;
  T value_{};
  std::string_view why_;
};

}  // namespace herald::sip
