#include "ocpp/rpc_state.hpp"

#include <algorithm>

namespace ocpp {

bool RpcState::RecentIds::contains(const MessageId& id) const {
    return find(std::hash<MessageId>{}(id), id);
}

bool RpcState::RecentIds::find(std::size_t hash, const MessageId& id) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return e.hash == hash && e.id == id; });
}

void RpcState::RecentIds::remember(const MessageId& id, std::size_t capacity) {
    const std::size_t hash = std::hash<MessageId>{}(id);
    if (capacity == 0 || find(hash, id)) {
        return;
    }
    Entry entry{hash, id};
    if (entries_.size() < capacity) {
        entries_.push_back(std::move(entry));
        return;
    }
    entries_[oldest_] = std::move(entry);
    oldest_ = (oldest_ + 1) % entries_.size();
}

RpcState::Incoming RpcState::on_incoming_call(const MessageId& id) {
    if (std::find(incoming_.begin(), incoming_.end(), id) != incoming_.end()) {
        return Incoming::duplicate_in_flight;
    }
    if (incoming_.size() >= limits_.max_incoming_in_flight) {
        return Incoming::too_many_in_flight;
    }
    incoming_.push_back(id);
    return completed_incoming_.contains(id) ? Incoming::retry : Incoming::accepted;
}

bool RpcState::complete_incoming(const MessageId& id) {
    const auto it = std::find(incoming_.begin(), incoming_.end(), id);
    if (it == incoming_.end()) {
        return false;
    }
    incoming_.erase(it);
    completed_incoming_.remember(id, limits_.remembered_ids);
    return true;
}

RpcState::Outgoing RpcState::begin_outgoing(const MessageId& id, std::string action,
                                            TimePoint deadline) {
    if (outgoing_) {
        return Outgoing::busy;
    }
    outgoing_ = Outstanding{id, std::move(action), deadline};
    return Outgoing::started;
}

RpcState::Response RpcState::on_response(const MessageId& id) {
    if (outgoing_ && outgoing_->id == id) {
        Response r{Response::Kind::matched, std::move(outgoing_->action)};
        outgoing_.reset();
        return r;
    }
    if (expired_outgoing_.contains(id)) {
        return {Response::Kind::late, {}};
    }
    return {Response::Kind::unknown, {}};
}

std::optional<std::pair<MessageId, std::string>> RpcState::expire(TimePoint now) {
    if (!outgoing_ || outgoing_->deadline > now) {
        return std::nullopt;
    }
    std::pair<MessageId, std::string> timed_out{outgoing_->id, std::move(outgoing_->action)};
    expired_outgoing_.remember(outgoing_->id, limits_.remembered_ids);
    outgoing_.reset();
    return timed_out;
}

std::optional<RpcState::TimePoint> RpcState::next_deadline() const {
    if (!outgoing_) {
        return std::nullopt;
    }
    return outgoing_->deadline;
}

}  // namespace ocpp
