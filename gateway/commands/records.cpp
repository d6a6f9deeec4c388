// The Router's own records: every one with a delivery check, and written again when Kafka did
// not take it (results only when they were not read back meanwhile).
#include "gateway/commands/router.hpp"

#include <algorithm>
#include <iterator>

#include "gateway/log/log.hpp"
#include "kafka_bridge/record_json.hpp"

namespace gateway::commands {
namespace {

using kafka_bridge::Command;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

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
    if (maybe_ended_elsewhere(command)) {
        hold_result(command, std::string(status), std::move(record));
        return;
    }
    metrics_.command_result(std::string(status));
    log::debug("command {} for {} ({}): {}", command.command_id, command.station_id,
               command.action, status);
    write_result(command, std::move(record));
}

void Router::alive_acknowledged() {
    // Delivery reports come one at a time (two threads only for a moment while the delivery
    // pump hands over, which can move the acknowledgement back by milliseconds). The gap is
    // stored before the acknowledgement: a result finished in between must not see the fresh
    // one without the gap.
    const std::int64_t now = kafka_bridge::unix_now_ms();
    const std::int64_t before = alive_acked_ms_.load();
    const std::int64_t gap = now - before;
    const bool was_cut_off = before > 0 && gap >= config_.commands.instance_timeout.count();
    if (was_cut_off) {
        gap_ended_ms_ = now;
    }
    alive_acked_ms_ = now;
    if (was_cut_off) {
        log::warn("commands: no liveness record of this instance was acknowledged for {} ms: the "
                  "others may have ended commands it held; a result for one of those is written "
                  "only if the result topic has none",
                  gap);
    }
}

bool Router::maybe_ended_elsewhere(const Command& command) const {
    const std::int64_t now = kafka_bridge::unix_now_ms();
    if (now - alive_acked_ms_.load() >= config_.commands.instance_timeout.count()) {
        return true;  // cut off now
    }
    const std::int64_t gap_ended = gap_ended_ms_.load();
    if (gap_ended == 0) {
        return false;
    }
    // Cut off after the command came in (the intake's clock: hosts are NTP-synced).
    return gap_ended >= kafka_bridge::parse_time_ms(command.received_at).value_or(0);
}

void Router::hold_result(const Command& command, std::string status, std::string record) {
    log::info("command {} for {}: result held until this instance is seen alive and has read "
              "the result topic to its end",
              command.command_id, command.station_id);
    std::lock_guard<std::mutex> lock(held_mutex_);
    held_incoming_.push_back(
        HeldResult{command, std::move(status), std::move(record), alive_acked_ms_.load(), {}});
}

void Router::check_held_results() {
    {
        std::lock_guard<std::mutex> lock(held_mutex_);
        std::move(held_incoming_.begin(), held_incoming_.end(), std::back_inserter(held_results_));
        held_incoming_.clear();
    }
    if (held_results_.empty()) {
        return;
    }
    // Once a liveness record sent after the result was held is acknowledged, the others see
    // this instance alive and stop ending its commands (up to their reading lag); a result one
    // of them wrote before that is below the end offsets asked now.
    const std::int64_t acked = alive_acked_ms_.load();
    std::optional<std::map<std::int32_t, std::int64_t>> ends;
    for (auto& held : held_results_) {
        if (!held.ends.empty() || acked <= held.acked_before_ms) {
            continue;
        }
        if (!ends) {
            // Asked at most once a second, and 5 s after a failure (a leader being elected):
            // this thread also reads the tables and writes the liveness records.
            if (Clock::now() < next_end_query_) {
                break;
            }
            auto asked = tables_->end_offsets(config_.topics.command_results, 1s);
            next_end_query_ = Clock::now() + (asked.ok() ? 1s : 5s);
            if (!asked.ok()) {
                log::debug("commands: end of {}: {}", config_.topics.command_results,
                           asked.error().to_string());
                break;
            }
            ends = std::move(asked.value());
        }
        held.ends = *ends;
    }
    for (auto it = held_results_.begin(); it != held_results_.end();) {
        const bool read_to_end =
            !it->ends.empty() &&
            std::all_of(it->ends.begin(), it->ends.end(), [this](const auto& end) {
                const auto read = results_read_.find(end.first);
                return read != results_read_.end() ? read->second >= end.second : end.second == 0;
            });
        if (!read_to_end) {
            ++it;
            continue;
        }
        bool ended = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ended = resulted_.contains(command_key(it->command.command_id, it->command.station_id));
        }
        if (ended && it->status.empty() && written_by_self(it->command.command_id)) {
            // A retry whose earlier attempt landed after all: written once, nothing withheld.
            log::info("command {} for {}: its result is on the topic already",
                      it->command.command_id, it->command.station_id);
        } else if (ended) {
            metrics_.command_result_withheld();
            log::warn("command {} for {}: ended by another instance while this one was cut off "
                      "from Kafka; this instance's result is not written: {}",
                      it->command.command_id, it->command.station_id, it->record);
        } else {
            if (!it->status.empty()) {
                metrics_.command_result(it->status);
            }
            write_result(it->command, std::move(it->record));
        }
        it = held_results_.erase(it);
    }
}

// From the recent results, which keep the first result of a command: when ours was pushed out
// (count or size), a retry of ours is counted as withheld although it is on the topic; when
// another instance's landed before ours, the log calls ours not written; for an id two stations'
// commands took at once, the first result kept may be the other station's. All are rare and
// none writes a second result.
bool Router::written_by_self(const std::string& command_id) const {
    std::optional<std::string> found;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        found = results_.find(command_id, kafka_bridge::unix_now_ms());
    }
    if (!found) {
        return false;
    }
    const auto doc = kafka_bridge::parse_record_json(*found);
    const auto it = doc.is_object() ? doc.find("gatewayId") : doc.end();
    return it != doc.end() && it->is_string() && it->get<std::string>() == config_.gateway_id;
}

void Router::write_result(const Command& command, std::string record) {
    produce(config_.topics.command_results, command.station_id, record,
            [this, command, record](bool ok) {
                if (ok) {
                    return;
                }
                // Written again unless it did land after all: one result, not none, not two.
                // A failed request may have been appended (its outcome unknown) and the tables
                // thread, reading from the same stalled broker, may not have read it back yet;
                // so the retry is held until the result topic is read to the end offsets
                // asked after it, like a result of an instance that was cut off.
                retry_later("result of command " + command.command_id, [this, command, record] {
                    bool landed = false;
                    {
                        std::lock_guard<std::mutex> lock(mutex_);
                        landed = resulted_.contains(
                            command_key(command.command_id, command.station_id));
                    }
                    if (!landed) {
                        hold_result(command, "", record);  // counted when first written
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
