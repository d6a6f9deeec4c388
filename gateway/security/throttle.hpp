#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace gateway::security {

/// Failed attempts per key (identity or address) with exponential backoff: after `limit`
/// failures within `window`, the key is refused for `base_backoff`, doubling with each further
/// failure up to `max_backoff`. Memory is bounded by `max_keys` (the oldest entries go first).
class AttemptThrottle {
public:
    using Clock = std::chrono::steady_clock;
    struct Settings {
        unsigned limit = 5;
        std::chrono::seconds window{60};
        std::chrono::seconds base_backoff{1};
        std::chrono::seconds max_backoff{300};
        std::size_t max_keys = 100000;
    };
    explicit AttemptThrottle(Settings settings) : settings_(settings) {}

    /// Zero when `key` may try now; else how long it must wait.
    std::chrono::seconds retry_after(const std::string& key, Clock::time_point now);
    /// Counts a failure; true when it starts a refusal period (the limit was just reached, or
    /// reached again after a period ended), so each period can be reported once.
    bool failure(const std::string& key, Clock::time_point now);
    void success(const std::string& key);

private:
    struct Entry {
        unsigned failures = 0;
        Clock::time_point first;
        Clock::time_point blocked_until;
        std::chrono::seconds backoff{0};
    };
    /// Sets `e.first` (the entry of `key`), keeping by_start_ in step.
    void restart(const std::string& key, Entry& e, Clock::time_point first);

    Settings settings_;
    std::mutex mutex_;
    std::map<std::string, Entry> entries_;
    /// The entries by the start of their window: the one to forget when full, found at once
    /// (a scan of 100,000 keys per failure would let failures from many addresses cost dearly).
    std::set<std::pair<Clock::time_point, std::string>> by_start_;
};

/// A token bucket: `rate` per second, bursts of `burst`. Thread-safe.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    RateLimiter(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
    /// Takes one token if there is one.
    bool try_take(Clock::time_point now);

private:
    std::mutex mutex_;
    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point last_{};
};

/// CPU time for expensive work done on the I/O threads (password hashing): `per_second` of it
/// each second, at most `burst` saved up (and that much to start with). Work may start while
/// the budget is not overdrawn and is charged what it took afterwards, so its cost need not be
/// known in advance (it depends on each hash's iteration count); work started at the same time
/// on several threads can overdraw it by one piece each. Thread-safe.
class WorkBudget {
public:
    using Clock = std::chrono::steady_clock;
    WorkBudget(std::chrono::microseconds per_second, std::chrono::microseconds burst);
    /// Whether work may start now.
    bool available(Clock::time_point now);
    /// Charges work that took `took`.
    void charge(Clock::duration took, Clock::time_point now);

private:
    void refill(Clock::time_point now);  // under mutex_

    std::mutex mutex_;
    double per_second_us_;
    double capacity_us_;
    double balance_us_;
    Clock::time_point last_{};
};

}  // namespace gateway::security
