#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <algorithm>
#include <cctype>

namespace ocpp {

/// A value with a distinct type per meaning, so a station id cannot be passed as a message id.
template <typename T, typename Tag>
class NamedType {
public:
    NamedType() = default;
    explicit NamedType(T value) : value_(std::move(value)) {}

    const T& get() const { return value_; }

    friend bool operator==(const NamedType& a, const NamedType& b) { return a.value_ == b.value_; }
    friend bool operator!=(const NamedType& a, const NamedType& b) { return a.value_ != b.value_; }
    friend bool operator<(const NamedType& a, const NamedType& b) { return a.value_ < b.value_; }
    friend std::ostream& operator<<(std::ostream& os, const NamedType& v) { return os << v.value_; }

private:
    T value_{};
};

/// The station identity taken from the endpoint URL.
using StationId = NamedType<std::string, struct StationIdTag>;
/// An OCPP-J message id: 1 to 36 characters (the unique id of a CALL).
using MessageId = NamedType<std::string, struct MessageIdTag>;
/// An OCPP action name such as "BootNotification".
using Action = NamedType<std::string, struct ActionTag>;

/// Longest message id OCPP-J allows.
inline constexpr std::size_t kMaxMessageIdLength = 36;
/// Message id used in a CALLERROR when the offending frame's id could not be read.
inline constexpr std::string_view kUnreadableMessageId = "-1";

/// `c` in lower case if it is an ASCII letter (whatever the process's locale).
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// `s` with ASCII letters in lower case: station identities compare case-insensitively.
inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return ascii_lower(c); });
    return out;
}

}  // namespace ocpp

template <typename T, typename Tag>
struct std::hash<ocpp::NamedType<T, Tag>> {
    std::size_t operator()(const ocpp::NamedType<T, Tag>& v) const noexcept {
        return std::hash<T>{}(v.get());
    }
};
