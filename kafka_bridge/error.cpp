#include "kafka_bridge/error.hpp"

#include "kafka_bridge/rdkafka_error.hpp"

#include <librdkafka/rdkafka.h>

namespace kafka_bridge {

bool Error::is_backpressure() const { return code_ == RD_KAFKA_RESP_ERR__QUEUE_FULL; }

bool Error::is_too_large() const { return code_ == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; }

bool Error::is_authorization() const {
    return code_ == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           code_ == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
           code_ == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

std::string Error::name() const {
    return rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code_));
}

std::string Error::to_string() const { return name() + ": " + message_; }

namespace detail {

Error from_code(rd_kafka_resp_err_t code, std::string message) {
    if (message.empty()) {
        message = rd_kafka_err2str(code);
    }
    const bool retriable = code == RD_KAFKA_RESP_ERR__QUEUE_FULL ||
                           code == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
                           code == RD_KAFKA_RESP_ERR__TRANSPORT ||
                           code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                           code == RD_KAFKA_RESP_ERR__TIMED_OUT;
    return Error(code, std::move(message), code == RD_KAFKA_RESP_ERR__FATAL, retriable);
}

Error config_error(std::string message) {
    return Error(RD_KAFKA_RESP_ERR__INVALID_ARG, std::move(message));
}

}  // namespace detail
}  // namespace kafka_bridge
