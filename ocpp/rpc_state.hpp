#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ocpp/types.hpp"

namespace ocpp {

/// RPC bookkeeping of one connection, as pure logic: the caller passes the time in, so tests
/// drive it with a fake clock. Not thread-safe; a session owns one and uses it on its strand.
///
///   station ──CALL(id)──▶ on_incoming_call ─▶ accept ─ … publish, ack … ─▶ complete_incoming
///   station ◀─CALL(id)── begin_outgoing ─────────────▶ on_response(id) ─▶ matched / unknown
///                              └─ deadline passes ─▶ expire(now) ─▶ timed out (late answers
///                                                     are recognised and dropped)
class RpcState {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;

    struct Limits {
        /// CALLs from the station not yet answered. OCPP allows one; a station that timed out
        /// on its side may send the next before we answer, so a few are tolerated and served
        /// in order.
        std::size_t max_incoming_in_flight = 4;
        /// Completed or expired ids remembered, to tell a retry or a late answer from garbage.
        std::size_t remembered_ids = 32;
    };

    enum class Incoming : std::uint8_t {
        accepted,           ///< a new CALL
        retry,              ///< the id of an already answered CALL: serve it again (idempotent)
        duplicate_in_flight,///< the id of a CALL still in flight: answer with a CALLERROR
        too_many_in_flight, ///< over the limit: answer with a CALLERROR
    };

    enum class Outgoing : std::uint8_t {
        started,  ///< the CALL may be sent now
        busy,     ///< another of ours is outstanding: queue it
    };

    struct Response {
        enum class Kind : std::uint8_t {
            matched,  ///< answers our outstanding CALL; `action` says which
            late,     ///< answers a CALL of ours that already timed out
            unknown,  ///< answers nothing we sent
        };
        Kind kind;
        std::string action;
    };

    RpcState() : RpcState(Limits{}) {}
    explicit RpcState(Limits limits) : limits_(limits) {}

    Incoming on_incoming_call(const MessageId& id);
    /// The CALL `id` was answered (result or error). Returns false when it was not in flight.
    bool complete_incoming(const MessageId& id);
    std::size_t incoming_in_flight() const { return incoming_.size(); }

    /// Starts our CALL `id` for `action`, to be answered by `deadline`.
    Outgoing begin_outgoing(const MessageId& id, std::string action, TimePoint deadline);
    /// A CALLRESULT or CALLERROR with `id` arrived.
    Response on_response(const MessageId& id);
    /// Our outstanding CALL, when its deadline is at or before `now`, is timed out and
    /// returned (id, action); it is forgotten except as a late id.
    std::optional<std::pair<MessageId, std::string>> expire(TimePoint now);
    /// When the outstanding CALL of ours times out, if there is one.
    std::optional<TimePoint> next_deadline() const;
    bool outgoing_busy() const { return outgoing_.has_value(); }

private:
    struct Outstanding {
        MessageId id;
        std::string action;
        TimePoint deadline;
    };

    /// The last ids seen, up to a capacity; once full, the oldest is overwritten. Each is kept
    /// with its hash, so that looking up a new id (the usual case) compares no text.
    class RecentIds {
    public:
        bool contains(const MessageId& id) const;
        /// Remembers `id` unless it already is (one hash for both).
        void remember(const MessageId& id, std::size_t capacity);

    private:
        bool find(std::size_t hash, const MessageId& id) const;

        struct Entry {
            std::size_t hash;
            MessageId id;
        };
        // A vector, not a deque: a connection holds one RpcState for as long as it is open,
        // and an empty std::deque already allocates over half a kilobyte (idle memory).
        std::vector<Entry> entries_;
        std::size_t oldest_ = 0;  // the entry the next id replaces once the capacity is reached
    };

    Limits limits_;
    std::vector<MessageId> incoming_;
    RecentIds completed_incoming_;
    std::optional<Outstanding> outgoing_;
    RecentIds expired_outgoing_;
};

}  // namespace ocpp
