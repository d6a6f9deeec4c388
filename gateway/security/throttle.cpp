#include "gateway/security/throttle.hpp"

#include <algorithm>

namespace gateway::security {

std::chrono::seconds AttemptThrottle::retry_after(const std::string& key, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.blocked_until <= now) {
        return std::chrono::seconds(0);
    }
    return std::chrono::duration_cast<std::chrono::seconds>(it->second.blocked_until - now) +
           std::chrono::seconds(1);
}

bool AttemptThrottle::failure(const std::string& key, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= settings_.max_keys && entries_.count(key) == 0 && !by_start_.empty()) {
        // Forget the entry that started longest ago.
        const auto oldest = by_start_.begin();
        entries_.erase(oldest->second);
        by_start_.erase(oldest);
    }
    const auto [it, added] = entries_.try_emplace(key);
    Entry& e = it->second;
    if (added) {
        e.first = now;
        by_start_.emplace(now, key);
    } else if (e.failures == 0 || now - e.first > settings_.window) {
        if (e.blocked_until <= now) {
            const auto first = e.first;  // what by_start_ knows it by
            e = Entry{};
            e.first = first;
        }
        restart(key, e, now);
    }
    ++e.failures;
    if (e.failures < settings_.limit) {
        return false;
    }
    const bool starts = e.blocked_until <= now;
    e.backoff = e.backoff.count() == 0 ? settings_.base_backoff
                                       : std::min(settings_.max_backoff, e.backoff * 2);
    e.blocked_until = now + e.backoff;
    return starts;
}

void AttemptThrottle::restart(const std::string& key, Entry& e, Clock::time_point first) {
    by_start_.erase({e.first, key});
    e.first = first;
    by_start_.emplace(first, key);
}

void AttemptThrottle::success(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (const auto it = entries_.find(key); it != entries_.end()) {
        by_start_.erase({it->second.first, key});
        entries_.erase(it);
    }
}

bool RateLimiter::try_take(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (last_ != Clock::time_point{}) {
        const double elapsed = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    }
    last_ = now;
    if (tokens_ < 1.0) {
        return false;
    }
    tokens_ -= 1.0;
    return true;
}

WorkBudget::WorkBudget(std::chrono::microseconds per_second, std::chrono::microseconds burst)
    : per_second_us_(static_cast<double>(per_second.count())),
      capacity_us_(static_cast<double>(burst.count())),
      balance_us_(capacity_us_) {}

void WorkBudget::refill(Clock::time_point now) {
    if (last_ != Clock::time_point{} && now > last_) {
        const double elapsed = std::chrono::duration<double>(now - last_).count();
        balance_us_ = std::min(capacity_us_, balance_us_ + elapsed * per_second_us_);
    }
    if (now > last_) {
        last_ = now;
    }
}

bool WorkBudget::available(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    refill(now);
    return balance_us_ > 0;
}

void WorkBudget::charge(Clock::duration took, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    refill(now);
    balance_us_ -= std::chrono::duration<double, std::micro>(took).count();
}

}  // namespace gateway::security
