#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace gateway::session {

/// Which OCPP 1.6 transaction ids a tenant's sessions may give. An id is the offset + 1 of a
/// record on the single-partition transaction-id topic; that topic deleted and created again
/// starts at offset 0, and its ids would repeat those already given (app/transaction_ids.hpp
/// moves such a topic on). The guard remembers the last id given and refuses any id at or
/// below it.
///
///   delivery thread:  admit(id) ─▶ given / refused (behind set, the floor raised once by kMargin)
///   serve thread:     take_behind() ─▶ move the topic on ─▶ resume_past(end)
///                     topic seen recreated ─▶ suspend() … ─▶ resume_past(end)
class TransactionIdGuard {
public:
    /// How far past the largest id known a topic found behind is moved, and how far a guard
    /// that refused an id raises its floor: ids other instances gave that this one has not
    /// seen, and those given while the topic was read.
    static constexpr std::int64_t kMargin = 10'000;

    /// Every id up to `given` may have been given (the topic's end offset at start-up).
    void start(std::int64_t given) { given_.store(given); }

    struct Verdict {
        bool given = false;
        /// A refusal to log: the first of a minute.
        bool log = false;
        /// The floor the id was held against.
        std::int64_t floor = 0;
    };
    /// Whether `id`, just delivered, may be given. Called on the one thread that serves the
    /// tenant's delivery reports, which come in offset order. A refusal marks the guard
    /// behind and, the first time in a row, raises its floor by kMargin: another instance may
    /// have given ids above the last one this instance saw.
    Verdict admit(std::int64_t id, std::chrono::steady_clock::time_point now);
    /// admit() now, a refusal logged as an error naming the id topic `topic`. Whether `id` may
    /// be given.
    bool admit_logged(std::int64_t id, std::string_view topic);

    /// Refuses every id until resume_past() (the topic was seen created again).
    void suspend() { suspended_.store(true); }
    /// Ids up to `end` may have been given, and no others are refused (the topic was moved on
    /// to `end`).
    void resume_past(std::int64_t end);
    /// Whether an id was refused since the last call.
    bool take_behind() { return behind_.exchange(false); }
    std::int64_t given() const { return given_.load(); }
    bool suspended() const { return suspended_.load(); }

private:
    std::atomic<std::int64_t> given_{0};
    std::atomic<bool> suspended_{false};
    std::atomic<bool> behind_{false};
    // Written by the delivery thread (atomic all the same: a drain's flush serves reports on
    // a second thread for a moment).
    std::atomic<bool> refusing_{false};
    static constexpr std::chrono::steady_clock::rep kNever = -1;
    std::atomic<std::chrono::steady_clock::rep> warned_{kNever};  ///< when a refusal was logged
};

}  // namespace gateway::session
