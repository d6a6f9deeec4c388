#pragma once

#include <librdkafka/rdkafka.h>

#include <string>

#include "kafka_bridge/error.hpp"

// Inside kafka_bridge only: librdkafka error codes as Errors.
namespace kafka_bridge::detail {

/// `code` as an Error, retriable where trying again later may succeed; the library's text
/// when `message` is empty.
Error from_code(rd_kafka_resp_err_t code, std::string message = {});

/// A setting librdkafka or the gateway refuses.
Error config_error(std::string message);

}  // namespace kafka_bridge::detail
