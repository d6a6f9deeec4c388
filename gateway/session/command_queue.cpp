#include "gateway/session/command_queue.hpp"

#include <iterator>

namespace gateway::session {

bool CommandQueue::push(kafka_bridge::Command command) {
    if (waiting_.size() >= limit_) {
        return false;
    }
    waiting_.push_back(std::move(command));
    return true;
}

std::optional<kafka_bridge::Command> CommandQueue::next_to_send() {
    if (outstanding_ || rpc_.outgoing_busy() || waiting_.empty()) {
        return std::nullopt;
    }
    kafka_bridge::Command next = std::move(waiting_.front());
    waiting_.pop_front();
    return next;
}

void CommandQueue::sent(kafka_bridge::Command command, ocpp::MessageId id, std::string sent_at,
                        TimePoint now) {
    rpc_.begin_outgoing(id, command.action, now + command.timeout);
    outstanding_ = Outstanding{std::move(command), std::move(id), std::move(sent_at)};
}

std::optional<CommandQueue::Outstanding> CommandQueue::answered(
    const ocpp::MessageId& id, ocpp::RpcState::Response::Kind& kind) {
    kind = rpc_.on_response(id).kind;
    if (kind != ocpp::RpcState::Response::Kind::matched || !outstanding_) {
        return std::nullopt;
    }
    auto done = std::move(outstanding_);
    outstanding_.reset();
    return done;
}

std::optional<CommandQueue::Outstanding> CommandQueue::expire(TimePoint now) {
    if (!outstanding_ || !rpc_.expire(now)) {
        return std::nullopt;
    }
    auto done = std::move(outstanding_);
    outstanding_.reset();
    return done;
}

CommandQueue::Left CommandQueue::take_all() {
    Left left{std::move(outstanding_),
              {std::make_move_iterator(waiting_.begin()), std::make_move_iterator(waiting_.end())}};
    outstanding_.reset();
    waiting_.clear();
    return left;
}

}  // namespace gateway::session
