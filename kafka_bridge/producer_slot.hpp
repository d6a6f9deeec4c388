#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "kafka_bridge/producer.hpp"

namespace kafka_bridge {

/// The producer in use, replaced by a fresh one after a fatal error.
///
///   poll_and_recover() ── fatal error seen ──▶ create a new producer ──▶ swap it in
///                                                └─▶ the old one is retired: it fails every
///                                                    record it still holds (callbacks report
///                                                    errors, never a success) and is destroyed
///                                                    by a later poll_and_recover() once no
///                                                    one else holds it
///
/// A retired producer is never destroyed by another holder letting go of it: destroying
/// purges and polls for up to 5 s, which must not happen on an I/O thread.
///
/// current() is thread-safe; poll_and_recover() is for the one polling thread.
class ProducerSlot {
public:
    ProducerSlot(ProducerConfig config, std::unique_ptr<Producer> first)
        : config_(std::move(config)), current_(std::move(first)) {}

    /// The producer to use now. Keep the pointer only for the call at hand.
    std::shared_ptr<Producer> current() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return current_;
    }

    /// Serves delivery reports; after a fatal error, replaces the producer. Returns the error
    /// that made it replace the producer, or the error that stopped it from creating one.
    /// While a wake-up fd is set, the current producer's reports are served by whoever waits
    /// on it (see set_wakeup_fd) and this only waits `timeout` and checks for a fatal error.
    std::optional<Error> poll_and_recover(std::chrono::milliseconds timeout);

    /// Hands the current producer's delivery reports, and those of every producer that
    /// replaces it, to an event loop: librdkafka signals `fd` (an eventfd) when reports wait,
    /// and the loop serves them with current()->poll(0). -1 gives them back to
    /// poll_and_recover(); do that before closing `fd`. Replaced producers always go back to
    /// poll_and_recover() (their reports are failures, in no hurry).
    void set_wakeup_fd(int fd);

    /// Replaced producers still held by someone else (destroyed by poll_and_recover later).
    std::size_t retired() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return retired_.size();
    }

    /// How many times the producer was replaced.
    std::uint64_t replacements() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return replacements_;
    }

private:
    ProducerConfig config_;
    mutable std::mutex mutex_;
    std::shared_ptr<Producer> current_;
    std::vector<std::shared_ptr<Producer>> retired_;
    std::uint64_t replacements_ = 0;
    std::atomic<int> wakeup_fd_{-1};
};

}  // namespace kafka_bridge
