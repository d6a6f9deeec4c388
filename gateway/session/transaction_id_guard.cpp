#include "gateway/session/transaction_id_guard.hpp"

#include "gateway/log/log.hpp"

namespace gateway::session {
namespace {

void raise(std::atomic<std::int64_t>& value, std::int64_t to) {
    std::int64_t now = value.load();
    while (now < to && !value.compare_exchange_weak(now, to)) {
    }
}

}  // namespace

TransactionIdGuard::Verdict TransactionIdGuard::admit(std::int64_t id,
                                                      std::chrono::steady_clock::time_point now) {
    std::int64_t floor = given_.load();
    while (!suspended_.load() && id > floor) {
        if (given_.compare_exchange_weak(floor, id)) {
            refusing_ = false;
            return Verdict{true, false, floor};
        }
    }
    if (!refusing_.exchange(true)) {
        raise(given_, floor + kMargin);
    }
    behind_.store(true);
    Verdict refused{false, false, floor};
    const auto warned = warned_.load();
    if (warned == kNever ||
        now - std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(warned)) >=
            std::chrono::minutes(1)) {
        warned_.store(now.time_since_epoch().count());
        refused.log = true;
    }
    return refused;
}

void TransactionIdGuard::resume_past(std::int64_t end) {
    raise(given_, end);
    suspended_.store(false);
}

bool TransactionIdGuard::admit_logged(std::int64_t id, std::string_view topic) {
    const auto verdict = admit(id, std::chrono::steady_clock::now());
    if (verdict.log) {
        log::error("{} gave offset {}, but transaction ids up to {} may have been given before{}: "
                   "refused; 1.6 StartTransaction is answered InternalError until this instance "
                   "has moved the topic on",
                   topic, id - 1, verdict.floor, suspended() ? " (the topic was created again)" : "");
    }
    return verdict.given;
}

}  // namespace gateway::session
