// Result<T>: the return type of every operation that can fail in an expected way.
//
// An Error carries a domain ErrorCode and a human-readable message. HTTP statuses are
// chosen from the code in exactly one place (api/error_mapping). Exceptions never cross
// a module boundary; programmer errors use CONTEX_ASSERT.
#pragma once

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace contex {

enum class ErrorCode {
    kInvalidArgument,   // caller sent something malformed (validation, parse)
    kNotFound,          // the addressed thing does not exist
    kConflict,          // state conflict (duplicate, concurrent change)
    kTooLarge,          // a size limit was exceeded
    kUnavailable,       // a dependency is down or overloaded; retrying may help
    kTimeout,           // a deadline passed
    kUnauthenticated,   // missing or invalid credentials
    kPermissionDenied,  // authenticated but not allowed
    kQuotaExceeded,     // rate limit or quota
    kCancelled,         // the work was cancelled (shutdown, caller gone)
    kInternal,          // a bug or an unexpected failure
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;

    Error() = default;
    Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
};

inline Error InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Error Conflict(std::string m) { return {ErrorCode::kConflict, std::move(m)}; }
inline Error TooLarge(std::string m) { return {ErrorCode::kTooLarge, std::move(m)}; }
inline Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Error Timeout(std::string m) { return {ErrorCode::kTimeout, std::move(m)}; }
inline Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
inline Error Cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }

// Either a value of type T or an Error. Accessing the wrong alternative is a
// programmer error (asserts in debug builds, aborts in release).
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT implicit

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { Check(true); return std::get<0>(v_); }
    const T& value() const& { Check(true); return std::get<0>(v_); }
    // By value, so `for (auto& x : Fetch().value())` cannot dangle (the temporary Result
    // would die before the loop body; this bit us twice in tests).
    T value() && { Check(true); return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const& { Check(false); return std::get<1>(v_); }
    Error&& error() && { Check(false); return std::get<1>(std::move(v_)); }

    T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

private:
    void Check(bool want_value) const {
        if (ok() != want_value) {
            std::fprintf(stderr, "Result accessed as %s but holds %s\n",
                         want_value ? "value" : "error", ok() ? "value" : "error");
            std::abort();
        }
    }
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT implicit

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const& {
        if (ok_) std::abort();
        return error_;
    }
    Error&& error() && {
        if (ok_) std::abort();
        return std::move(error_);
    }

private:
    Error error_;
    bool ok_ = true;
};

using Status = Result<void>;
inline Status OkStatus() { return {}; }

}  // namespace contex

// Propagates an error from an expression returning Result<...>.
#define CONTEX_TRY(expr)                                           \
    do {                                                           \
        auto&& contex_try_result_ = (expr);                        \
        if (!contex_try_result_.ok())                              \
            return std::move(contex_try_result_).error();          \
    } while (0)

#define CONTEX_CONCAT_INNER(a, b) a##b
#define CONTEX_CONCAT(a, b) CONTEX_CONCAT_INNER(a, b)

// auto x = value of a Result expression, or return its error.
#define CONTEX_ASSIGN_OR_RETURN(lhs, expr)                                         \
    auto CONTEX_CONCAT(contex_result_, __LINE__) = (expr);                         \
    if (!CONTEX_CONCAT(contex_result_, __LINE__).ok())                             \
        return std::move(CONTEX_CONCAT(contex_result_, __LINE__)).error();         \
    lhs = std::move(CONTEX_CONCAT(contex_result_, __LINE__)).value()

// Programmer-error check, active in every build type.
#define CONTEX_ASSERT(cond)                                                              \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                \
        }                                                                                \
    } while (0)
