#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/decisions/token_table.hpp"

namespace gateway::decisions {

/// Ask mode (README "Authorization and boot decisions"): a token question written to the
/// request topic, waiting for the operator's decision on the decision topic.
///
///   session thread:  add(id, cb) ─▶ produce request ─▶ timer(deadline) ─┐
///   tables thread:   decision record ─▶ answer(id, entry) ─▶ cb(entry)   │ whichever
///   session thread:  timer fires ─▶ expire(id) ─▶ cb(nothing)  ◀─────────┘ comes first
///
/// Every instance reads every decision; one that asked nothing under its id ignores it, so
/// the decision may be written to any partition. Each callback runs exactly once.
class AskTable {
public:
    /// Called once with the operator's decision, or nothing when none came in time.
    using Callback = std::function<void(std::optional<TokenEntry>)>;

    /// Waits for the decision on `request_id` (a fresh UUID).
    void add(const std::string& request_id, Callback callback);
    /// A decision record arrived: runs the waiting callback (on the calling thread), if any.
    /// Returns whether anyone here was waiting.
    bool answer(const std::string& request_id, TokenEntry decision);
    /// The deadline passed: runs the callback with nothing, unless the decision came first.
    void expire(const std::string& request_id);
    /// Asks still waiting.
    std::size_t waiting() const;

private:
    std::optional<Callback> take(const std::string& request_id);

    mutable std::mutex mutex_;
    std::unordered_map<std::string, Callback> waiting_;
};

/// What a decision record says: `{"requestId", "status", and optionally the token entry's
/// members}` (schemas/events/authorization-decision.schema.json).
struct DecisionRecord {
    std::string request_id;
    TokenEntry entry;
};
/// Reads a decision record; the problem in words when it is unusable.
std::optional<std::string> parse_decision(const std::string& value, DecisionRecord& out);

/// The question the gateway asks (schemas/events/authorization-request.schema.json), as JSON
/// text.
struct AskRequest {
    std::string request_id;
    std::string station_id;
    std::string gateway_id;
    std::string session_id;
    std::string ocpp_version;
    std::string action;
    std::string message_id;
    std::string id_token;
    std::string type;  ///< empty for a 1.6 idTag
    /// The token's entry in the table, when it has one (`status`), for the operator's view.
    std::optional<std::string> table_status;
    std::string requested_at;
    std::string deadline;
};
std::string request_record(const AskRequest& r);

}  // namespace gateway::decisions
