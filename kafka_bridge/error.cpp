#include "kafka_bridge/error.hpp"

#include <librdkafka/rdkafka.h>

namespace kafka_bridge {

bool Error::is_backpressure() const { return code_ == RD_KAFKA_RESP_ERR__QUEUE_FULL; }

std::string Error::name() const {
    return rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code_));
}

std::string Error::to_string() const { return name() + ": " + message_; }

}  // namespace kafka_bridge
