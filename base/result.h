// Result<T, E>: expected failures (bad input, conflicts, API errors) travel as values, never as
// exceptions across module boundaries (ARCHITECTURE.md, Conventions). One type for all of them:
// with the default E = Error the failure is a message (`return Error{"why"};`, and error() is
// that text); the Kubernetes
// client uses E = kube::ApiError, whose kind lets callers tell a conflict from a 410 from a
// dropped connection (kind(), is()).
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace gpushare {

struct Error {
  std::string message;
};

template <typename T, typename E = Error>
class Result {
 public:
  Result(T value)
      : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(E error)
      : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The failure: its message for Error, the error object otherwise.
  const auto& error() const {
    if constexpr (std::is_same_v<E, Error>) {
      return std::get<1>(v_).message;
    } else {
      return std::get<1>(v_);
    }
  }
  // For error types with a `kind` (kube::ApiError).
  auto kind() const requires requires(const E& e) { e.kind; }
  { return std::get<1>(v_).kind; }
  template <typename K>
  bool is(K k) const requires requires(const E& e) {
    e.kind == k;
  }
  { return !ok() && std::get<1>(v_).kind == k; }

 private:
  std::variant<T, E> v_;
};

}  // namespace gpushare
