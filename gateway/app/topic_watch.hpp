#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kafka_bridge/producer.hpp"

namespace gateway::app {

/// Something that happened to one of the gateway's topics while it runs.
struct TopicChange {
    enum class Kind : std::uint8_t {
        missing,             ///< deleted (records for it fail until it exists again)
        back,                ///< exists again after it was missing (same id, or ids unknown)
        recreated,           ///< deleted and created again under the same name (a new id)
        partitions_changed,  ///< another partition count than before
    };
    Kind kind;
    std::string topic;
    int partitions_before = 0;
    int partitions_now = 0;

    /// What happened and what it means, in words, for the log.
    std::string describe() const;
    /// An error (data at stake) rather than a warning.
    bool is_error() const;
};

/// Follows the gateway's topics while it runs, so a topic deleted, recreated or repartitioned
/// behind its back is noticed and reported (the gateway never creates a topic after start-up,
/// and its clients never let a broker auto-create one). Fed by periodic
/// Producer::describe_topics answers; thread-safe (observed on one thread, read by /metrics).
class TopicWatch {
public:
    /// What is known of one topic, for metrics.
    struct Status {
        bool missing = false;
        std::uint64_t recreated = 0;
        int partitions = 0;
    };

    /// The first answer: what later answers are compared with. Topics absent from `states`
    /// are not watched.
    void start(const std::map<std::string, kafka_bridge::TopicState>& states);

    /// Compares a later answer with what was known, remembers it, and returns what changed
    /// (each change once: a topic that stays missing is reported when it goes). Topics the
    /// answer leaves out keep their last known state.
    std::vector<TopicChange> observe(const std::map<std::string, kafka_bridge::TopicState>& states);

    std::map<std::string, Status> status() const;

private:
    struct Known {
        std::string id;
        int partitions = 0;
        Status status;
    };
    mutable std::mutex mutex_;
    std::map<std::string, Known> known_;
};

}  // namespace gateway::app
