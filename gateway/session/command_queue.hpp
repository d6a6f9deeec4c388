#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "kafka_bridge/commands.hpp"
#include "ocpp/rpc_state.hpp"

namespace gateway::session {

/// The operator commands of one session, as pure state: FIFO, at most `limit` waiting, one
/// CALL outstanding. The outstanding CALL is the session's RpcState outgoing call; this
/// queue only remembers which command it belongs to. Not thread-safe (the session's I/O thread).
///
///   push ─▶ waiting ─▶ next_to_send ─▶ sent(id) ─▶ outstanding ─┬─ answered(id) ─▶ result
///                 └─ expired before sending ─▶ Expired          ├─ expire(now)  ─▶ Timeout
///                                                               └─ take_all()   ─▶ closed
class CommandQueue {
public:
    using TimePoint = ocpp::RpcState::TimePoint;

    struct Outstanding {
        kafka_bridge::Command command;
        ocpp::MessageId message_id;
        std::string sent_at;  ///< RFC 3339
    };

    CommandQueue(ocpp::RpcState& rpc, std::size_t limit) : rpc_(rpc), limit_(limit) {}

    /// Queues `command`; false (nothing queued) when `limit` commands are already waiting.
    bool push(kafka_bridge::Command command);
    std::size_t waiting() const { return waiting_.size(); }
    std::size_t limit() const { return limit_; }

    /// The next waiting command, when no CALL of ours is outstanding; it leaves the queue.
    std::optional<kafka_bridge::Command> next_to_send();
    /// The CALL `id` for `command` was written at `now` (answer due `now + timeout`).
    void sent(kafka_bridge::Command command, ocpp::MessageId id, std::string sent_at,
              TimePoint now);

    /// A CALLRESULT or CALLERROR arrived: the outstanding command when it answers it. The
    /// RpcState's verdict is in `kind` (late, unknown) otherwise.
    std::optional<Outstanding> answered(const ocpp::MessageId& id,
                                        ocpp::RpcState::Response::Kind& kind);
    /// The outstanding command when its deadline is at or before `now` (it is timed out).
    std::optional<Outstanding> expire(TimePoint now);
    /// When the outstanding CALL times out, if there is one.
    std::optional<TimePoint> deadline() const { return rpc_.next_deadline(); }
    const Outstanding* outstanding() const { return outstanding_ ? &*outstanding_ : nullptr; }

    /// The connection ended: the outstanding command (if any) and every waiting one, in order.
    struct Left {
        std::optional<Outstanding> outstanding;
        std::vector<kafka_bridge::Command> waiting;
    };
    Left take_all();

private:
    ocpp::RpcState& rpc_;
    std::size_t limit_;
    std::list<kafka_bridge::Command> waiting_;  // not a deque: an empty one allocates (idle memory)
    std::optional<Outstanding> outstanding_;
};

}  // namespace gateway::session
