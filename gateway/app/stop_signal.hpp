#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace gateway::app {

/// A stop request (SIGTERM, SIGINT), seen by whoever waits. Thread-safe.
class StopSignal {
public:
    void request() {
        // Notified under the lock: a waiter that sees stop_ may go on to destroy this object
        // (the gateway's main thread ends the process), so nothing here may touch it after the
        // lock is released.
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
        cv_.notify_all();
    }
    /// Waits up to `d`; returns true when stop was requested.
    bool wait_for(std::chrono::milliseconds d) {
        std::unique_lock<std::mutex> lock(mutex_);
        return cv_.wait_for(lock, d, [this] { return stop_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
};

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it, and requests
/// `stop` from a thread of its own when one arrives.
void stop_on_signals(StopSignal& stop);

}  // namespace gateway::app
