#include "gateway/station/password_pool.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "gateway/log/log.hpp"

namespace gateway::station {

PasswordPool::PasswordPool(std::size_t threads, Clock::duration max_wait, Clock::duration first_guess)
    : max_wait_(max_wait),
      average_us_(static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(first_guess).count())) {
    threads = std::max<std::size_t>(threads, 1);
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        threads_.emplace_back([this] {
            log::name_thread("ocpp-password");
            work();
        });
    }
}

PasswordPool::~PasswordPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        jobs_.clear();  // their connections are being torn down with the listener
    }
    wake_.notify_all();
    for (auto& t : threads_) {
        t.join();
    }
}

PasswordPool::Clock::duration PasswordPool::expected_wait_locked() const {
    // Everything queued, plus what is running, shared by the workers; a free worker starts
    // a new job at once.
    const double ahead = static_cast<double>(jobs_.size() + busy_);
    const double workers = static_cast<double>(threads_.size());
    if (ahead < workers) {
        return Clock::duration::zero();
    }
    const double waves = (ahead - workers + 1.0) / workers;
    return std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(
        static_cast<std::int64_t>(waves * average_us_)));
}

bool PasswordPool::submit(std::function<void()> job) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || expected_wait_locked() > max_wait_) {
            return false;
        }
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
    return true;
}

std::size_t PasswordPool::queued() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.size();
}

PasswordPool::Clock::duration PasswordPool::expected_wait() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return expected_wait_locked();
}

void PasswordPool::work() {
    // Below the I/O threads: on a busy machine they get a core first, and the checks take
    // what is left (the budget bounds them from above). Linux gives each thread its own nice
    // value; elsewhere, or without the right, the checks run at normal priority.
#ifdef SYS_gettid
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kNice);
#endif
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) {
            return;
        }
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        ++busy_;
        lock.unlock();
        const auto started = Clock::now();
        job();
        const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        job = nullptr;  // what it holds (a connection) is let go outside the lock
        lock.lock();
        --busy_;
        // Recent jobs count most: a registry reloaded with other iteration counts shows at once.
        average_us_ = 0.75 * average_us_ + 0.25 * static_cast<double>(took.count());
    }
}

}  // namespace gateway::station
