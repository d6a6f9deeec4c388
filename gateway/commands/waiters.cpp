#include "gateway/commands/waiters.hpp"

#include <algorithm>

namespace gateway::commands {

std::uint64_t Waiters::add(const std::string& command_id, Clock::time_point deadline,
                           Callback callback) {
    const std::uint64_t number = ++next_number_;
    waiting_[command_id].push_back(Waiter{deadline, std::move(callback), number});
    return number;
}

void Waiters::remove(const std::string& command_id, std::uint64_t number) {
    const auto it = waiting_.find(command_id);
    if (it == waiting_.end()) {
        return;
    }
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [number](const Waiter& w) { return w.number == number; }),
               list.end());
    if (list.empty()) {
        waiting_.erase(it);
    }
}

std::vector<Waiters::Callback> Waiters::take(const std::string& command_id) {
    std::vector<Callback> out;
    const auto it = waiting_.find(command_id);
    if (it == waiting_.end()) {
        return out;
    }
    for (auto& w : it->second) {
        out.push_back(std::move(w.callback));
    }
    waiting_.erase(it);
    return out;
}

std::vector<Waiters::Callback> Waiters::take_expired(Clock::time_point now) {
    std::vector<Callback> out;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        auto& list = it->second;
        for (auto w = list.begin(); w != list.end();) {
            if (w->deadline <= now) {
                out.push_back(std::move(w->callback));
                w = list.erase(w);
            } else {
                ++w;
            }
        }
        it = list.empty() ? waiting_.erase(it) : std::next(it);
    }
    return out;
}

std::vector<Waiters::Callback> Waiters::take_all() {
    std::vector<Callback> out;
    for (auto& [id, list] : waiting_) {
        for (auto& w : list) {
            out.push_back(std::move(w.callback));
        }
    }
    waiting_.clear();
    return out;
}

}  // namespace gateway::commands
