#pragma once

#include <chrono>
#include <cstddef>
#include <utility>
#include <vector>

#include "kafka_bridge/consumer.hpp"

namespace test_support {

/// Reads from `consumer` until `count` messages arrived or `limit` passed; returns them.
inline std::vector<kafka_bridge::Message> read_messages(kafka_bridge::Consumer& consumer, std::size_t count,
                                                        std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    std::vector<kafka_bridge::Message> out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
        if (auto m = consumer.poll(std::chrono::milliseconds(50))) {
            out.push_back(std::move(*m));
        }
    }
    return out;
}

}  // namespace test_support
