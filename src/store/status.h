#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace herald::store {

// What went wrong, coarse enough for a caller to choose a reaction (a SIP 404 versus 500,
// a retry, a refusal to start). The message says the rest, for logs and the operator.
enum class StatusCode {
  kOk,
  kNotFound,         // the user, binding, message, publication … named does not exist
  kAlreadyExists,    // add_user() of an AOR that exists
  kInvalidArgument,  // a value the store cannot hold (e.g. an empty AOR)
  kCorruption,       // the file is not a database, or is damaged
  kUnsupported,      // schema written by a newer Herald, unknown backend
  kIoError,          // anything else from the backend: disk, lock timeout, network
};

// The result of a store operation that returns no value (LevelDB's Status, without
// exceptions). Cheap to copy when ok: the message is empty.
class Status {
 public:
  Status() = default;
  static Status ok_status() { return Status{}; }
  static Status error(StatusCode code, std::string message) {
    assert(code != StatusCode::kOk);
    return Status{code, std::move(message)};
  }
  static Status not_found(std::string message) {
    return error(StatusCode::kNotFound, std::move(message));
  }
  static Status already_exists(std::string message) {
    return error(StatusCode::kAlreadyExists, std::move(message));
  }
  static Status invalid_argument(std::string message) {
    return error(StatusCode::kInvalidArgument, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  bool is_not_found() const { return code_ == StatusCode::kNotFound; }
  StatusCode code() const { return code_; }
  // Empty when ok(); otherwise says what failed and, for files, which one.
  const std::string& message() const { return message_; }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status saying why there is none (the shape of C++23 std::expected<T,
// Status>). A "not found" lookup is an error with StatusCode::kNotFound, so a caller can tell
// "absent" from "the database failed".
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.ok());
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // Precondition for the accessors: ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace herald::store
