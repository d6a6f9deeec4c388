#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/station/password_pool.hpp"

using gateway::station::PasswordPool;
using namespace std::chrono_literals;

namespace {

/// A gate the test opens: jobs block on it, so the pool's state is known while they wait.
class Gate {
public:
    void wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        ++waiting_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return open_; });
    }
    void wait_for_waiters(int n) {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return waiting_ >= n; });
    }
    void open() {
        std::lock_guard<std::mutex> lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int waiting_ = 0;
    bool open_ = false;
};

}  // namespace

TEST_CASE("the password pool runs jobs on its own threads, in order", "[station]") {
    PasswordPool pool(1, 10s);
    std::mutex mutex;
    std::vector<int> order;
    std::promise<std::thread::id> ran_on;
    for (int i = 0; i < 5; ++i) {
        REQUIRE(pool.submit([&, i] {
            std::lock_guard<std::mutex> lock(mutex);
            order.push_back(i);
            if (i == 4) {
                ran_on.set_value(std::this_thread::get_id());
            }
        }));
    }
    auto worker = ran_on.get_future().get();
    CHECK(worker != std::this_thread::get_id());
    std::lock_guard<std::mutex> lock(mutex);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("the password pool refuses a job that would wait longer than allowed", "[station]") {
    // Two workers, jobs assumed to take 1 s until one has run, at most 1.5 s of waiting.
    PasswordPool pool(2, 1500ms, 1s);
    Gate gate;
    std::atomic<int> done{0};
    auto job = [&] {
        gate.wait();
        ++done;
    };
    CHECK(pool.expected_wait() == PasswordPool::Clock::duration::zero());
    REQUIRE(pool.submit(job));
    REQUIRE(pool.submit(job));  // both workers busy now
    gate.wait_for_waiters(2);
    CHECK(pool.expected_wait() == 500ms);  // the third would start after half a job (of 2)
    REQUIRE(pool.submit(job));
    REQUIRE(pool.submit(job));
    CHECK(pool.queued() == 2);
    CHECK(pool.expected_wait() == 1500ms);
    REQUIRE(pool.submit(job));               // at the limit: taken
    CHECK_FALSE(pool.submit([] { FAIL("a refused job ran"); }));  // beyond it: dropped
    CHECK(pool.queued() == 3);
    gate.open();
    while (done.load() < 5) {
        std::this_thread::yield();
    }
    // Jobs that measured next to nothing bring the estimate down: the queue takes more again.
    CHECK(pool.expected_wait() < 1500ms);
}

TEST_CASE("a password pool being destroyed waits for the job running", "[station]") {
    Gate gate;
    std::atomic<int> ran{0};
    std::thread opener;
    {
        PasswordPool pool(1, 10s);
        REQUIRE(pool.submit([&] {
            gate.wait();
            ++ran;
        }));
        REQUIRE(pool.submit([&] { ++ran; }));
        gate.wait_for_waiters(1);
        // The first job is running: let it finish while the pool is being destroyed.
        opener = std::thread([&] { gate.open(); });
    }
    opener.join();
    // The running job finished before the destructor returned; the queued one may or may not
    // have started, depending on when the gate opened.
    CHECK(ran.load() >= 1);
}
