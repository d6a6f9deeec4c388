#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gateway::station {

/// Threads for the password checks (PBKDF2, tens of milliseconds each) that the registry's
/// cache cannot answer, so that no I/O thread computes one while its sessions wait.
///
/// The queue is bounded by time, not length: a job is taken only while the work already
/// queued would start within `max_wait` (judged from the average duration of the jobs run so
/// far), because a connection whose check starts later has been given up by then
/// (websocketpp's post-init timeout). Jobs run in order of submission. Thread-safe.
class PasswordPool {
public:
    using Clock = std::chrono::steady_clock;

    /// `threads` ≥ 1 workers. `first_guess`: the duration assumed until a job has run.
    PasswordPool(std::size_t threads, Clock::duration max_wait,
                 Clock::duration first_guess = std::chrono::milliseconds(50));
    ~PasswordPool();

    PasswordPool(const PasswordPool&) = delete;
    PasswordPool& operator=(const PasswordPool&) = delete;

    /// Queues `job` (run on a worker) and returns true, or returns false and drops it when it
    /// would wait longer than max_wait.
    bool submit(std::function<void()> job);

    /// Jobs queued and not yet started.
    std::size_t queued() const;
    /// How long a job submitted now would wait, as submit() judges it.
    Clock::duration expected_wait() const;

    /// The workers' nice value (Linux): lower priority than the I/O threads.
    static constexpr int kNice = 10;

private:
    Clock::duration expected_wait_locked() const;  // under mutex_
    void work();

    const Clock::duration max_wait_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;  // under mutex_
    std::size_t busy_ = 0;                    // under mutex_: jobs running now
    double average_us_;                       // under mutex_: moving average of job durations
    bool stopping_ = false;                   // under mutex_
    std::vector<std::thread> threads_;
};

}  // namespace gateway::station
