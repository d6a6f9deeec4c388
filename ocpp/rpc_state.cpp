#include "ocpp/rpc_state.hpp"

#include <algorithm>

namespace ocpp {

bool RpcState::contains(const std::vector<MessageId>& ids, const MessageId& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void RpcState::remember(std::vector<MessageId>& ids, MessageId id) const {
    if (limits_.remembered_ids == 0) {
        return;
    }
    if (ids.size() >= limits_.remembered_ids) {
        ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(ids.size() - limits_.remembered_ids + 1));
    }
    ids.push_back(std::move(id));
}

RpcState::Incoming RpcState::on_incoming_call(const MessageId& id) {
    if (std::find(incoming_.begin(), incoming_.end(), id) != incoming_.end()) {
        return Incoming::duplicate_in_flight;
    }
    if (incoming_.size() >= limits_.max_incoming_in_flight) {
        return Incoming::too_many_in_flight;
    }
    incoming_.push_back(id);
    return contains(completed_incoming_, id) ? Incoming::retry : Incoming::accepted;
}

bool RpcState::complete_incoming(const MessageId& id) {
    const auto it = std::find(incoming_.begin(), incoming_.end(), id);
    if (it == incoming_.end()) {
        return false;
    }
    incoming_.erase(it);
    if (!contains(completed_incoming_, id)) {
        remember(completed_incoming_, id);
    }
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
    if (contains(expired_outgoing_, id)) {
        return {Response::Kind::late, {}};
    }
    return {Response::Kind::unknown, {}};
}

std::optional<std::pair<MessageId, std::string>> RpcState::expire(TimePoint now) {
    if (!outgoing_ || outgoing_->deadline > now) {
        return std::nullopt;
    }
    std::pair<MessageId, std::string> timed_out{outgoing_->id, std::move(outgoing_->action)};
    remember(expired_outgoing_, outgoing_->id);
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
