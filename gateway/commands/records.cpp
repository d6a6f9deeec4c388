// The Router's own records: every one with a delivery check, and written again when Kafka did
// not take it (results only when they were not read back meanwhile).
#include "gateway/commands/router.hpp"

#include <algorithm>
#include <iterator>

#include "gateway/log/log.hpp"

namespace gateway::commands {
namespace {

using kafka_bridge::Command;
using Clock = std::chrono::steady_clock;

// A record of the router's own that Kafka did not take is written again after this long
// (librdkafka has retried it for the whole delivery timeout by then).
constexpr std::chrono::seconds kRetryDelay{2};
constexpr std::chrono::seconds kRetryWarningInterval{1};

}  // namespace

void Router::produce(const std::string& topic, const std::string& key, std::string value,
                            std::function<void(bool)> done) {
    kafka_bridge::Record record{topic, key, std::move(value), {{"content-type", "application/json"}}};
    auto& metrics = metrics_;
    auto result = producers_.current()->produce(
        record, [done, topic, &metrics](const kafka_bridge::Delivery& d) {
            if (!d.ok()) {
                metrics.delivery_failure(topic);
                log::error("record for {} not acknowledged: {}", topic, d.error->to_string());
            }
            if (done) {
                done(d.ok());
            }
        });
    if (!result.ok()) {
        metrics_.delivery_failure(topic);
        log::error("record for {} not queued: {}", topic, result.error().to_string());
        if (done) {
            done(false);
        }
    }
}

void Router::publish_result(const Command& command, std::string_view status,
                                   std::string record) {
    metrics_.command_result(std::string(status));
    log::debug("command {} for {} ({}): {}", command.command_id, command.station_id,
               command.action, status);
    write_result(command, std::move(record));
}

void Router::write_result(const Command& command, std::string record) {
    produce(config_.topics.command_results, command.station_id, record,
            [this, command, record](bool ok) {
                if (ok) {
                    return;
                }
                // Written again unless it did land after all (then the tables thread has
                // read it back by the time the retry runs): one result, not none, not two.
                retry_later("result of command " + command.command_id, [this, command, record] {
                    bool landed = false;
                    {
                        std::lock_guard<std::mutex> lock(mutex_);
                        landed = resulted_.contains(command.command_id);
                    }
                    if (!landed) {
                        write_result(command, record);
                    }
                });
            });
}

void Router::retry_later(std::string what, std::function<void()> action) {
    std::lock_guard<std::mutex> lock(retry_mutex_);
    const auto now = Clock::now();
    if (now - last_retry_warning_ >= kRetryWarningInterval) {
        log::warn("{} not written; trying again in {} s", what, kRetryDelay.count());
        last_retry_warning_ = now;
    } else {
        ++unreported_retries_;
    }
    retries_.push_back(Retry{now + kRetryDelay, std::move(what), std::move(action)});
}

void Router::run_due_retries() {
    std::vector<Retry> due;
    {
        std::lock_guard<std::mutex> lock(retry_mutex_);
        const auto now = Clock::now();
        if (unreported_retries_ > 0 && now - last_retry_warning_ >= kRetryWarningInterval) {
            log::warn("{} more records of the command router not written since; each is tried "
                      "again {} s after it failed",
                      unreported_retries_, kRetryDelay.count());
            unreported_retries_ = 0;
            last_retry_warning_ = now;
        }
        auto split = std::stable_partition(retries_.begin(), retries_.end(),
                                           [now](const Retry& r) { return r.at > now; });
        due.assign(std::make_move_iterator(split), std::make_move_iterator(retries_.end()));
        retries_.erase(split, retries_.end());
    }
    for (auto& r : due) {
        r.action();
    }
}

}  // namespace gateway::commands
