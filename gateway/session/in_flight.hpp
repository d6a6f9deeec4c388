#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace gateway::session {

/// One station CALL counted in a shared in-flight counter from the moment it is accepted
/// until this token is destroyed (answered, failed, or dropped with its session). Move-only,
/// so the count follows the call through callbacks and queues and is taken back exactly once.
class InFlight {
public:
    InFlight() = default;
    explicit InFlight(std::atomic<std::int64_t>& counter) : counter_(&counter) { ++*counter_; }
    InFlight(InFlight&& other) noexcept : counter_(std::exchange(other.counter_, nullptr)) {}
    InFlight& operator=(InFlight&& other) noexcept {
        if (this != &other) {
            release();
            counter_ = std::exchange(other.counter_, nullptr);
        }
        return *this;
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    ~InFlight() { release(); }

    /// Takes the call out of the count now (idempotent).
    void release() {
        if (counter_ != nullptr) {
            --*counter_;
            counter_ = nullptr;
        }
    }

private:
    std::atomic<std::int64_t>* counter_ = nullptr;
};

}  // namespace gateway::session
