#include "gateway/app/topic_watch.hpp"

#include <fmt/format.h>

namespace gateway::app {

std::string TopicChange::describe() const {
    switch (kind) {
        case Kind::missing:
            return fmt::format("topic {} no longer exists: records for it fail (stations get an "
                               "error and send again) until it is created again; the gateway does "
                               "not create it while running (restart it, or create the topic)",
                               topic);
        case Kind::back:
            return fmt::format("topic {} exists again ({} partitions)", topic, partitions_now);
        case Kind::recreated:
            return fmt::format("topic {} was deleted and created again ({} partitions, before {}): "
                               "records written to it before are gone, and offsets readers kept "
                               "for it no longer mean what they did",
                               topic, partitions_now, partitions_before);
        case Kind::partitions_changed:
            return fmt::format("topic {} now has {} partitions (before {}): records of one key "
                               "written before and after the change can sit in different "
                               "partitions, so their order across the change is not kept",
                               topic, partitions_now, partitions_before);
    }
    return topic;
}

bool TopicChange::is_error() const { return kind == Kind::missing || kind == Kind::recreated; }

void TopicWatch::start(const std::map<std::string, kafka_bridge::TopicState>& states) {
    std::lock_guard<std::mutex> lock(mutex_);
    known_.clear();
    for (const auto& [topic, state] : states) {
        Known& k = known_[topic];
        k.id = state.id;
        k.partitions = state.partitions;
        k.status.missing = !state.exists;
        k.status.partitions = state.partitions;
    }
}

std::vector<TopicChange> TopicWatch::observe(
    const std::map<std::string, kafka_bridge::TopicState>& states) {
    using Kind = TopicChange::Kind;
    std::vector<TopicChange> changes;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [topic, k] : known_) {
        const auto found = states.find(topic);
        if (found == states.end()) {
            continue;
        }
        const kafka_bridge::TopicState& now = found->second;
        if (!now.exists) {
            if (!k.status.missing) {
                k.status.missing = true;
                k.status.partitions = 0;
                changes.push_back({Kind::missing, topic, k.partitions, 0});
            }
            continue;
        }
        const bool was_missing = k.status.missing;
        k.status.missing = false;
        if (!k.id.empty() && !now.id.empty() && k.id != now.id) {
            ++k.status.recreated;
            changes.push_back({Kind::recreated, topic, k.partitions, now.partitions});
        } else if (was_missing) {
            changes.push_back({Kind::back, topic, k.partitions, now.partitions});
        } else if (k.partitions != 0 && now.partitions != k.partitions) {
            changes.push_back({Kind::partitions_changed, topic, k.partitions, now.partitions});
        }
        if (!now.id.empty()) {
            k.id = now.id;
        }
        k.partitions = now.partitions;
        k.status.partitions = now.partitions;
    }
    return changes;
}

std::map<std::string, TopicWatch::Status> TopicWatch::status() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, Status> out;
    for (const auto& [topic, k] : known_) {
        out[topic] = k.status;
    }
    return out;
}

}  // namespace gateway::app
