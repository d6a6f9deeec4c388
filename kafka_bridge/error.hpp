#pragma once

#include <string>

namespace kafka_bridge {

/// A Kafka error: librdkafka's code, its text, and what it means for the caller.
class Error {
public:
    Error() = default;
    /// `code` is a librdkafka rd_kafka_resp_err_t value.
    Error(int code, std::string message, bool fatal = false, bool retriable = false)
        : code_(code), message_(std::move(message)), fatal_(fatal), retriable_(retriable) {}

    int code() const { return code_; }
    const std::string& message() const { return message_; }
    /// The producer can no longer be used and must be recreated (librdkafka __FATAL).
    bool is_fatal() const { return fatal_; }
    /// Trying again later may succeed.
    bool is_retriable() const { return retriable_; }
    /// The local queue is full: stop producing until delivery reports drain it.
    bool is_backpressure() const;
    /// The record is larger than the client or the broker takes (message.max.bytes, the
    /// topic's max.message.bytes): sending it again cannot help.
    bool is_too_large() const;
    /// The cluster refused the client access (ACLs: topic, group or cluster authorization).
    bool is_authorization() const;
    /// librdkafka's symbolic name for the code, e.g. "_MSG_TIMED_OUT".
    std::string name() const;
    /// "name: message".
    std::string to_string() const;

private:
    int code_ = 0;
    std::string message_;
    bool fatal_ = false;
    bool retriable_ = false;
};

}  // namespace kafka_bridge
